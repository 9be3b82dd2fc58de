// AES-128-GCM and AES-256-GCM (NIST SP 800-38D, 96-bit nonces, 128-bit tags) on
// x86_64 and arm64, with the implementation picked at run time:
//
//   aes-ni+pclmul  x86_64 with AES-NI and PCLMULQDQ: BearSSL's aes_x86ni CTR and
//                  ghash_pclmul (CPUID checked by BearSSL's *_get functions);
//   armv8-ce       arm64 with the ARMv8 Crypto Extensions AES and PMULL
//                  (getauxval(AT_HWCAP)): our own code, ops/aes_gcm_armv8.cc;
//   bearssl-ct64   everywhere else, or when forced: BearSSL's bitsliced aes_ct64
//                  CTR and ghash_ctmul64.
//
// All three are constant time: no branch and no memory index depends on the key,
// the hash key H or the data (see SECURITY.md, "AES-GCM"). There is deliberately no
// table-based AES: its S-box lookups leak the key through the cache.
//
// The GCM state (BearSSL's br_gcm_context: H, J0, the GHASH accumulator, a
// keystream block) and the cipher's round keys are placed in the caller's scratch
// area (the arena) and zeroed before every function here returns; stack
// temporaries are scrubbed.
#pragma once
#include <cstddef>
#include <cstdint>

#include "errors.h"

namespace ss {

enum class AesGcmImpl { AesNiPclmul = 0, ArmV8Ce = 1, BearSslCt64 = 2 };

struct AesGcmEngine;  // a CTR class + a GHASH function (opaque; see aes_gcm.cc)

// The fastest constant-time engine this CPU supports (decided once per process).
const AesGcmEngine& aesGcmBest();
// The portable constant-time engine (BearSSL ct64 + ctmul64), always available.
const AesGcmEngine& aesGcmPortable();
AesGcmImpl aesGcmImpl(const AesGcmEngine& e);
// 'aes-ni+pclmul', 'armv8-ce' or 'bearssl-ct64'.
const char* aesGcmImplName(const AesGcmEngine& e);

constexpr size_t kAesGcmNonceLen = 12;
constexpr size_t kAesGcmTagLen = 16;
// Scratch bytes the engine state takes (round keys, then the GCM context).
constexpr size_t kAesGcmScratchBytes = 768;
// SP 800-38D: at most 2^39 - 256 bits of plaintext per nonce.
constexpr uint64_t kAesGcmMaxMessage = (uint64_t{1} << 36) - 32;

// True for the key lengths AES-GCM takes here (16: AES-128, 32: AES-256).
inline bool aesGcmKeyLenOk(size_t n) { return n == 16 || n == 32; }

// out receives msgLen bytes of ciphertext, then the 16-byte tag. out may equal msg.
bool aesGcmSeal(const AesGcmEngine& e, const uint8_t* key, size_t keyLen, const uint8_t* nonce, const uint8_t* msg,
                size_t msgLen, const uint8_t* aad, size_t aadLen, uint8_t* out, uint8_t* scratch, Err* err);
// ct is ciphertext || tag (ctLen >= 16); out receives ctLen - 16 bytes, zeroed when
// the tag does not match (AuthenticationFailed). out may equal ct.
bool aesGcmOpen(const AesGcmEngine& e, const uint8_t* key, size_t keyLen, const uint8_t* nonce, const uint8_t* ct,
                size_t ctLen, const uint8_t* aad, size_t aadLen, uint8_t* out, uint8_t* scratch, Err* err);

}  // namespace ss
