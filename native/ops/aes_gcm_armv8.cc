// AES-CTR and GHASH with the ARMv8 Crypto Extensions (Graviton 2/3/4 have them),
// for BearSSL's GCM driver (ops/aes_gcm.cc). Compiled on every architecture; the
// code exists only on arm64, where it is used after getauxval(AT_HWCAP) reports
// both AES and PMULL. The functions that execute crypto instructions carry
// target("+crypto") so the rest of the addon stays plain ARMv8.0.
//
// Constant time: AESE/AESMC and PMULL are single instructions whose timing does
// not depend on their operands; there is no table anywhere (the key schedule's
// SubWord also runs on AESE), and no branch depends on secret data.
//
// GHASH works in the "bit-reflected" convention of GCM turned into the ordinary
// one: RBIT on each byte makes bit i of the little-endian 128-bit lane the
// coefficient of x^i, so a product is a plain carry-less multiplication reduced
// modulo x^128 + x^7 + x^2 + x + 1 (two PMULLs by 0x87). Four blocks share one
// reduction, with H^2..H^4 computed per call in registers.
#include "ops/aes_gcm_armv8.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

#include <cstring>

#define SS_CRYPTO __attribute__((target("+crypto")))

namespace ss {
namespace {

struct Armv8CtrKeys {
  const br_block_ctr_class* vtable;
  alignas(16) uint32_t rk[60];  // (rounds + 1) round keys of 16 bytes, FIPS 197 byte order
  unsigned rounds;
};

// SubWord through AESE with an all-zero round key: with the word in all four
// columns, ShiftRows only moves equal bytes, so lane 0 is SubBytes(word).
SS_CRYPTO inline uint32_t subWord(uint32_t w) {
  uint8x16_t v = vaeseq_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vdupq_n_u8(0));
  return vgetq_lane_u32(vreinterpretq_u32_u8(v), 0);
}

SS_CRYPTO void ctrInit(const br_block_ctr_class** ctx, const void* key, size_t keyLen) {
  auto* k = reinterpret_cast<Armv8CtrKeys*>(ctx);
  k->vtable = armv8CtrClass();
  const unsigned nk = static_cast<unsigned>(keyLen / 4);  // 4 (AES-128), 6 or 8 (AES-256)
  k->rounds = nk + 6;
  std::memcpy(k->rk, key, keyLen);
  uint32_t rcon = 1;
  for (unsigned i = nk; i < 4 * (k->rounds + 1); i++) {
    uint32_t t = k->rk[i - 1];
    if (i % nk == 0) {
      t = subWord((t >> 8) | (t << 24)) ^ rcon;  // RotWord on little-endian words
      rcon = (rcon << 1) ^ ((rcon >> 7) * 0x11b);  // public round constants
    } else if (nk > 6 && i % nk == 4) {
      t = subWord(t);
    }
    k->rk[i] = k->rk[i - nk] ^ t;
  }
}

SS_CRYPTO inline uint8x16_t roundKey(const Armv8CtrKeys* k, unsigned r) {
  return vld1q_u8(reinterpret_cast<const uint8_t*>(k->rk) + 16 * r);
}

// Counter block IV || be32(cc).
SS_CRYPTO inline uint8x16_t counterBlock(uint8x16_t iv, uint32_t cc) {
  return vreinterpretq_u8_u32(vsetq_lane_u32(__builtin_bswap32(cc), vreinterpretq_u32_u8(iv), 3));
}

SS_CRYPTO uint32_t ctrRun(const br_block_ctr_class* const* ctx, const void* ivp, uint32_t cc, void* data,
                          size_t len) {
  const auto* k = reinterpret_cast<const Armv8CtrKeys*>(ctx);
  const unsigned last = k->rounds;
  uint8_t ivBytes[16] = {0};
  std::memcpy(ivBytes, ivp, 12);
  const uint8x16_t iv = vld1q_u8(ivBytes);
  auto* p = static_cast<uint8_t*>(data);
  while (len >= 64) {
    uint8x16_t b0 = counterBlock(iv, cc), b1 = counterBlock(iv, cc + 1);
    uint8x16_t b2 = counterBlock(iv, cc + 2), b3 = counterBlock(iv, cc + 3);
    for (unsigned r = 0; r + 1 < last; r++) {
      const uint8x16_t rk = roundKey(k, r);
      b0 = vaesmcq_u8(vaeseq_u8(b0, rk));
      b1 = vaesmcq_u8(vaeseq_u8(b1, rk));
      b2 = vaesmcq_u8(vaeseq_u8(b2, rk));
      b3 = vaesmcq_u8(vaeseq_u8(b3, rk));
    }
    const uint8x16_t pen = roundKey(k, last - 1), fin = roundKey(k, last);
    b0 = veorq_u8(vaeseq_u8(b0, pen), fin);
    b1 = veorq_u8(vaeseq_u8(b1, pen), fin);
    b2 = veorq_u8(vaeseq_u8(b2, pen), fin);
    b3 = veorq_u8(vaeseq_u8(b3, pen), fin);
    vst1q_u8(p, veorq_u8(vld1q_u8(p), b0));
    vst1q_u8(p + 16, veorq_u8(vld1q_u8(p + 16), b1));
    vst1q_u8(p + 32, veorq_u8(vld1q_u8(p + 32), b2));
    vst1q_u8(p + 48, veorq_u8(vld1q_u8(p + 48), b3));
    cc += 4;
    p += 64;
    len -= 64;
  }
  while (len > 0) {
    uint8x16_t b = counterBlock(iv, cc);
    for (unsigned r = 0; r + 1 < last; r++) b = vaesmcq_u8(vaeseq_u8(b, roundKey(k, r)));
    b = veorq_u8(vaeseq_u8(b, roundKey(k, last - 1)), roundKey(k, last));
    cc++;
    if (len >= 16) {
      vst1q_u8(p, veorq_u8(vld1q_u8(p), b));
      p += 16;
      len -= 16;
    } else {  // a final partial block: the rest of the keystream is dropped
      uint8_t block[16] = {0};
      std::memcpy(block, p, len);
      vst1q_u8(block, veorq_u8(vld1q_u8(block), b));
      std::memcpy(p, block, len);
      volatile uint8_t* v = block;
      for (size_t i = 0; i < 16; i++) v[i] = 0;
      len = 0;
    }
  }
  return cc;
}

// ---- GHASH ----

struct Wide {  // an unreduced 256-bit product
  uint64x2_t lo, hi;
};

SS_CRYPTO inline uint8x16_t loadField(const uint8_t* p) { return vrbitq_u8(vld1q_u8(p)); }

SS_CRYPTO inline Wide clmul(uint8x16_t a8, uint8x16_t b8) {
  const poly64x2_t a = vreinterpretq_p64_u8(a8), b = vreinterpretq_p64_u8(b8);
  const uint64x2_t ll = vreinterpretq_u64_p128(vmull_p64(vgetq_lane_p64(a, 0), vgetq_lane_p64(b, 0)));
  const uint64x2_t hh = vreinterpretq_u64_p128(vmull_high_p64(a, b));
  const uint64x2_t m = veorq_u64(vreinterpretq_u64_p128(vmull_p64(vgetq_lane_p64(a, 0), vgetq_lane_p64(b, 1))),
                                 vreinterpretq_u64_p128(vmull_p64(vgetq_lane_p64(a, 1), vgetq_lane_p64(b, 0))));
  const uint64x2_t zero = vdupq_n_u64(0);
  return Wide{veorq_u64(ll, vextq_u64(zero, m, 1)), veorq_u64(hh, vextq_u64(m, zero, 1))};
}

SS_CRYPTO inline Wide wideXor(Wide a, Wide b) { return Wide{veorq_u64(a.lo, b.lo), veorq_u64(a.hi, b.hi)}; }

// hi * x^128 + lo  mod  x^128 + x^7 + x^2 + x + 1  (x^128 = 0x87).
SS_CRYPTO inline uint8x16_t reduce(Wide w) {
  const poly64_t poly = 0x87;
  const uint64x2_t zero = vdupq_n_u64(0);
  // x^192 * hi[1] = x^64 * (0x87 * hi[1]): at most 71 bits, straddling lo[1] and hi[0].
  const uint64x2_t t = vreinterpretq_u64_p128(vmull_p64(vgetq_lane_u64(w.hi, 1), poly));
  uint64x2_t lo = veorq_u64(w.lo, vextq_u64(zero, t, 1));
  const uint64_t h0 = vgetq_lane_u64(w.hi, 0) ^ vgetq_lane_u64(t, 1);
  lo = veorq_u64(lo, vreinterpretq_u64_p128(vmull_p64(h0, poly)));
  return vreinterpretq_u8_u64(lo);
}

SS_CRYPTO inline uint8x16_t fieldMul(uint8x16_t a, uint8x16_t b) { return reduce(clmul(a, b)); }

SS_CRYPTO void ghash(void* yp, const void* hp, const void* data, size_t len) {
  auto* y8 = static_cast<uint8_t*>(yp);
  const auto* p = static_cast<const uint8_t*>(data);
  uint8x16_t y = loadField(y8);
  const uint8x16_t h = loadField(static_cast<const uint8_t*>(hp));
  if (len >= 64) {
    const uint8x16_t h2 = fieldMul(h, h), h3 = fieldMul(h2, h), h4 = fieldMul(h3, h);
    while (len >= 64) {
      Wide acc = clmul(veorq_u8(y, loadField(p)), h4);
      acc = wideXor(acc, clmul(loadField(p + 16), h3));
      acc = wideXor(acc, clmul(loadField(p + 32), h2));
      acc = wideXor(acc, clmul(loadField(p + 48), h));
      y = reduce(acc);
      p += 64;
      len -= 64;
    }
  }
  while (len >= 16) {
    y = fieldMul(veorq_u8(y, loadField(p)), h);
    p += 16;
    len -= 16;
  }
  if (len > 0) {  // zero-padded final block
    uint8_t block[16] = {0};
    std::memcpy(block, p, len);
    y = fieldMul(veorq_u8(y, loadField(block)), h);
    volatile uint8_t* v = block;
    for (size_t i = 0; i < 16; i++) v[i] = 0;
  }
  vst1q_u8(y8, vrbitq_u8(y));
}

const br_block_ctr_class kArmv8Ctr = {sizeof(Armv8CtrKeys), 16, 4, &ctrInit, &ctrRun};

bool hasCe() {
  const unsigned long hw = getauxval(AT_HWCAP);
  return (hw & HWCAP_AES) && (hw & HWCAP_PMULL);
}

}  // namespace

const br_block_ctr_class* armv8CtrClass() { return hasCe() ? &kArmv8Ctr : nullptr; }
br_ghash armv8Ghash() { return hasCe() ? &ghash : nullptr; }

}  // namespace ss

#else  // not arm64: no ARMv8 engine

namespace ss {
const br_block_ctr_class* armv8CtrClass() { return nullptr; }
br_ghash armv8Ghash() { return nullptr; }
}  // namespace ss

#endif
