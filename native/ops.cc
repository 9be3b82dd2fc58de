#include "ops.h"

#include <sodium.h>
#include <sys/random.h>
#include <errno.h>

#include <cstring>
#include <string>

namespace ss {

size_t hashLen(Hash h) { return h == Hash::Sha256 ? 32 : 64; }

const char* aeadName(Aead a) {
  switch (a) {
    case Aead::XChaCha20Poly1305: return "xchacha20-poly1305";
    case Aead::ChaCha20Poly1305: return "chacha20-poly1305";
    case Aead::Aes256Gcm: return "aes-256-gcm";
    case Aead::Aes128Gcm: return "aes-128-gcm";
  }
  return "?";
}

size_t aeadNonceLen(Aead a) { return a == Aead::XChaCha20Poly1305 ? 24 : 12; }

size_t aeadKeyLen(Aead a) { return a == Aead::Aes128Gcm ? 16 : 32; }

static bool isAesGcm(Aead a) { return a == Aead::Aes256Gcm || a == Aead::Aes128Gcm; }

__attribute__((noinline)) void burnStack() {
  volatile unsigned char pad[2048];
  sodium_memzero(const_cast<unsigned char*>(pad), sizeof pad);
  __asm__ __volatile__("" : : "r"(pad) : "memory");
}

bool fillRandom(uint8_t* out, size_t n, Err* err) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(out + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSYS) {  // very old kernel or filtered: libsodium's own source
        randombytes_buf(out + done, n - done);
        return true;
      }
      return err->set(Code::Internal, "getrandom failed: " + errnoText(errno));
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

// Scratch layout (kScratchBytes): keyed inner/outer hash states, the padded
// key block, the inner hash, a working state; HKDF's T block and PRK after them.
constexpr size_t kIctx = 0, kOctx = 256, kPad = 512, kInner = 640, kT = 768, kWork = 1024;
constexpr size_t kHmacArea = kWork + kHashCtxBytes;
static_assert(kHmacArea + 64 <= kScratchBytes, "scratch too small");  // + a PRK at kHmacArea (addon.cc)

static const HashImpl& impl(const HashSet& hs, Hash h) { return h == Hash::Sha256 ? *hs.sha256 : *hs.sha512; }

// XORs a pad byte into a block, eight bytes at a time (block sizes are multiples of 8).
static void xorPad(uint8_t* pad, size_t n, uint64_t pattern) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    std::memcpy(&w, pad + i, 8);
    w ^= pattern;
    std::memcpy(pad + i, &w, 8);
  }
}

// Keys the inner and outer states once; hmacRun() then costs two hash finals per MAC.
static void hmacKey(const HashImpl& H, In key, uint8_t* scratch) {
  uint8_t* pad = scratch + kPad;
  uint8_t* work = scratch + kWork;
  std::memset(pad, 0, H.block);
  if (key.n > H.block) {
    H.init(work);
    H.update(work, key.p, key.n);
    H.final(work, pad);
  } else if (key.n) {
    std::memcpy(pad, key.p, key.n);
  }
  xorPad(pad, H.block, 0x3636363636363636ull);
  H.init(scratch + kIctx);
  H.update(scratch + kIctx, pad, H.block);
  xorPad(pad, H.block, 0x3636363636363636ull ^ 0x5c5c5c5c5c5c5c5cull);
  H.init(scratch + kOctx);
  H.update(scratch + kOctx, pad, H.block);
  sodium_memzero(pad, H.block);
  sodium_memzero(work, kHashCtxBytes);
}

static void hmacRun(const HashImpl& H, const In* parts, size_t n, uint8_t* out, uint8_t* scratch) {
  uint8_t* work = scratch + kWork;
  uint8_t* inner = scratch + kInner;
  std::memcpy(work, scratch + kIctx, kHashCtxBytes);
  for (size_t i = 0; i < n; i++) H.update(work, parts[i].p, parts[i].n);
  H.final(work, inner);
  std::memcpy(work, scratch + kOctx, kHashCtxBytes);
  H.update(work, inner, H.out);
  H.final(work, out);
  sodium_memzero(inner, H.out);
}

static void wipeHmac(uint8_t* scratch) { sodium_memzero(scratch, kHmacArea); }

