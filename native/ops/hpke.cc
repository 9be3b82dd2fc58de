#include "ops/hpke.h"

#include <sodium.h>

#include <cstring>

#include "ops/ec.h"

namespace ss {

void hpkeNonce(const uint8_t* baseNonce, uint64_t seq, uint8_t* nonce) {
  std::memcpy(nonce, baseNonce, kHpkeNonceLen);
  for (size_t i = 0; i < 8; i++) nonce[kHpkeNonceLen - 1 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
}

bool hpkeDeriveP256(const HashSet& hs, const uint8_t* prk, size_t prkLen, In candidatePrefix, uint8_t* sk,
                    uint8_t* work, uint8_t* scratch, Err* err) {
  if (candidatePrefix.n + 1 > kHpkeMaxLabel) return err->set(Code::InvalidArgument, "HPKE label too long");
  uint8_t info[kHpkeMaxLabel];  // public: I2OSP(32, 2) || "HPKE-v1" || suite_id || "candidate" || counter
  std::memcpy(info, candidatePrefix.p, candidatePrefix.n);
  // Rejection sampling leaks only how many candidates were rejected (public in the RFC's
  // construction: each is independent of the accepted one). The range check itself is
  // constant time (ecScalarValid).
  for (unsigned counter = 0; counter < 256; counter++) {
    info[candidatePrefix.n] = static_cast<uint8_t>(counter);
    if (!hkdfExpand(hs, Hash::Sha256, prk, prkLen, In{info, candidatePrefix.n + 1}, work, 32, scratch, err)) {
      sodium_memzero(work, 32);
      return false;
    }
    work[0] &= 0xff;  // the bitmask of P-256 (RFC 9180 Table 2): no bit cleared
    if (ecScalarValid(Curve::P256, work)) {
      std::memcpy(sk, work, 32);
      sodium_memzero(work, 32);
      return true;
    }
  }
  sodium_memzero(work, 32);
  return err->set(Code::Internal, "HPKE DeriveKeyPair: no valid P-256 scalar in 256 candidates");
}

}  // namespace ss
