// JOSE key derivation that touches secrets: the Concat KDF of JWE ECDH-ES
// (RFC 7518 4.6.2, NIST SP 800-56A 5.8.1 with SHA-256). Z is the ECDH shared
// secret (a slot), OtherInfo is public; the hash state lives in arena scratch.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/common.h"
#include "ops/sha2.h"

namespace ss {

// out = the first outLen bytes of SHA-256(1 || Z || OtherInfo) || SHA-256(2 || Z || OtherInfo) || ...
// (counters as 32-bit big-endian). `scratch` needs kHashCtxBytes + 32 bytes.
bool concatKdfSha256(const HashSet& hs, In z, In otherInfo, uint8_t* out, size_t outLen, uint8_t* scratch, Err* err);

}  // namespace ss
