// Stack residue of ops/aes_gcm (run by test/aes-gcm.test.ts, natively and for arm64 under
// qemu): after aesGcmSeal/aesGcmOpen return, the stack below the caller must hold neither
// H nor any AES round key, and the engines must write no deeper than the 4 KiB that
// aes_gcm.cc scrubs. Positive control: BearSSL's ct64 key schedule called directly (no
// scrub) leaves the round keys on the stack, and this scan finds them.
//
//   aes-gcm-stack best|portable   -> one JSON line
#include <bearssl/bearssl_block.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "ops/aes_gcm.h"

using namespace ss;

static constexpr size_t kPaint = 64 * 1024;

__attribute__((noinline)) static void paint() {
  volatile unsigned char pad[kPaint];
  for (size_t i = 0; i < kPaint; i++) pad[i] = 0xA5;
  __asm__ __volatile__("" : : "r"(pad) : "memory");
}

// Bytes written below the caller since paint(), and whether any needle is there.
__attribute__((noinline)) static size_t scan(const uint8_t (*needles)[16], size_t n, int* hits) {
  volatile unsigned char pad[kPaint];
  __asm__ __volatile__("" : : "r"(pad) : "memory");
  static unsigned char copy[kPaint];
  for (size_t i = 0; i < kPaint; i++) copy[i] = pad[i];
  size_t untouched = 0;
  while (untouched < kPaint && copy[untouched] == 0xA5) untouched++;  // lowest address first
  *hits = 0;
  for (size_t k = 0; k < n; k++) {
    for (size_t i = 0; i + 16 <= kPaint; i++) {
      if (std::memcmp(copy + i, needles[k], 16) == 0) {
        (*hits)++;
        break;
      }
    }
  }
  return kPaint - untouched;
}

// Test-only reference AES key expansion (FIPS 197), S-box from its definition.
static uint8_t gmul(uint8_t a, uint8_t b) {
  uint8_t r = 0;
  for (; b; b >>= 1, a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1b : 0))) r ^= (b & 1) ? a : 0;
  return r;
}
static uint8_t sbox(uint8_t x) {
  uint8_t inv = 0;
  for (int y = 1; y < 256 && x; y++) inv = gmul(x, static_cast<uint8_t>(y)) == 1 ? static_cast<uint8_t>(y) : inv;
  uint8_t v = inv;
  for (int i = 1; i < 5; i++) v ^= static_cast<uint8_t>((inv << i) | (inv >> (8 - i)));
  return v ^ 0x63;
}
static size_t expand(const uint8_t* key, size_t len, uint8_t (*rk)[16]) {
  const size_t nk = len / 4, rounds = nk + 6;
  uint8_t w[240];
  std::memcpy(w, key, len);
  uint8_t rcon = 1;
  for (size_t i = nk; i < 4 * (rounds + 1); i++) {
    uint8_t t[4];
    std::memcpy(t, w + 4 * (i - 1), 4);
    if (i % nk == 0) {
      uint8_t t0 = t[0];
      t[0] = sbox(t[1]) ^ rcon, t[1] = sbox(t[2]), t[2] = sbox(t[3]), t[3] = sbox(t0);
      rcon = gmul(rcon, 2);
    } else if (nk > 6 && i % nk == 4) {
      for (auto& b : t) b = sbox(b);
    }
    for (int j = 0; j < 4; j++) w[4 * i + j] = w[4 * (i - nk) + j] ^ t[j];
  }
  std::memcpy(rk, w, 16 * (rounds + 1));
  return rounds + 1;
}

int main(int argc, char** argv) {
  const bool portable = argc > 1 && std::string(argv[1]) == "portable";
  const AesGcmEngine& e = portable ? aesGcmPortable() : aesGcmBest();
  alignas(64) static uint8_t scratch[1536];
  static uint8_t msg[4096 + 16], out[4096 + 16];
  const uint8_t nonce[12] = {1, 2, 3};
  std::printf("{\"engine\":\"%s\"", aesGcmImplName(e));
  int fails = 0;
  for (size_t len : {16, 32}) {
    uint8_t key[32];
    for (size_t i = 0; i < len; i++) key[i] = static_cast<uint8_t>(0x3c + 7 * i);
    uint8_t needles[16][16];
    const size_t nrk = expand(key, len, needles + 1);
    // H = AES_K(0^128): the CTR keystream of IV 0, counter 0.
    br_aes_ct64_ctr_keys ct;
    br_aes_ct64_ctr_init(&ct, key, len);
    std::memset(needles[0], 0, 16);
    br_aes_ct64_ctr_run(&ct, needles[0], 0, needles[0], 16);
    // H, then the round keys past the key itself (the key's own blocks are in this frame, above the scan).
    const size_t first = len / 16;  // needles[1 + j] is round key j
    std::memcpy(needles[first], needles[0], 16);
    uint8_t(*secrets)[16] = needles + first;
    const size_t count = 1 + nrk - first;

    Err err;
    int hits = 0;
    paint();
    br_aes_ct64_ctr_init(&ct, key, len);  // positive control: BearSSL alone scrubs nothing
    const size_t controlDepth = scan(secrets, count, &hits);
    const int controlHits = hits;

    paint();
    bool ok = aesGcmSeal(e, key, len, nonce, msg, 4096, msg, 100, out, scratch, &err);
    const size_t sealDepth = scan(secrets, count, &hits);
    const int sealHits = hits;
    paint();
    ok = ok && aesGcmOpen(e, key, len, nonce, out, 4096 + 16, msg, 100, msg, scratch, &err);
    const size_t openDepth = scan(secrets, count, &hits);
    const int openHits = hits;
    for (size_t i = 0; i < sizeof scratch; i++) fails += scratch[i] != 0;
    fails += !ok || sealHits || openHits || controlHits == 0;
    std::printf(",\"aes%zu\":{\"secrets\":%zu,\"controlHits\":%d,\"controlDepth\":%zu,\"sealHits\":%d,\"sealDepth\":%zu,"
                "\"openHits\":%d,\"openDepth\":%zu,\"ok\":%s}",
                len * 8, count, controlHits, controlDepth, sealHits, sealDepth, openHits, openDepth, ok ? "true" : "false");
  }
  std::printf(",\"fails\":%d}\n", fails);
  return fails ? 1 : 0;
}
