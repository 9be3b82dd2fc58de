#include "ops/common.h"

#include <alloca.h>
#include <errno.h>
#include <sodium.h>
#include <sys/random.h>

#include <cstring>

namespace ss {

// Zeroes inline, calling nothing: any call from here would push its return address below
// the area, and a first call through the PLT would run the dynamic linker's resolver,
// which saves every vector register (round keys, hash state) on the stack below
// (test/aes-gcm.test.ts caught that with memset here). The optimize attribute keeps
// GCC from turning the loop into a memset call.
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
