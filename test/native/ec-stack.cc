// Measures how deep the EC and Ed25519 operations write into the stack, so that
// burnEcStack() (native/ops/ec.cc) is known to wipe all of it, and checks the
// FIPS 186-5 A.2.1 reduction on edge seeds. Built and run by test/ec-stack.test.ts;
// prints one line per measurement and "ok" or "FAIL" last.
#include <bearssl.h>
#include <sodium.h>

#include <cstdio>
#include <cstring>

#include "ops/ec.h"
#include "ops/ed25519.h"

using namespace ss;

static constexpr size_t kPaint = 64 * 1024;

__attribute__((noinline)) static void paint() {
  volatile unsigned char pad[kPaint];
  for (size_t i = 0; i < kPaint; i++) pad[i] = 0xA5;
  __asm__ __volatile__("" : : "r"(pad) : "memory");
}

__attribute__((noinline)) static size_t depth() {
  volatile unsigned char pad[kPaint];
  __asm__ __volatile__("" : : "r"(pad) : "memory");
  size_t i = 0;
  while (i < kPaint && pad[i] == 0xA5) i++;  // lowest address first: untouched bytes
  return kPaint - i;
}

template <typename F>
static size_t measure(F f) {
  paint();
  f();
  return depth();
}

int main() {
  if (sodium_init() < 0) return 1;
  uint8_t d[48], pub[97], sig[104], work[128], shared[48], seed[56];
  Err err;
  int fails = 0;
  for (Curve c : {Curve::P256, Curve::P384}) {
    std::memset(seed, 0xFF, sizeof seed);
    ecScalarFromSeed(c, seed, d);
    if (!ecScalarValid(c, d)) fails++;
    std::memset(seed, 0, sizeof seed);
    ecScalarFromSeed(c, seed, d);  // c = 0 -> d = 1
    for (size_t i = 0; i + 1 < ecScalarLen(c); i++) fails += d[i] != 0;
    fails += d[ecScalarLen(c) - 1] != 1;
    // c = n - 1 -> d = 1; c = n - 2 -> d = n - 1; c = 2(n - 1) + 5 -> d = 6 (the order from BearSSL's table).
    size_t olen = 0;
    const unsigned char* order = (c == Curve::P256 ? &br_ec_p256_m31 : &br_ec_prime_i31)->order(c == Curve::P256 ? BR_EC_secp256r1 : BR_EC_secp384r1, &olen);
    const size_t slen = ecSeedLen(c);
    auto seedOf = [&](unsigned sub, bool twice, unsigned add) {
      std::memset(seed, 0, sizeof seed);
      // big-endian (n - sub) * (twice ? 2 : 1) + add, in the low olen + 1 bytes of the seedLen-byte c
      unsigned borrow = sub, carry = 0;
      uint8_t v[64] = {0};
      for (size_t i = olen; i-- > 0;) {
        int x = order[i] - static_cast<int>(borrow);
        borrow = x < 0;
        v[i + 1] = static_cast<uint8_t>(x + (x < 0 ? 256 : 0));
      }
      if (twice) {
        for (size_t i = olen + 1; i-- > 0;) {
          unsigned x = v[i] * 2u + carry;
          v[i] = static_cast<uint8_t>(x);
          carry = x >> 8;
        }
      }
      carry = add;
      for (size_t i = olen + 1; i-- > 0 && carry;) {
        unsigned x = v[i] + carry;
        v[i] = static_cast<uint8_t>(x);
        carry = x >> 8;
      }
      std::memcpy(seed + slen - (olen + 1), v, olen + 1);
    };
    auto isSmall = [&](unsigned want) {
      for (size_t i = 0; i + 1 < ecScalarLen(c); i++) if (d[i]) return false;
      return d[ecScalarLen(c) - 1] == want;
    };
    seedOf(1, false, 0);
    ecScalarFromSeed(c, seed, d);
    fails += !isSmall(1);
    seedOf(2, false, 0);
    ecScalarFromSeed(c, seed, d);
    uint8_t nm1[48];
    std::memcpy(nm1, order, olen);
    nm1[olen - 1] -= 1;
    fails += std::memcmp(d, nm1, olen) != 0;
    fails += !ecScalarValid(c, d);
    seedOf(1, true, 5);
    ecScalarFromSeed(c, seed, d);
    fails += !isSmall(6);
    fails += ecScalarValid(c, order);  // n itself is out of range
    randombytes_buf(seed, sizeof seed);
    ecScalarFromSeed(c, seed, d);
    size_t n = 0;
    // The library calls themselves (the wrappers end with burnEcStack, which would mask them).
    const br_ec_impl* impl = c == Curve::P256 ? &br_ec_p256_m31 : &br_ec_prime_i31;
    const int id = c == Curve::P256 ? BR_EC_secp256r1 : BR_EC_secp384r1;
    const br_hash_class* hf = c == Curve::P256 ? &br_sha256_vtable : &br_sha384_vtable;
    br_ec_private_key sk{id, d, ecScalarLen(c)};
    size_t a = measure([&] { impl->mulgen(pub, d, ecScalarLen(c), id); });
    size_t b = measure([&] { n = br_ecdsa_i31_sign_asn1(impl, hf, seed, &sk, sig); });
    size_t e = measure([&] { std::memcpy(work, pub, ecPointLen(c)); impl->mul(work, ecPointLen(c), d, ecScalarLen(c), id); });
    std::printf("%s stack bytes: public %zu, sign %zu, ecdh %zu\n", curveName(c), a, b, e);
    fails += !ecPublic(c, d, pub, &err) || !ecdsaSign(c, d, In{seed, 10}, true, sig, &n, &err) ||
             !ecdhShared(c, d, In{pub, ecPointLen(c)}, shared, work, &err);
  }
  uint8_t pk[32];
  crypto_sign_seed_keypair(pk, work, seed);
  size_t f = measure([&] { crypto_sign_detached(sig, nullptr, seed, 10, work); });
  std::printf("Ed25519 sign stack bytes: %zu\n", f);
  std::printf("%s\n", fails ? "FAIL" : "ok");
  return fails ? 1 : 0;
}
