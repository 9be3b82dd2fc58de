// Key separation: which operations accept a key of which kind (the slot's use).
//
//   kind (JS use)            accepted by
//   secret                   HKDF (as IKM or PRK), HMAC, AEAD   (generic keys from randomKey/importKey)
//   hkdf, root, shared       HKDF only
//   hmac                     HMAC only
//   aead                     AEAD only
//   x25519, ecdh-p256/-p384  key agreement on that curve, its public key
//   ed25519, ecdsa-p256/-p384  signing with that algorithm, its public key
//   hpke                     the HPKE AEAD (key || base_nonce of one context; bindings/hpke.cc)
//
// exposeUnsafe accepts every kind (it is the explicit escape hatch).
#pragma once
#include <cstdint>

#include "errors.h"
#include "keystore.h"

namespace ss {

enum class Op { Hkdf, Hmac, Aead, X25519, Ed25519, EcdsaP256, EcdsaP384, EcdhP256, EcdhP384, PublicKey, Hpke };

const char* kindName(KeyKind k);
bool kindFromNumber(double d, KeyKind* out);
bool kindAllows(KeyKind k, Op op);
// On refusal: Code::KeyUsage naming the key's use and the operation.
bool checkUse(KeyKind k, Op op, const char* operation, Err* err);

// Asymmetric kinds: sizes of the private key in its slot and of its raw public key.
bool isAsymmetric(KeyKind k);
size_t privateKeyLen(KeyKind k);  // 0 for symmetric kinds
size_t publicKeyLen(KeyKind k);

}  // namespace ss
