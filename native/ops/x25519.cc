#include "ops/x25519.h"

#include <sodium.h>

#include <string>

namespace ss {

bool x25519Public(const uint8_t* sk, uint8_t* pk, Err* err) {
  if (crypto_scalarmult_base(pk, sk) != 0) return err->set(Code::Internal, "X25519 public key computation failed");
  burnStack();
  return true;
}

bool x25519Shared(const uint8_t* sk, In peer, uint8_t* shared, Err* err) {
  if (peer.n != crypto_scalarmult_BYTES) {
    return err->set(Code::InvalidArgument, "an X25519 public key is 32 bytes; got " + std::to_string(peer.n));
  }
  int rc = crypto_scalarmult(shared, sk, peer.p);
  burnStack();
  if (rc != 0) {
    sodium_memzero(shared, crypto_scalarmult_BYTES);
    return err->set(Code::WeakPublicKey,
                    "X25519 with this public key gives an all-zero shared secret (a low-order point): rejected");
  }
  return true;
}

}  // namespace ss
