// AEAD: XChaCha20-Poly1305 and ChaCha20-Poly1305 (IETF) from libsodium; AES-256-GCM and
// AES-128-GCM from ops/aes_gcm (AES-NI, ARMv8 CE or BearSSL ct64). Subkeys and key
// schedules live in the caller's scratch area.
#pragma once
#include "ops/aes_gcm.h"
#include "ops/common.h"

namespace ss {

enum class Aead { XChaCha20Poly1305 = 0, ChaCha20Poly1305 = 1, Aes256Gcm = 2, Aes128Gcm = 3 };

const char* aeadName(Aead a);
size_t aeadNonceLen(Aead a);
// 16 bytes for AES-128-GCM, 32 for the others.
size_t aeadKeyLen(Aead a);
constexpr size_t kAeadTagLen = 16;

bool aeadCheck(Aead a, size_t keyLen, size_t nonceLen, Err* err);
// Bytes of stack the ChaCha family burns after each call (measured once; ops/common.h).
size_t chachaBurn();
// `aes` is the instance's AES-GCM engine (ops/aes_gcm.h); the ChaCha family ignores it.
bool aeadSeal(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In msg, In aad, uint8_t* out,
              uint8_t* scratch, Err* err);
bool aeadOpen(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In ct, In aad, uint8_t* out,
              uint8_t* scratch, Err* err);

}  // namespace ss
