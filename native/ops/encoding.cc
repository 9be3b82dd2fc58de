#include "ops/encoding.h"

#include <sodium.h>

namespace ss {

static bool isB64(uint8_t c, bool url) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

bool decodedLength(Encoding e, In src, size_t* len, Err* err) {
  if (e == Encoding::Hex) {
    if (src.n % 2 != 0) return err->set(Code::InvalidArgument, "hex key material has an odd length");
    *len = src.n / 2;
    return true;
  }
  const bool url = e == Encoding::Base64Url;
  size_t n = src.n;
  size_t pad = 0;
  while (n > 0 && src.p[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  for (size_t i = 0; i < n; i++) {
    if (!isB64(src.p[i], url)) return err->set(Code::InvalidArgument, "key material is not valid base64");
  }
  if (pad > 0 && src.n % 4 != 0) return err->set(Code::InvalidArgument, "base64 key material is badly padded");
  if (!url && pad == 0 && n % 4 != 0) return err->set(Code::InvalidArgument, "base64 key material is unpadded");
  if (n % 4 == 1) return err->set(Code::InvalidArgument, "base64 key material has an impossible length");
  *len = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
  return true;
}

bool decodeInto(Encoding e, In src, uint8_t* out, size_t outLen, Err* err) {
  size_t got = 0;
  int rc;
  if (e == Encoding::Hex) {
    rc = sodium_hex2bin(out, outLen, reinterpret_cast<const char*>(src.p), src.n, nullptr, &got, nullptr);
  } else {
    int variant = e == Encoding::Base64 ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_URLSAFE;
    if (e == Encoding::Base64Url && src.n % 4 != 0 && (src.n == 0 || src.p[src.n - 1] != '=')) {
      variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    }
    rc = sodium_base642bin(out, outLen, reinterpret_cast<const char*>(src.p), src.n, nullptr, &got, nullptr, variant);
  }
  if (rc != 0 || got != outLen) {
    sodium_memzero(out, outLen);
    return err->set(Code::InvalidArgument, "key material could not be decoded");
  }
  return true;
}

}  // namespace ss