bool hkdfExtract(const HashSet& hs, Hash h, In salt, const In* ikm, size_t parts, uint8_t* prk, uint8_t* scratch, Err*) {
  // An absent salt is HashLen zero bytes, which HMAC pads to the same block as an empty key.
  const HashImpl& H = impl(hs, h);
  hmacKey(H, salt, scratch);
  hmacRun(H, ikm, parts, prk, scratch);
  wipeHmac(scratch);
  burnStack();
  return true;
}

bool hkdfExpandMany(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, const In* infos, size_t n,
                    uint8_t* const* outs, size_t outLen, uint8_t* scratch, Err* err) {
  const HashImpl& H = impl(hs, h);
  const size_t hl = H.out;
  if (outLen == 0 || outLen > 255 * hl) {
    return err->set(Code::InvalidArgument, "HKDF output length must be 1.." + std::to_string(255 * hl) +
                                               " bytes for this hash; got " + std::to_string(outLen));
  }
  if (prkLen < hl) {
    return err->set(Code::InvalidArgument, "HKDF-Expand needs a pseudorandom key of at least " +
                                               std::to_string(hl) + " bytes");
  }
  uint8_t* t = scratch + kT;
  hmacKey(H, In{prk, prkLen}, scratch);  // keyed once for every output
  for (size_t k = 0; k < n; k++) {
    size_t done = 0;
    uint8_t counter = 1;
    while (done < outLen) {
      In parts[3];
      size_t np = 0;
      if (counter > 1) parts[np++] = In{t, hl};
      parts[np++] = infos[k];
      parts[np++] = In{&counter, 1};
      hmacRun(H, parts, np, t, scratch);
      size_t take = outLen - done < hl ? outLen - done : hl;
      std::memcpy(outs[k] + done, t, take);
      done += take;
      counter++;
    }
  }
  sodium_memzero(t, hl);
  wipeHmac(scratch);
  burnStack();
  return true;
}

bool hkdfExpand(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, In info, uint8_t* out, size_t outLen,
                uint8_t* scratch, Err* err) {
  return hkdfExpandMany(hs, h, prk, prkLen, &info, 1, &out, outLen, scratch, err);
}

bool hmacSign(const HashSet& hs, Hash h, In key, In msg, uint8_t* tag, size_t tagLen, uint8_t* scratch, Err* err) {
  const size_t hl = hashLen(h);
  if (tagLen < 16 || tagLen > hl) {
    return err->set(Code::InvalidArgument,
                    "HMAC tag length must be 16.." + std::to_string(hl) + " bytes; got " + std::to_string(tagLen));
  }
  uint8_t* full = scratch + kT;
  hmacKey(impl(hs, h), key, scratch);
  hmacRun(impl(hs, h), &msg, 1, full, scratch);
  std::memcpy(tag, full, tagLen);
  sodium_memzero(full, hl);
  wipeHmac(scratch);
  burnStack();
  return true;
}

bool hmacVerify(const HashSet& hs, Hash h, In key, In msg, In tag, bool* valid, uint8_t* scratch, Err* err) {
  const size_t hl = hashLen(h);
  if (tag.n < 16 || tag.n > hl) {
    return err->set(Code::InvalidArgument,
                    "HMAC tag length must be 16.." + std::to_string(hl) + " bytes; got " + std::to_string(tag.n));
  }
  uint8_t* full = scratch + kT;
  hmacKey(impl(hs, h), key, scratch);
  hmacRun(impl(hs, h), &msg, 1, full, scratch);
  *valid = sodium_memcmp(full, tag.p, tag.n) == 0;
  sodium_memzero(full, hl);
  wipeHmac(scratch);
  burnStack();
  return true;
}

bool aeadCheck(Aead a, size_t keyLen, size_t nonceLen, Err* err) {
  if (keyLen != aeadKeyLen(a)) {
    std::string hint = a == Aead::Aes128Gcm ? " (make it with length 16, e.g. keys: { k: { use: 'aead', length: 16 } })"
                       : keyLen == 16       ? " (a 16-byte key is for aes-128-gcm)"
                                            : "";
    return err->set(Code::InvalidArgument, std::string(aeadName(a)) + " needs a " + std::to_string(aeadKeyLen(a)) +
                                               "-byte key; this key has " + std::to_string(keyLen) + " bytes" + hint);
  }
  if (nonceLen != aeadNonceLen(a)) {
    return err->set(Code::InvalidArgument, std::string(aeadName(a)) + " needs a " +
                                               std::to_string(aeadNonceLen(a)) + "-byte nonce; got " +
                                               std::to_string(nonceLen));
  }
  return true;
}

