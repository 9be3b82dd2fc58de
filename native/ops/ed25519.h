// Ed25519 (RFC 8032) with libsodium. A key slot holds the 32-byte seed; the
// 64-byte expanded secret (seed || public key, from which libsodium hashes the
// scalar and nonce prefix) is rebuilt for each call in arena scratch and wiped.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/common.h"

namespace ss {

constexpr size_t kEd25519Seed = 32, kEd25519Public = 32, kEd25519Signature = 64, kEd25519Expanded = 64;

// `work` is kEd25519Expanded bytes of arena scratch.
bool ed25519Public(const uint8_t* seed, uint8_t* pub, uint8_t* work, Err* err);
bool ed25519Sign(const uint8_t* seed, In msg, uint8_t* sig, uint8_t* work, Err* err);

}  // namespace ss
