#include "ops/jose.h"

#include <sodium.h>

#include <cstring>

namespace ss {

bool concatKdfSha256(const HashSet& hs, In z, In otherInfo, uint8_t* out, size_t outLen, uint8_t* scratch, Err* err) {
  if (outLen == 0 || outLen > 64 * 32) return err->set(Code::InvalidArgument, "Concat KDF output must be 1 to 2048 bytes");
  const HashImpl& H = *hs.sha256;
  uint8_t* ctx = scratch;
  uint8_t* digest = scratch + kHashCtxBytes;
  size_t done = 0;
  for (uint32_t counter = 1; done < outLen; counter++) {
    const uint8_t be[4] = {static_cast<uint8_t>(counter >> 24), static_cast<uint8_t>(counter >> 16),
                           static_cast<uint8_t>(counter >> 8), static_cast<uint8_t>(counter)};
    H.init(ctx);
    H.update(ctx, be, 4);
    H.update(ctx, z.p, z.n);
    H.update(ctx, otherInfo.p, otherInfo.n);
    H.final(ctx, digest);
    const size_t take = outLen - done < 32 ? outLen - done : 32;
    std::memcpy(out + done, digest, take);
    done += take;
  }
  sodium_memzero(scratch, kHashCtxBytes + 32);
  burnStack();
  return true;
}

}  // namespace ss
