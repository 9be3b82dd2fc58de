// AEAD: XChaCha20-Poly1305, ChaCha20-Poly1305 (IETF) and AES-256-GCM from libsodium.
// Subkeys and key schedules live in the caller's scratch area.
#pragma once
#include "ops/common.h"

namespace ss {

enum class Aead { XChaCha20Poly1305 = 0, ChaCha20Poly1305 = 1, Aes256Gcm = 2 };

const char* aeadName(Aead a);
size_t aeadNonceLen(Aead a);
constexpr size_t kAeadKeyLen = 32;
constexpr size_t kAeadTagLen = 16;

bool aeadAvailable(Aead a);
bool aeadCheck(Aead a, size_t keyLen, size_t nonceLen, Err* err);
bool aeadSeal(Aead a, const uint8_t* key, In nonce, In msg, In aad, uint8_t* out, uint8_t* scratch, Err* err);
bool aeadOpen(Aead a, const uint8_t* key, In nonce, In ct, In aad, uint8_t* out, uint8_t* scratch, Err* err);

}  // namespace ss
