#include "ops/aead.h"

#include <pthread.h>

#include "ops/stack.h"

#include <sodium.h>

#include <cstring>
#include <string>

namespace ss {

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

// Where the XChaCha subkey lives in the scratch area (the HKDF T block's offset:
// AEAD and HKDF never share the scratch area within one call).
constexpr size_t kT = 768;

// XChaCha20-Poly1305 is ChaCha20-Poly1305 (IETF) under an HChaCha20 subkey; the
// subkey is computed here so that it lives in the arena, not on the stack.
static const uint8_t* xchachaSubkey(const uint8_t* key, In nonce, uint8_t* scratch, uint8_t* ietfNonce) {
  uint8_t* sub = scratch + kT;
  crypto_core_hchacha20(sub, nonce.p, key, nullptr);
  std::memset(ietfNonce, 0, 4);
  std::memcpy(ietfNonce + 4, nonce.p + 16, 8);
  return sub;
}

// The stack libsodium's (X)ChaCha20-Poly1305 reaches below its caller on this CPU
// (sodium_init picks its implementation), measured once per process; ops/common.h.
namespace {
struct ChaChaRun {
  // Long enough for libsodium's wide (SIMD) ChaCha20 path, with a partial block and AAD.
  uint8_t key[32], nonce[24], sub[32], msg[1024 + 65], out[1024 + 65 + 16];
};
void runChaCha(void* p) {
  auto* r = static_cast<ChaChaRun*>(p);
  unsigned long long n = 0;
  crypto_core_hchacha20(r->sub, r->nonce, r->key, nullptr);
  crypto_aead_chacha20poly1305_ietf_encrypt(r->out, &n, r->msg, sizeof r->msg, r->nonce, 17, nullptr, r->nonce, r->sub);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(r->msg, &n, nullptr, r->out, sizeof r->out, r->nonce, 17, r->nonce, r->sub) != 0) {
    r->out[0] = 0;  // cannot happen (it opens what it sealed); the result is only checked to be used
  }
}
size_t chachaBurnBytes = kBurnMax;
pthread_once_t chachaOnce = PTHREAD_ONCE_INIT;
void measureChaCha() {
  static ChaChaRun run;  // public test bytes, outside the measured frames
  if (sodium_init() >= 0) chachaBurnBytes = burnFor(deepestStackUse(runChaCha, &run, 8192));
  sodium_memzero(&run, sizeof run);
}
}  // namespace

size_t chachaBurn() {
  pthread_once(&chachaOnce, measureChaCha);
  return chachaBurnBytes;
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
  burnStack(chachaBurn());
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
  burnStack(chachaBurn());
  if (rc != 0) {
    if (ct.n >= kAeadTagLen) sodium_memzero(out, ct.n - kAeadTagLen);
    return err->set(Code::AuthenticationFailed,
                    "decryption failed: the ciphertext, tag, nonce, key or associated data do not match");
  }
  return true;
}

}  // namespace ss
