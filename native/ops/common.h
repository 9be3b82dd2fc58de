// Shared by every operation family in ops/: the byte-range type the families
// take their inputs as, stack scrubbing and the random source.
//
// ops/ is the only code that reads or writes key bytes. Every intermediate
// (PRK, HMAC state, XChaCha subkey, AES key schedule) lives in the instance's
// scratch slot inside the arena (arena.h: kScratchBytes) and is zeroed after use.
// One family per file; a new family is a new ops/<family>.{h,cc} that includes
// this header and nothing of the other families.
#pragma once
#include <cstddef>
#include <cstdint>

#include "errors.h"

namespace ss {

struct In {
  const uint8_t* p = nullptr;
  size_t n = 0;
};

// Scrubs `bytes` of the stack below the caller: libsodium wipes its own
// temporaries, this catches spilled registers and the frames of the primitives
// an operation called. It zeroes inline (no call of its own leaves a frame below).
//
// The hot families burn what their primitives were measured to use on this CPU
// with this engine (ops/stack.h deepestStackUse, once per process, at every 64-byte
// stack alignment: the host OpenSSL's AVX2 SHA-512 aligns its frame to 2 KiB and
// reaches up to ~3.5 KiB, its SHA-NI SHA-256 ~170 bytes, libsodium's ChaCha20-Poly1305
// ~2.3 KiB), plus kBurnMargin for the frames between the operation and the
// primitive. test/stack-burn.test.ts proves an operation leaves nothing below its
// own frame. (The fixed 2 KiB burn this replaced left the SHA-512 frames behind.)
constexpr size_t kBurnDefault = 2048;  // families not measured (x25519, jose)
constexpr size_t kBurnMargin = 512;
constexpr size_t kBurnMax = 32 * 1024;
void burnStack(size_t bytes = kBurnDefault);
// The burn for a primitive measured to reach `measured` bytes below its caller.
inline size_t burnFor(size_t measured) {
  size_t n = (measured + kBurnMargin + 255) & ~static_cast<size_t>(255);
  return n > kBurnMax ? kBurnMax : n;
}

bool fillRandom(uint8_t* out, size_t n, Err* err);

}  // namespace ss
