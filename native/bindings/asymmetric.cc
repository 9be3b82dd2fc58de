// Signature and key-agreement keys (Ed25519, ECDSA and ECDH on P-256/P-384, X25519)
// on handles: generation, import of a raw private key, the public key, signing,
// and shared secrets as new keys of use 'shared'. Private keys and every secret
// temporary stay in the slot, arena scratch or a wiped stack (ops/asymmetric.h).
#include <sodium.h>

#include "bindings/context.h"
#include "bindings/uses.h"

namespace ss {
namespace {

// keyGenerate(use, scope) -> [handle, raw public key]
Napi::Value KeyGenerate(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  KeyKind kind;
  uint32_t owner, index;
  uint8_t* scratch;
  if (!AsymmetricUse(info, 0, &kind, &err) || !cx.Owner(info, 1, &owner, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Napi::Value id = cx.NewKey(env, privateKeyLen(kind), kind, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  uint8_t* sk = cx.store.slot(index)->alloc.bytes();
  Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, publicKeyLen(kind));
  if (!generatePrivate(kind, sk, scratch, &err) || !publicFromPrivate(kind, sk, pk.Data(), scratch, &err)) {
    return cx.Abandon(env, index, err);
  }
  Napi::Array r = Napi::Array::New(env, 2);
  r.Set(0u, id);
  r.Set(1u, pk);
  return r;
}

// keyImportPrivate(bytes, use, scope): checks and copies a raw private key, then
// zeroes the caller's bytes (also when the key is refused).
Napi::Value KeyImportPrivate(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  In src;
  KeyKind kind;
  uint32_t owner, index;
  if (!cx.Bytes(info, 0, "private key", &src, false, &err)) return cx.Throw(env, err);
  auto* wipe = const_cast<uint8_t*>(src.p);
  if (!AsymmetricUse(info, 1, &kind, &err) || !cx.Owner(info, 2, &owner, &err)) {
    sodium_memzero(wipe, src.n);
    return cx.Throw(env, err);
  }
  Napi::Value id = cx.NewKey(env, privateKeyLen(kind), kind, owner, false, &index);
  if (env.IsExceptionPending()) {
    sodium_memzero(wipe, src.n);
    return id;
  }
  bool ok = importPrivate(kind, src, cx.store.slot(index)->alloc.bytes(), &err);
  sodium_memzero(wipe, src.n);
  if (!ok) return cx.Abandon(env, index, err);
  return id;
}

// keyPublic(key) -> raw public key (SEC1 uncompressed point, or 32 bytes)
Napi::Value KeyPublic(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  uint8_t* scratch;
  if (!cx.Key(info, 0, &k, &err) || !Uses(cx, k, Op::PublicKey, "publicKey", &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Slot* s = cx.store.slot(k);
  Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, publicKeyLen(s->kind));
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  if (!publicFromPrivate(s->kind, acc.bytes(), pk.Data(), scratch, &err)) return cx.Throw(env, err);
  return pk;
}

// keyUse(key) -> the use the slot carries (diagnostics and tests)
Napi::Value KeyUseName(Context& cx, const Args& info) {
  Err err;
  uint32_t k;
  double d;
  if (!cx.Number(info, 0, &d)) return cx.Throw(info.Env(), Code::InvalidHandle, "not a key handle");
  if (!cx.store.decodeKey(d, &k, &err)) return cx.Throw(info.Env(), err);
  return Napi::String::New(info.Env(), kindName(cx.store.slot(k)->kind));
}

// sign(key, message, der) -> signature (ECDSA: DER or P1363 r || s; Ed25519: 64 bytes)
Napi::Value Sign(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  In msg;
  uint8_t* scratch;
  if (!cx.Key(info, 0, &k, &err) || !cx.Bytes(info, 1, "message", &msg, false, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  const KeyKind kind = cx.store.slot(k)->kind;
  const Op op = kind == KeyKind::EcdsaP384 ? Op::EcdsaP384 : kind == KeyKind::Ed25519 ? Op::Ed25519 : Op::EcdsaP256;
  if (!checkUse(kind, op, "sign", &err)) return cx.Throw(env, err);
  const bool der = Context::Flag(info.Env(), info[2]);
  uint8_t sig[kMaxSignature];  // public output
  size_t n = 0;
  {
    Slot* s = cx.store.slot(k);
    SlotAccess acc(&cx.store, s);
    if (!acc.ok()) return cx.Throw(env, acc.error());
    if (!signMessage(kind, acc.bytes(), msg, der, sig, &n, scratch, &err)) return cx.Throw(env, err);
  }
  return Napi::Buffer<uint8_t>::Copy(env, sig, n);
}

// agree(key, peerPublic, scope) -> handle of the shared secret (use 'shared')
Napi::Value Agree(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k, owner, index;
  In peer;
  uint8_t* scratch;
  if (!cx.Key(info, 0, &k, &err) || !cx.Bytes(info, 1, "peer public key", &peer, false, &err) ||
      !cx.Owner(info, 2, &owner, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  const KeyKind kind = cx.store.slot(k)->kind;
  const Op op = kind == KeyKind::EcdhP256 ? Op::EcdhP256 : kind == KeyKind::EcdhP384 ? Op::EcdhP384 : Op::X25519;
  if (!checkUse(kind, op, "sharedSecret", &err)) return cx.Throw(env, err);
  Napi::Value id = cx.NewKey(env, privateKeyLen(kind), KeyKind::Shared, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  if (!agree(kind, acc.bytes(), peer, cx.store.slot(index)->alloc.bytes(), scratch, &err)) return cx.Abandon(env, index, err);
  return id;
}

}  // namespace

SS_BINDING_FAMILY(asymmetric) {
  static const Binding kBindings[] = {
    {"keyGenerate", bind<KeyGenerate>},
    {"keyImportPrivate", bind<KeyImportPrivate>},
    {"keyPublic", bind<KeyPublic>},
    {"keyUse", bind<KeyUseName>},
    {"sign", bind<Sign>},
    {"agree", bind<Agree>},
  };
  registry.add(kBindings);
}

}  // namespace ss
