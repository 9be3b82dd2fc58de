// X25519 (RFC 7748): public key of a private key, and shared secrets that
// reject low-order peer points.
#pragma once
#include "ops/common.h"

namespace ss {

bool x25519Public(const uint8_t* sk, uint8_t* pk, Err* err);
bool x25519Shared(const uint8_t* sk, In peer, uint8_t* shared, Err* err);

}  // namespace ss
