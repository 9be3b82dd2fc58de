// SHA-256 / SHA-512 engines for HMAC and HKDF. libsodium 1.0.18's SHA-2 is
// portable C; the Node binary that loads us exports OpenSSL's SHA-2, which uses
// the CPU's SHA instructions (SHA-NI, ARMv8 SHA2). We use the host's functions
// when they are present and pass a known-answer test, else libsodium. Either
// way the hash state lives in memory the caller provides (the arena's scratch
// area): neither engine allocates.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ss {

struct HashImpl {
  const char* engine;  // "openssl (host)" or "libsodium"
  size_t block;        // 64 or 128
  size_t out;          // 32 or 64
  size_t ctx;          // bytes of the engine's hash state (<= kHashCtxBytes): what is copied and wiped
  void (*init)(void* ctx);
  void (*update)(void* ctx, const uint8_t* p, size_t n);
  void (*final)(void* ctx, uint8_t* out);
};

constexpr size_t kHashCtxBytes = 256;  // >= sizeof SHA512_CTX (216) and libsodium's state (208)

struct HashSet {
  const HashImpl* sha256;
  const HashImpl* sha512;
  // Stack to burn after an HMAC/HKDF operation with each hash (measured once per process: ops/common.h).
  size_t burn256;
  size_t burn512;
  size_t burn(bool sha256) const { return sha256 ? burn256 : burn512; }
};

// The host engine if usable (resolved once per process), else libsodium.
const HashSet& hostOrSodium();
const HashSet& sodiumOnly();

}  // namespace ss