// XChaCha20-Poly1305 is ChaCha20-Poly1305 (IETF) under an HChaCha20 subkey; the
// subkey is computed here so that it lives in the arena, not on the stack.
static const uint8_t* xchachaSubkey(const uint8_t* key, In nonce, uint8_t* scratch, uint8_t* ietfNonce) {
  uint8_t* sub = scratch + kT;
  crypto_core_hchacha20(sub, nonce.p, key, nullptr);
  std::memset(ietfNonce, 0, 4);
  std::memcpy(ietfNonce + 4, nonce.p + 16, 8);
  return sub;
}

bool aeadSeal(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In msg, In aad, uint8_t* out,
              uint8_t* scratch, Err* err) {
  if (isAesGcm(a)) {
    return aesGcmSeal(aes, key, aeadKeyLen(a), nonce.p, msg.p, msg.n, aad.p, aad.n, out, scratch, err);
  }
  unsigned long long clen = 0;
  int rc = -1;
  switch (a) {
    case Aead::XChaCha20Poly1305: {
      uint8_t n12[12];
      const uint8_t* sub = xchachaSubkey(key, nonce, scratch, n12);
      rc = crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, msg.p, msg.n, aad.p, aad.n, nullptr, n12, sub);
      sodium_memzero(scratch + kT, 32);
      break;
    }
    case Aead::ChaCha20Poly1305:
      rc = crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, msg.p, msg.n, aad.p, aad.n, nullptr, nonce.p, key);
      break;
    case Aead::Aes256Gcm:
    case Aead::Aes128Gcm:
      break;  // ops/aes_gcm, above
  }
  burnStack();
  if (rc != 0) return err->set(Code::InvalidArgument, "message too long for " + std::string(aeadName(a)));
  return true;
}

bool aeadOpen(Aead a, const AesGcmEngine& aes, const uint8_t* key, In nonce, In ct, In aad, uint8_t* out,
              uint8_t* scratch, Err* err) {
  if (isAesGcm(a)) {
    return aesGcmOpen(aes, key, aeadKeyLen(a), nonce.p, ct.p, ct.n, aad.p, aad.n, out, scratch, err);
  }
  unsigned long long mlen = 0;
  int rc = -1;
  switch (a) {
    case Aead::XChaCha20Poly1305: {
      uint8_t n12[12];
      const uint8_t* sub = xchachaSubkey(key, nonce, scratch, n12);
      rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, nullptr, ct.p, ct.n, aad.p, aad.n, n12, sub);
      sodium_memzero(scratch + kT, 32);
      break;
    }
    case Aead::ChaCha20Poly1305:
      rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, nullptr, ct.p, ct.n, aad.p, aad.n, nonce.p, key);
      break;
    case Aead::Aes256Gcm:
    case Aead::Aes128Gcm:
      break;  // ops/aes_gcm, above
  }
  burnStack();
  if (rc != 0) {
    if (ct.n >= kAeadTagLen) sodium_memzero(out, ct.n - kAeadTagLen);
    return err->set(Code::AuthenticationFailed,
                    "decryption failed: the ciphertext, tag, nonce, key or associated data do not match");
  }
  return true;
}

bool x25519Public(const uint8_t* sk, uint8_t* pk, Err* err) {
  if (crypto_scalarmult_base(pk, sk) != 0) return err->set(Code::Internal, "X25519 public key computation failed");
  burnStack();
  return true;
}

bool x25519Shared(const uint8_t* sk, In peer, uint8_t* shared, Err* err) {
  if (peer.n != crypto_scalarmult_BYTES) {
    return err->set(Code::InvalidArgument, "an X25519 public key is 32 bytes; got " + std::to_string(peer.n));
  }
  int rc = crypto_scalarmult(shared, sk, peer.p);
  burnStack();
  if (rc != 0) {
    sodium_memzero(shared, crypto_scalarmult_BYTES);
    return err->set(Code::WeakPublicKey,
                    "X25519 with this public key gives an all-zero shared secret (a low-order point): rejected");
  }
  return true;
}

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
