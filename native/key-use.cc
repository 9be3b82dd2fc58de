#include "key-use.h"

#include <string>

namespace ss {

const char* kindName(KeyKind k) {
  switch (k) {
    case KeyKind::Secret: return "secret";
    case KeyKind::X25519Private: return "x25519";
    case KeyKind::Scratch: return "scratch";
    case KeyKind::Hkdf: return "hkdf";
    case KeyKind::Hmac: return "hmac";
    case KeyKind::Aead: return "aead";
    case KeyKind::Root: return "root";
    case KeyKind::Shared: return "shared";
    case KeyKind::Ed25519: return "ed25519";
    case KeyKind::EcdsaP256: return "ecdsa-p256";
    case KeyKind::EcdsaP384: return "ecdsa-p384";
    case KeyKind::EcdhP256: return "ecdh-p256";
    case KeyKind::EcdhP384: return "ecdh-p384";
    case KeyKind::Hpke: return "hpke";
  }
  return "?";
}

bool kindFromNumber(double d, KeyKind* out) {
  if (!(d >= 0 && d < kKeyKinds) || d != static_cast<double>(static_cast<int>(d)) || d == 2) return false;
  *out = static_cast<KeyKind>(static_cast<int>(d));
  return true;
}

bool kindAllows(KeyKind k, Op op) {
  switch (k) {
    case KeyKind::Secret: return op == Op::Hkdf || op == Op::Hmac || op == Op::Aead;
    case KeyKind::Hkdf:
    case KeyKind::Root:
    case KeyKind::Shared: return op == Op::Hkdf;
    case KeyKind::Hmac: return op == Op::Hmac;
    case KeyKind::Aead: return op == Op::Aead;
    case KeyKind::X25519Private: return op == Op::X25519 || op == Op::PublicKey;
    case KeyKind::Ed25519: return op == Op::Ed25519 || op == Op::PublicKey;
    case KeyKind::EcdsaP256: return op == Op::EcdsaP256 || op == Op::PublicKey;
    case KeyKind::EcdsaP384: return op == Op::EcdsaP384 || op == Op::PublicKey;
    case KeyKind::EcdhP256: return op == Op::EcdhP256 || op == Op::PublicKey;
    case KeyKind::EcdhP384: return op == Op::EcdhP384 || op == Op::PublicKey;
    case KeyKind::Hpke: return op == Op::Hpke;
    case KeyKind::Scratch: return false;
  }
  return false;
}

bool checkUse(KeyKind k, Op op, const char* operation, Err* err) {
  if (kindAllows(k, op)) return true;
  return err->set(Code::KeyUsage, std::string(operation) + ": this key's use is '" + kindName(k) +
                                      "', which this operation does not accept (a key serves one purpose)");
}

bool isAsymmetric(KeyKind k) { return privateKeyLen(k) != 0; }

size_t privateKeyLen(KeyKind k) {
  switch (k) {
    case KeyKind::X25519Private:
    case KeyKind::Ed25519:
    case KeyKind::EcdsaP256:
    case KeyKind::EcdhP256: return 32;
    case KeyKind::EcdsaP384:
    case KeyKind::EcdhP384: return 48;
    default: return 0;
  }
}

size_t publicKeyLen(KeyKind k) {
  switch (k) {
    case KeyKind::X25519Private:
    case KeyKind::Ed25519: return 32;
    case KeyKind::EcdsaP256:
    case KeyKind::EcdhP256: return 65;
    case KeyKind::EcdsaP384:
    case KeyKind::EcdhP384: return 97;
    default: return 0;
  }
}

}  // namespace ss
