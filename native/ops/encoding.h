// Decoding text key material (base64, base64url, hex) straight into a slot.
#pragma once
#include "ops/common.h"

namespace ss {

enum class Encoding { Base64 = 0, Base64Url = 1, Hex = 2 };
// Exact decoded length of a well-formed input, or false with an error.
bool decodedLength(Encoding e, In src, size_t* len, Err* err);
bool decodeInto(Encoding e, In src, uint8_t* out, size_t outLen, Err* err);

}  // namespace ss
