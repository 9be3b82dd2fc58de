// AES-GCM: BearSSL's GCM driver (br_gcm_*) over one of three constant-time
// engines (ops/aes_gcm.h). Why BearSSL: its GCM driver, AES-NI/PCLMUL code and
// bitsliced ct64/ctmul64 code are small, reviewed, constant time by design, and
// allocate nothing: every context is a struct we place, here in the arena's
// scratch area. BearSSL has no ARMv8 AES, so that engine is ours
// (ops/aes_gcm_armv8.cc) and plugs into the same two interfaces.
#include "ops/aes_gcm.h"

#include <bearssl/bearssl_aead.h>
#include <bearssl/bearssl_block.h>
#include <bearssl/bearssl_hash.h>
#include <sodium.h>

#include <cstring>
#include <string>

#include "arena.h"  // kScratchBytes
#include "ops/aes_gcm_armv8.h"
#include "ops/common.h"  // burnStack

namespace ss {

struct AesGcmEngine {
  AesGcmImpl impl;
  const char* name;
  const br_block_ctr_class* ctr;
  br_ghash ghash;
};

// Scratch layout: the CTR engine's round keys at 0 (vtable pointer first), the
// GCM context (H, J0, GHASH accumulator, keystream block) after them.
constexpr size_t kKeysArea = 512;
constexpr size_t kGcmArea = kKeysArea;
static_assert(sizeof(br_aes_ct64_ctr_keys) <= kKeysArea, "ct64 keys do not fit");
static_assert(sizeof(br_aes_x86ni_ctr_keys) <= kKeysArea, "x86ni keys do not fit");
static_assert(kGcmArea + sizeof(br_gcm_context) <= kAesGcmScratchBytes, "GCM context does not fit");
static_assert(kAesGcmScratchBytes <= kScratchBytes, "the arena scratch area is smaller than AES-GCM needs");

const AesGcmEngine& aesGcmPortable() {
  static const AesGcmEngine portable{AesGcmImpl::BearSslCt64, "bearssl-ct64", &br_aes_ct64_ctr_vtable,
                                     &br_ghash_ctmul64};
  return portable;
}

static AesGcmEngine detect() {
#if defined(__x86_64__)
  // BearSSL's *_get functions check CPUID (AES-NI, PCLMULQDQ, SSE4.1) and return null without them.
  const br_block_ctr_class* ni = br_aes_x86ni_ctr_get_vtable();
  br_ghash pclmul = br_ghash_pclmul_get();
  if (ni && pclmul) return AesGcmEngine{AesGcmImpl::AesNiPclmul, "aes-ni+pclmul", ni, pclmul};
#endif
  const br_block_ctr_class* ce = armv8CtrClass();
  br_ghash pmull = armv8Ghash();
  if (ce && pmull) return AesGcmEngine{AesGcmImpl::ArmV8Ce, "armv8-ce", ce, pmull};
  return aesGcmPortable();
}

const AesGcmEngine& aesGcmBest() {
  static const AesGcmEngine best = detect();
  return best;
}

AesGcmImpl aesGcmImpl(const AesGcmEngine& e) { return e.impl; }
const char* aesGcmImplName(const AesGcmEngine& e) { return e.name; }

// Scrubs the stack the engines used below the caller: BearSSL's ct64 CTR expands
// the bitsliced round keys into a ~1 KiB local array, and the SIMD engines may
// spill round keys and powers of H. 4 KiB covers the deepest call chain here
// (burnStack zeroes inline, so no frame of its own is left below; test/stack-burn.test.ts).
static void scrubStack() { burnStack(4096); }

static const uint8_t kNothing[1] = {0};
static const uint8_t* nonNull(const uint8_t* p) { return p ? p : kNothing; }

static bool checkArgs(size_t keyLen, size_t dataLen, Err* err) {
  if (!aesGcmKeyLenOk(keyLen)) {
    return err->set(Code::InvalidArgument,
                    "AES-GCM needs a 16-byte (AES-128) or 32-byte (AES-256) key; got " + std::to_string(keyLen));
  }
  if (static_cast<uint64_t>(dataLen) > kAesGcmMaxMessage) {
    return err->set(Code::InvalidArgument, "AES-GCM encrypts at most 2^36 - 32 bytes under one nonce");
  }
  return true;
}

// Expands the key, derives H and J0 and absorbs the AAD: all in scratch.
static br_gcm_context* start(const AesGcmEngine& e, const uint8_t* key, size_t keyLen, const uint8_t* nonce,
                             const uint8_t* aad, size_t aadLen, uint8_t* scratch) {
  auto** keys = reinterpret_cast<const br_block_ctr_class**>(scratch);
  e.ctr->init(keys, key, keyLen);
  auto* gcm = reinterpret_cast<br_gcm_context*>(scratch + kGcmArea);
  br_gcm_init(gcm, keys, e.ghash);
  br_gcm_reset(gcm, nonce, kAesGcmNonceLen);
  br_gcm_aad_inject(gcm, nonNull(aad), aadLen);
  br_gcm_flip(gcm);
  return gcm;
}

static void finish(uint8_t* scratch) {
  sodium_memzero(scratch, kAesGcmScratchBytes);
  scrubStack();
}

bool aesGcmSeal(const AesGcmEngine& e, const uint8_t* key, size_t keyLen, const uint8_t* nonce, const uint8_t* msg,
                size_t msgLen, const uint8_t* aad, size_t aadLen, uint8_t* out, uint8_t* scratch, Err* err) {
  if (!checkArgs(keyLen, msgLen, err)) return false;
  br_gcm_context* gcm = start(e, key, keyLen, nonce, aad, aadLen, scratch);
  if (msgLen) std::memmove(out, msg, msgLen);  // BearSSL encrypts in place
  br_gcm_run(gcm, 1, msgLen ? out : const_cast<uint8_t*>(kNothing), msgLen);
  br_gcm_get_tag(gcm, out + msgLen);
  finish(scratch);
  return true;
}

bool aesGcmOpen(const AesGcmEngine& e, const uint8_t* key, size_t keyLen, const uint8_t* nonce, const uint8_t* ct,
                size_t ctLen, const uint8_t* aad, size_t aadLen, uint8_t* out, uint8_t* scratch, Err* err) {
  if (ctLen < kAesGcmTagLen) {
    return err->set(Code::AuthenticationFailed, "ciphertext is shorter than the 16-byte authentication tag");
  }
  const size_t len = ctLen - kAesGcmTagLen;
  if (!checkArgs(keyLen, len, err)) return false;
  // The tag is read before `out` is written: out may alias ct, and the tag sits after the bytes written.
  br_gcm_context* gcm = start(e, key, keyLen, nonce, aad, aadLen, scratch);
  if (len) std::memmove(out, ct, len);
  br_gcm_run(gcm, 0, len ? out : const_cast<uint8_t*>(kNothing), len);
  // Constant-time comparison of the whole 16-byte tag.
  const bool valid = br_gcm_check_tag(gcm, ct + len) == 1;
  finish(scratch);
  if (!valid) {
    if (len) sodium_memzero(out, len);
    return err->set(Code::AuthenticationFailed,
                    "decryption failed: the ciphertext, tag, nonce, key or associated data do not match");
  }
  return true;
}

}  // namespace ss
