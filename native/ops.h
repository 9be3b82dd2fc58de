// Cryptographic operations. The only code that reads or writes key bytes.
// Every intermediate (PRK, HMAC state, XChaCha subkey, AES key schedule) lives
// in the instance's scratch slot inside the arena and is zeroed after use.
#pragma once
#include <cstddef>
#include <cstdint>

#include "errors.h"
#include "sha2.h"
#include "arena.h"  // kScratchBytes
#include "ops/aes_gcm.h"

namespace ss {

enum class Hash { Sha256 = 0, Sha512 = 1 };
enum class Aead { XChaCha20Poly1305 = 0, ChaCha20Poly1305 = 1, Aes256Gcm = 2, Aes128Gcm = 3 };

struct In {
  const uint8_t* p = nullptr;
  size_t n = 0;
};


size_t hashLen(Hash h);
const char* aeadName(Aead a);
size_t aeadNonceLen(Aead a);
// 16 bytes for AES-128-GCM, 32 for the others.
size_t aeadKeyLen(Aead a);
constexpr size_t kAeadTagLen = 16;

// Scrubs the stack below the caller: libsodium wipes its own temporaries, this
// catches spilled registers of the compression functions.
void burnStack();

bool fillRandom(uint8_t* out, size_t n, Err* err);

// HKDF (RFC 5869). `ikm` is a list of parts hashed in order (no concatenated copy).
bool hkdfExtract(const HashSet& hs, Hash h, In salt, const In* ikm, size_t parts, uint8_t* prk, uint8_t* scratch, Err* err);
bool hkdfExpand(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, In info, uint8_t* out, size_t outLen,
                uint8_t* scratch, Err* err);
// Several outputs of one PRK (one per info), keying HMAC once: outs[k] receives outLen bytes for infos[k].
bool hkdfExpandMany(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, const In* infos, size_t n,
                    uint8_t* const* outs, size_t outLen, uint8_t* scratch, Err* err);

// HMAC; `tag` receives `tagLen` bytes (truncation allowed down to 16 bytes).
bool hmacSign(const HashSet& hs, Hash h, In key, In msg, uint8_t* tag, size_t tagLen, uint8_t* scratch, Err* err);
bool hmacVerify(const HashSet& hs, Hash h, In key, In msg, In tag, bool* valid, uint8_t* scratch, Err* err);

bool aeadCheck(Aead a, size_t keyLen, size_t nonceLen, Err* err);
// `aes` is the AES-GCM engine of this instance (ops/aes_gcm.h); the others ignore it.
bool aeadSeal(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In msg, In aad, uint8_t* out,
              uint8_t* scratch, Err* err);
bool aeadOpen(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In ct, In aad, uint8_t* out,
              uint8_t* scratch, Err* err);

bool x25519Public(const uint8_t* sk, uint8_t* pk, Err* err);
bool x25519Shared(const uint8_t* sk, In peer, uint8_t* shared, Err* err);

enum class Encoding { Base64 = 0, Base64Url = 1, Hex = 2 };
// Exact decoded length of a well-formed input, or false with an error.
bool decodedLength(Encoding e, In src, size_t* len, Err* err);
bool decodeInto(Encoding e, In src, uint8_t* out, size_t outLen, Err* err);

}  // namespace ss
