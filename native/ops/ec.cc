#include "ops/ec.h"

#include <bearssl.h>
#include <sodium.h>

#include <cstring>

namespace ss {

namespace {

struct CurveDef {
  int id;                  // BearSSL curve identifier
  const br_ec_impl* impl;  // constant-time implementation for this curve
  size_t scalar, seed, point;
};

const CurveDef& def(Curve c) {
  // P-256: BearSSL's specialised 31-bit-limb code; P-384: its generic constant-time i31 code.
  static const CurveDef p256{BR_EC_secp256r1, &br_ec_p256_m31, 32, 40, 65};
  static const CurveDef p384{BR_EC_secp384r1, &br_ec_prime_i31, 48, 56, 97};
  return c == Curve::P256 ? p256 : p384;
}

constexpr size_t kMaxLimbs = kEcMaxScalar / 4;  // 12 x 32-bit limbs hold a P-384 scalar

// The curve order n as little-endian 32-bit limbs (public data from BearSSL's curve table).
size_t orderLimbs(const CurveDef& cd, uint32_t* n) {
  size_t len = 0;
  const unsigned char* be = cd.impl->order(cd.id, &len);
  const size_t limbs = len / 4;
  for (size_t i = 0; i < limbs; i++) {
    const unsigned char* p = be + len - 4 * (i + 1);
    n[i] = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
  }
  return limbs;
}

}  // namespace

const char* curveName(Curve c) { return c == Curve::P256 ? "P-256" : "P-384"; }
size_t ecScalarLen(Curve c) { return def(c).scalar; }
size_t ecSeedLen(Curve c) { return def(c).seed; }
size_t ecPointLen(Curve c) { return def(c).point; }

void burnEcStack() {
  // Well beyond the deepest call above: test/native/ec-stack.cc measured 5.7 KiB
  // for P-256 ECDSA signing (x64, -O2), under 3 KiB for the rest and 1.8 KiB for Ed25519.
  // (burnStack zeroes inline: no frame of its own is left below the area.)
  burnStack(16384);
}

void ecScalarFromSeed(Curve curve, const uint8_t* c, uint8_t* d) {
  const CurveDef& cd = def(curve);
  uint32_t m[kMaxLimbs] = {0};
  const size_t L = orderLimbs(cd, m);
  m[0] -= 1;  // m = n - 1 (n is odd: no borrow)
  // r = c mod m by binary long division: r = 2r + bit, then subtract m when r >= m,
  // selected with a mask. Every bit costs the same operations whatever its value.
  uint32_t r[kMaxLimbs + 1] = {0}, t[kMaxLimbs + 1];
  const size_t bits = cd.seed * 8;
  for (size_t i = 0; i < bits; i++) {
    uint32_t carry = (c[i >> 3] >> (7 - (i & 7))) & 1u;
    for (size_t k = 0; k <= L; k++) {
      uint32_t top = r[k] >> 31;
      r[k] = (r[k] << 1) | carry;
      carry = top;
    }
    uint32_t borrow = 0;
    for (size_t k = 0; k <= L; k++) {
      uint64_t diff = uint64_t{r[k]} - (k < L ? m[k] : 0u) - borrow;
      t[k] = static_cast<uint32_t>(diff);
      borrow = static_cast<uint32_t>(diff >> 63);
    }
    const uint32_t take = borrow - 1u;  // all ones when r >= m
    for (size_t k = 0; k <= L; k++) r[k] = (t[k] & take) | (r[k] & ~take);
  }
  // d = r + 1 < n: fits in L limbs.
  uint32_t carry = 1;
  for (size_t k = 0; k < L; k++) {
    uint64_t s = uint64_t{r[k]} + carry;
    r[k] = static_cast<uint32_t>(s);
    carry = static_cast<uint32_t>(s >> 32);
  }
  for (size_t k = 0; k < L; k++) {
    uint8_t* p = d + cd.scalar - 4 * (k + 1);
    p[0] = static_cast<uint8_t>(r[k] >> 24);
    p[1] = static_cast<uint8_t>(r[k] >> 16);
    p[2] = static_cast<uint8_t>(r[k] >> 8);
    p[3] = static_cast<uint8_t>(r[k]);
  }
  sodium_memzero(r, sizeof r);
  sodium_memzero(t, sizeof t);
}

bool ecScalarValid(Curve curve, const uint8_t* d) {
  const CurveDef& cd = def(curve);
  size_t len = 0;
  const unsigned char* n = cd.impl->order(cd.id, &len);
  uint32_t borrow = 0, any = 0;
  for (size_t i = len; i-- > 0;) {
    uint32_t diff = uint32_t{d[i]} - n[i] - borrow;
    borrow = (diff >> 31) & 1u;
    any |= d[i];
  }
  // borrow: d < n; any: d != 0. Only the verdict (public) is branched on.
  return (borrow & static_cast<uint32_t>(any != 0)) == 1;
}

bool ecPublic(Curve curve, const uint8_t* d, uint8_t* pub, Err* err) {
  const CurveDef& cd = def(curve);
  size_t n = cd.impl->mulgen(pub, d, cd.scalar, cd.id);
  burnEcStack();
  if (n != cd.point) return err->set(Code::Internal, std::string(curveName(curve)) + " public key computation failed");
  return true;
}

bool ecdsaSign(Curve curve, const uint8_t* d, In msg, bool der, uint8_t* sig, size_t* sigLen, Err* err) {
  const CurveDef& cd = def(curve);
  uint8_t h[48];
  const br_hash_class* hf;
  if (curve == Curve::P256) {
    br_sha256_context hc;
    br_sha256_init(&hc);
    br_sha256_update(&hc, msg.p, msg.n);
    br_sha256_out(&hc, h);
    hf = &br_sha256_vtable;
  } else {
    br_sha384_context hc;
    br_sha384_init(&hc);
    br_sha384_update(&hc, msg.p, msg.n);
    br_sha384_out(&hc, h);
    hf = &br_sha384_vtable;
  }
  br_ec_private_key sk{cd.id, const_cast<unsigned char*>(d), cd.scalar};
  size_t n = der ? br_ecdsa_i31_sign_asn1(cd.impl, hf, h, &sk, sig) : br_ecdsa_i31_sign_raw(cd.impl, hf, h, &sk, sig);
  std::memset(&sk, 0, sizeof sk);
  burnEcStack();  // the nonce k, its inverse and the HMAC_DRBG state were BearSSL locals
  if (n == 0) return err->set(Code::Internal, std::string("ECDSA ") + curveName(curve) + " signing failed");
  *sigLen = n;
  return true;
}

bool ecdhShared(Curve curve, const uint8_t* d, In peer, uint8_t* shared, uint8_t* work, Err* err) {
  const CurveDef& cd = def(curve);
  if (peer.n != cd.point || peer.p[0] != 0x04) {
    return err->set(Code::InvalidPublicKey, std::string("an ") + curveName(curve) + " public key here is an uncompressed " +
                                                std::to_string(cd.point) + "-byte SEC1 point; got " +
                                                std::to_string(peer.n) + " bytes");
  }
  std::memcpy(work, peer.p, cd.point);
  // mul() decodes the point, rejecting coordinates >= p and points off the curve,
  // and fails on the point at infinity.
  uint32_t ok = cd.impl->mul(work, cd.point, d, cd.scalar, cd.id);
  if (ok == 1) std::memcpy(shared, work + 1, cd.scalar);
  sodium_memzero(work, cd.point);
  burnEcStack();
  if (ok != 1) {
    return err->set(Code::InvalidPublicKey,
                    std::string("the peer's ") + curveName(curve) + " public key is not a valid point on the curve");
  }
  return true;
}

}  // namespace ss
