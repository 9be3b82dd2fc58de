// HKDF (RFC 5869) and HMAC over the SHA-2 engines of ops/sha2.h. The hash and
// HMAC states live in the caller's scratch area (the arena's scratch slot).
#pragma once
#include "ops/common.h"
#include "ops/sha2.h"

namespace ss {

enum class Hash { Sha256 = 0, Sha512 = 1 };

size_t hashLen(Hash h);

// Scratch bytes [0, kScratchAfterHmac) are the HMAC area every HKDF/HMAC call
// wipes before returning; a caller may keep a PRK right after it (bindings/hkdf.cc).
constexpr size_t kScratchAfterHmac = 1280;

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

}  // namespace ss
