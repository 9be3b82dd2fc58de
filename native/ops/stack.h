// Zeroing a thread's stack below a shallow frame: what the transport left there.
//
// Node's TLS read (TLSWrap::ClearOut) decrypts each record into a 16 KiB array
// on the stack of the thread that runs the event loop and never zeroes it; the
// JavaScript that consumes the response runs in frames called from inside that
// read, so nothing it calls can reach the array. A frame run by the event loop
// itself (a libuv check callback, bindings/stack.cc) sits above every read of
// the loop, and zeroes from just below itself down to a fixed depth.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/common.h"

namespace ss {

// What the transport's read path needs below the loop's own frames: libuv's
// poll (a 12 KiB epoll event array), the stream and TLS wrappers, ClearOut's
// 16 KiB array, OpenSSL's record layer under it. Measured on x64 Node 20, 22
// and 24 (test/stack-scrub.test.ts prints it): the copy ClearOut leaves lies
// about 32 KiB below the check callback's frame; 128 KiB is four times that.
constexpr size_t kStackScrubDepth = 128 * 1024;
constexpr size_t kStackScrubMaxDepth = 1024 * 1024;

// The calling thread's stack: [low, high). For the main thread `low` is how far
// the stack may grow (RLIMIT_STACK, or the mapping below it), not how far it has.
struct StackBounds {
  uintptr_t low = 0;
  uintptr_t high = 0;
};

// Reads the calling thread's stack bounds (pthread_getattr_np: for the main
// thread it reads /proc/self/maps and RLIMIT_STACK, so call it once, not per scrub).
bool threadStackBounds(StackBounds* out, Err* err);

struct StackScrub {
  size_t bytes = 0;      // zeroed
  uintptr_t sp = 0;      // the caller's frame the scrub started below
};

// Zeroes up to `depth` bytes of the stack below the caller's frame, never
// closer than kStackReserve to `bounds.low` (the guard gap, and room for the
// calls the scrub makes itself). Must be called from the frame to scrub below.
StackScrub scrubStackBelowCaller(size_t depth, const StackBounds& bounds);

// How deep a function's calls reach below the caller, and what they leave there
// (the test hook that sizes and checks each family's burnStack). Paints `depth`
// bytes below the caller with a pattern, runs fn(arg), then scans: `touched` is
// the depth of the deepest byte fn changed, `residue` the depth of the deepest
// byte left neither the pattern nor zero (0 when all is clean or untouched).
struct StackUse {
  size_t touched = 0;
  size_t residue = 0;
};
StackUse stackUseOf(void (*fn)(void*), void* arg, size_t depth);

// The deepest `touched` of fn over stack positions 128 bytes apart across 2 KiB: some
// primitives align their frame down to a large boundary (OpenSSL's AVX2 SHA-512
// to 2 KiB), so how deep they reach depends on where the caller's frame sits.
size_t deepestStackUse(void (*fn)(void*), void* arg, size_t depth);

}  // namespace ss
