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

constexpr uint8_t kPaint = 0xA5;

// Paints the `n` bytes right below this frame (alloca'd, as in zeroBelowFrame) and
// returns their lowest address; the caller's next call runs over them.
__attribute__((noinline)) uint8_t* paintBelowFrame(size_t n) {
  uint8_t* area = static_cast<uint8_t*>(alloca(n));
  std::memset(area, kPaint, n);
  // Returned as a number laundered through asm: the area outlives this frame on purpose
  // (it is only read back below the caller), and the compiler must not see a local's address.
  uintptr_t addr = reinterpret_cast<uintptr_t>(area);
  __asm__ __volatile__("" : "+r"(addr) : : "memory");
  return reinterpret_cast<uint8_t*>(addr);
}

}  // namespace

__attribute__((noinline)) StackUse stackUseOf(void (*fn)(void*), void* arg, size_t depth) {
  StackUse r;
  const uintptr_t top = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  volatile uint8_t* low = paintBelowFrame(depth);
  fn(arg);
  // Scanned here, from the deepest byte up, without calling anything that would write below:
  // a word at a time to the first changed word (the area is 16-byte aligned), then bytes.
  const uintptr_t lowAddr = reinterpret_cast<uintptr_t>(low);
  const uint64_t paint64 = 0x0101010101010101ull * kPaint;
  size_t start = 0;
  while (start + 8 <= depth && *reinterpret_cast<volatile const uint64_t*>(low + start) == paint64) start += 8;
  for (size_t i = start; i < depth; i++) {
    uint8_t b = low[i];
    if (b != kPaint && r.touched == 0) r.touched = top - (lowAddr + i);
    if (b != kPaint && b != 0) {
      r.residue = top - (lowAddr + i);
      break;
    }
  }
  return r;
}

namespace {
__attribute__((noinline)) size_t stackUseAtOffset(void (*fn)(void*), void* arg, size_t depth, size_t offset) {
  uint8_t* shift = static_cast<uint8_t*>(alloca(offset + 16));
  __asm__ __volatile__("" : : "r"(shift) : "memory");
  // `touched` counts from stackUseOf's frame, which the shift moved: only the alignment changed.
  return stackUseOf(fn, arg, depth).touched;
}
}  // namespace

size_t deepestStackUse(void (*fn)(void*), void* arg, size_t depth) {
  size_t deepest = 0;
  for (size_t offset = 0; offset < 2048; offset += 128) {  // finer than the burn margin
    size_t used = stackUseAtOffset(fn, arg, depth, offset);
    if (used > deepest) deepest = used;
  }
  return deepest;
}

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
