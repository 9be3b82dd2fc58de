// NIST P-256 / P-384 private-key operations on BearSSL 0.6 (static libbearssl.a).
//
// Why BearSSL (measured against the host Node's OpenSSL, see SECURITY.md "EC"):
//  - Constant time by construction: br_ec_p256_m31 (P-256) and br_ec_prime_i31
//    (P-384) use fixed windows with constant-time table lookups (every entry is
//    read and masked), no secret-dependent branches or memory indices; ECDSA's
//    scalar inverse is a Fermat exponentiation (br_i31_modpow) of fixed length.
//  - No dynamic allocation: every context is a local of the called function or
//    a buffer we pass, so secrets are only in the arena (the key slot, the
//    scratch area) or on the stack, which we wipe after each call (burnEcStack).
//  - OpenSSL through the host's exported symbols would keep EC_KEY/BIGNUM
//    secrets in OpenSSL's heap (malloc), outside the guarded arena.
//
// ECDSA nonces are deterministic (RFC 6979): br_ecdsa_i31_sign_raw seeds an
// HMAC_DRBG (with the signature's hash function) with x || bits2octets(h) and
// draws k until 0 < k < n, exactly RFC 6979 section 3.2. A fault cannot bias a
// nonce through a bad RNG; the tests recompute the nonce independently.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/common.h"

namespace ss {

enum class Curve { P256 = 0, P384 = 1 };

constexpr size_t kEcMaxScalar = 48;
constexpr size_t kEcMaxSeed = 56;    // nlen/8 + 8 for P-384 (FIPS 186-5 A.2.1)
constexpr size_t kEcMaxPoint = 97;   // uncompressed SEC1 point for P-384
constexpr size_t kEcdsaMaxDer = 104; // DER signature for P-384

const char* curveName(Curve c);
size_t ecScalarLen(Curve c);  // 32 / 48
size_t ecSeedLen(Curve c);    // 40 / 56: the bytes FIPS 186-5 A.2.1 reduces into a scalar
size_t ecPointLen(Curve c);   // 65 / 97 (0x04 || X || Y)

// FIPS 186-5 A.2.1: d = (c mod (n - 1)) + 1 for a seedLen-byte big-endian c.
// Constant time: fixed-width limbs, every bit of c processed the same way.
void ecScalarFromSeed(Curve curve, const uint8_t* c, uint8_t* d);
// 1 <= d <= n - 1, computed without secret-dependent branches.
bool ecScalarValid(Curve curve, const uint8_t* d);

// Uncompressed public point d*G into `pub` (ecPointLen bytes).
bool ecPublic(Curve curve, const uint8_t* d, uint8_t* pub, Err* err);
// ECDSA over the SHA-256 (P-256) / SHA-384 (P-384) hash of msg. der: ASN.1 DER, else
// IEEE P1363 r || s. `sig` has room for kEcdsaMaxDer bytes; *sigLen receives the length.
bool ecdsaSign(Curve curve, const uint8_t* d, In msg, bool der, uint8_t* sig, size_t* sigLen, Err* err);
// ECDH: the x-coordinate of d * peer into `shared` (ecScalarLen bytes). The peer
// point is an uncompressed SEC1 point; it is copied to `work` (kEcMaxPoint bytes of
// arena scratch), checked to lie on the curve, multiplied there and wiped.
bool ecdhShared(Curve curve, const uint8_t* d, In peer, uint8_t* shared, uint8_t* work, Err* err);

// Zeroes the stack the EC calls above used (their big-integer and DRBG locals).
void burnEcStack();

}  // namespace ss
