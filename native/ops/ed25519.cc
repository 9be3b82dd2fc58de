#include "ops/ed25519.h"

#include <sodium.h>

#include "ops/ec.h"  // burnEcStack

namespace ss {

bool ed25519Public(const uint8_t* seed, uint8_t* pub, uint8_t* work, Err* err) {
  int rc = crypto_sign_seed_keypair(pub, work, seed);
  sodium_memzero(work, kEd25519Expanded);
  burnEcStack();
  if (rc != 0) return err->set(Code::Internal, "Ed25519 public key computation failed");
  return true;
}

bool ed25519Sign(const uint8_t* seed, In msg, uint8_t* sig, uint8_t* work, Err* err) {
  uint8_t pub[kEd25519Public];
  int rc = crypto_sign_seed_keypair(pub, work, seed);
  if (rc == 0) rc = crypto_sign_detached(sig, nullptr, msg.p, msg.n, work);
  sodium_memzero(work, kEd25519Expanded);
  burnEcStack();  // libsodium zeroes its hashed scalar and nonce; this catches spilled registers
  if (rc != 0) return err->set(Code::Internal, "Ed25519 signing failed");
  return true;
}

}  // namespace ss
