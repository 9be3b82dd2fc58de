#include "ops/common.h"

#include <alloca.h>
#include <errno.h>
#include <sodium.h>
#include <sys/random.h>

namespace ss {

// Zeroes inline: a call to memset or sodium_memzero would push its own frame below
// the area just wiped. (The optimize attribute keeps GCC from turning the loop into one.)
__attribute__((noinline, optimize("no-tree-loop-distribute-patterns"))) void burnStack(size_t bytes) {
  size_t words = (bytes + 7) / 8;
  // alloca places the area right below this frame: the frames the primitives used.
  uint64_t* pad = static_cast<uint64_t*>(alloca(words * 8));
#if defined(__x86_64__)
  __asm__ __volatile__("rep stosq" : "+D"(pad), "+c"(words) : "a"(uint64_t{0}) : "memory");
#else
  for (size_t i = 0; i < words; i++) pad[i] = 0;
  __asm__ __volatile__("" : : "r"(pad) : "memory");
#endif
}

bool fillRandom(uint8_t* out, size_t n, Err* err) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(out + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSYS) {  // very old kernel or filtered: libsodium's own source
        randombytes_buf(out + done, n - done);
        return true;
      }
      return err->set(Code::Internal, "getrandom failed: " + errnoText(errno));
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace ss
