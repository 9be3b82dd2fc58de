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

// Scrubs the stack below the caller: libsodium wipes its own temporaries, this
// catches spilled registers of the compression functions.
void burnStack();

bool fillRandom(uint8_t* out, size_t n, Err* err);

}  // namespace ss
