// Zeroing that the compiler cannot drop: memset followed by a barrier that makes
// the zeroed bytes observable (what glibc's explicit_bzero does inside). Inline,
// so the hot path pays a memset, not sodium_memzero -> __explicit_bzero_chk -> memset
// (about 15 ns a call; an invocation made some thirty of them).
#pragma once
#include <cstddef>
#include <cstring>

namespace ss {

inline void wipe(void* p, size_t n) {
  std::memset(p, 0, n);
  __asm__ __volatile__("" : : "r"(p) : "memory");
}

}  // namespace ss
