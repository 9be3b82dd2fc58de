// X25519 key pairs: the private key stays in a slot, the public key is returned.
#include <string>

#include "bindings/context.h"
#include "bindings/uses.h"
#include "ops/x25519.h"

namespace ss {
namespace {

// x25519Generate(scope) -> [handle, publicKey]
Napi::Value X25519Generate(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t owner, index;
  if (!cx.Owner(info, 0, &owner, &err)) return cx.Throw(env, err);
  Napi::Value id = cx.NewKey(env, 32, KeyKind::X25519Private, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  uint8_t* sk = cx.store.slot(index)->alloc.bytes();
  Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, 32);
  if (!fillRandom(sk, 32, &err) || !x25519Public(sk, pk.Data(), &err)) return cx.Abandon(env, index, err);
  Napi::Array r = Napi::Array::New(env, 2);
  r.Set(0u, id);
  r.Set(1u, pk);
  return r;
}

Napi::Value X25519PublicKey(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err) || !Uses(cx, k, Op::X25519, "x25519PublicKey", &err)) return cx.Throw(env, err);
  Slot* s = cx.store.slot(k);
  if (s->len != 32) return cx.Bad(env, "an X25519 private key is 32 bytes; this key has " + std::to_string(s->len));
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, 32);
  if (!x25519Public(acc.bytes(), pk.Data(), &err)) return cx.Throw(env, err);
  return pk;
}

// x25519Shared(privateKey, peerPublic, scope) -> handle of the shared secret
Napi::Value X25519SharedKey(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k, owner, index;
  In peer;
  if (!cx.Key(info, 0, &k, &err) || !Uses(cx, k, Op::X25519, "x25519SharedSecret", &err) ||
      !cx.Bytes(info, 1, "peer public key", &peer, false, &err) || !cx.Owner(info, 2, &owner, &err)) {
    return cx.Throw(env, err);
  }
  if (cx.store.slot(k)->len != 32) return cx.Bad(env, "an X25519 private key is 32 bytes");
  if (peer.n != 32) return cx.Bad(env, "an X25519 public key is 32 bytes; got " + std::to_string(peer.n));
  Napi::Value id = cx.NewKey(env, 32, KeyKind::Shared, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  if (!x25519Shared(acc.bytes(), peer, cx.store.slot(index)->alloc.bytes(), &err)) return cx.Abandon(env, index, err);
  return id;
}

}  // namespace

SS_BINDING_FAMILY(x25519) {
  static const Binding kBindings[] = {
    {"x25519Generate", bind<X25519Generate>},
    {"x25519Public", bind<X25519PublicKey>},
    {"x25519Shared", bind<X25519SharedKey>},
  };
  registry.add(kBindings);
}

}  // namespace ss
