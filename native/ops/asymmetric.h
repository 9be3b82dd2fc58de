// Private-key operations dispatched on the key's kind: the one ops/ file that sits
// above other families (ec, ed25519, x25519), so that bindings/asymmetric.cc and the
// HKDF bindings (keys derived for a private-key use) need not know the curves. Each
// writes secrets only into the slot or the arena scratch it is given and wipes the
// scratch it used.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arena.h"
#include "key-use.h"
#include "ops/common.h"
#include "ops/ec.h"
#include "ops/ed25519.h"
#include "ops/x25519.h"

namespace ss {

// Scratch layout: after HKDF's HMAC area (0..1280, ops.cc) and the PRK (1280..1344, Hkdf binding).
constexpr size_t kScratchSeed = 1344;   // EC seed c (<= 56 bytes) or Ed25519 expanded secret (64)
constexpr size_t kScratchPoint = 1408;  // an EC point being multiplied (<= 97 bytes)
static_assert(kScratchSeed + kEd25519Expanded <= kScratchPoint, "scratch layout");
static_assert(kScratchPoint + kEcMaxPoint <= kScratchBytes, "scratch too small for EC");

constexpr size_t kMaxSignature = kEcdsaMaxDer;

// Bytes of HKDF output a private key of this kind is made from: nlen/8 + 8 for the
// NIST curves (FIPS 186-5 A.2.1), the key length for X25519 and Ed25519.
size_t okmLen(KeyKind k);
// Turns okmLen(k) bytes into the private key (EC: d = (c mod (n-1)) + 1; else a copy).
void privateFromOkm(KeyKind k, const uint8_t* okm, uint8_t* key);
bool generatePrivate(KeyKind k, uint8_t* key, uint8_t* scratch, Err* err);
// Checks a raw private key (length; EC: 1 <= d <= n-1) and copies it into `key`.
bool importPrivate(KeyKind k, In src, uint8_t* key, Err* err);
bool publicFromPrivate(KeyKind k, const uint8_t* key, uint8_t* pub, uint8_t* scratch, Err* err);
bool signMessage(KeyKind k, const uint8_t* key, In msg, bool der, uint8_t* sig, size_t* sigLen, uint8_t* scratch,
                 Err* err);
// X25519 or ECDH; `shared` receives privateKeyLen(k) bytes (the x-coordinate for the NIST curves).
bool agree(KeyKind k, const uint8_t* key, In peer, uint8_t* shared, uint8_t* scratch, Err* err);

}  // namespace ss
