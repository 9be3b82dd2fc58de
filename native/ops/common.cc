#include "ops/common.h"

#include <errno.h>
#include <sodium.h>
#include <sys/random.h>

namespace ss {

__attribute__((noinline)) void burnStack() {
  volatile unsigned char pad[2048];
  sodium_memzero(const_cast<unsigned char*>(pad), sizeof pad);
  __asm__ __volatile__("" : : "r"(pad) : "memory");
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
