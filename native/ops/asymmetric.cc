#include "ops/asymmetric.h"

#include <sodium.h>

#include <cstring>
#include <string>

namespace ss {

namespace {

bool curveOf(KeyKind k, Curve* c) {
  switch (k) {
    case KeyKind::EcdsaP256:
    case KeyKind::EcdhP256: *c = Curve::P256; return true;
    case KeyKind::EcdsaP384:
    case KeyKind::EcdhP384: *c = Curve::P384; return true;
    default: return false;
  }
}

}  // namespace

size_t okmLen(KeyKind k) {
  Curve c;
  return curveOf(k, &c) ? ecSeedLen(c) : privateKeyLen(k);
}

void privateFromOkm(KeyKind k, const uint8_t* okm, uint8_t* key) {
  Curve c;
  if (curveOf(k, &c)) {
    ecScalarFromSeed(c, okm, key);
  } else {
    std::memcpy(key, okm, privateKeyLen(k));
  }
}

bool generatePrivate(KeyKind k, uint8_t* key, uint8_t* scratch, Err* err) {
  Curve c;
  if (!curveOf(k, &c)) return fillRandom(key, privateKeyLen(k), err);
  // The same A.2.1 mapping as for derived keys, from random bytes (no rejection loop).
  uint8_t* seed = scratch + kScratchSeed;
  bool ok = fillRandom(seed, ecSeedLen(c), err);
  if (ok) ecScalarFromSeed(c, seed, key);
  sodium_memzero(seed, ecSeedLen(c));
  return ok;
}

bool importPrivate(KeyKind k, In src, uint8_t* key, Err* err) {
  const size_t len = privateKeyLen(k);
  if (src.n != len) {
    return err->set(Code::InvalidArgument, std::string("a raw ") + kindName(k) + " private key is " + std::to_string(len) +
                                               " bytes; got " + std::to_string(src.n));
  }
  Curve c;
  if (curveOf(k, &c) && !ecScalarValid(c, src.p)) {
    return err->set(Code::InvalidArgument, std::string("a ") + curveName(c) +
                                               " private key must be an integer from 1 to n - 1 (the curve order minus one)");
  }
  std::memcpy(key, src.p, len);
  return true;
}

bool publicFromPrivate(KeyKind k, const uint8_t* key, uint8_t* pub, uint8_t* scratch, Err* err) {
  Curve c;
  if (curveOf(k, &c)) return ecPublic(c, key, pub, err);
  if (k == KeyKind::Ed25519) return ed25519Public(key, pub, scratch + kScratchSeed, err);
  if (k == KeyKind::X25519Private) return x25519Public(key, pub, err);
  return err->set(Code::KeyUsage, std::string("a key of use '") + kindName(k) + "' has no public key");
}

bool signMessage(KeyKind k, const uint8_t* key, In msg, bool der, uint8_t* sig, size_t* sigLen, uint8_t* scratch,
                 Err* err) {
  Curve c;
  if ((k == KeyKind::EcdsaP256 || k == KeyKind::EcdsaP384) && curveOf(k, &c)) {
    return ecdsaSign(c, key, msg, der, sig, sigLen, err);
  }
  if (k == KeyKind::Ed25519) {
    *sigLen = kEd25519Signature;
    return ed25519Sign(key, msg, sig, scratch + kScratchSeed, err);
  }
  return err->set(Code::KeyUsage, std::string("sign: this key's use is '") + kindName(k) + "', not a signature use");
}

bool agree(KeyKind k, const uint8_t* key, In peer, uint8_t* shared, uint8_t* scratch, Err* err) {
  Curve c;
  if ((k == KeyKind::EcdhP256 || k == KeyKind::EcdhP384) && curveOf(k, &c)) {
    return ecdhShared(c, key, peer, shared, scratch + kScratchPoint, err);
  }
  if (k == KeyKind::X25519Private) return x25519Shared(key, peer, shared, err);
  return err->set(Code::KeyUsage, std::string("sharedSecret: this key's use is '") + kindName(k) + "', not a key-agreement use");
}

}  // namespace ss
