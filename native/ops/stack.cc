#include "ops/stack.h"

#include <alloca.h>
#include <pthread.h>
#include <sodium.h>

#include <cstring>

namespace ss {

namespace {

// Kept free above the lowest address the stack may reach: the kernel's guard
// gap below the main thread's stack and the frames of the zeroing calls.
constexpr size_t kStackReserve = 256 * 1024;
constexpr size_t kPage = 4096;

// Zeroes the `n` bytes right below this frame: the array is placed there by
// alloca, so the region is ours while we write it. Top-down, one page at a
// time, so that a main-thread stack that never reached that deep grows page
// by page as it would under any deep call. sodium_memzero cannot be elided.
__attribute__((noinline)) size_t zeroBelowFrame(size_t n) {
  uint8_t* area = static_cast<uint8_t*>(alloca(n));
  for (size_t end = n; end > 0;) {
    size_t start = end > kPage ? end - kPage : 0;
    sodium_memzero(area + start, end - start);
    end = start;
  }
  __asm__ __volatile__("" : : "r"(area) : "memory");
  return n;
}

}  // namespace

bool threadStackBounds(StackBounds* out, Err* err) {
  pthread_attr_t attr;
  int rc = pthread_getattr_np(pthread_self(), &attr);
  if (rc != 0) return err->set(Code::Internal, "pthread_getattr_np failed: " + errnoText(rc));
  void* addr = nullptr;
  size_t size = 0;
  rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || addr == nullptr || size == 0) return err->set(Code::Internal, "the thread's stack bounds are unknown");
  out->low = reinterpret_cast<uintptr_t>(addr);
  out->high = out->low + size;
  return true;
}

__attribute__((noinline)) StackScrub scrubStackBelowCaller(size_t depth, const StackBounds& bounds) {
  StackScrub r;
  r.sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (bounds.low == 0 || r.sp <= bounds.low + kStackReserve || r.sp > bounds.high) return r;
  size_t room = r.sp - bounds.low - kStackReserve;
  size_t n = depth < room ? depth : room;
  n &= ~static_cast<size_t>(15);
  if (n > 0) r.bytes = zeroBelowFrame(n);
  return r;
}

}  // namespace ss
