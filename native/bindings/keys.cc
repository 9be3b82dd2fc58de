// Lifecycle of scopes and keys: open/close scopes; create (random, imported,
// decoded), inspect and release keys.
#include <sodium.h>

#include <cstring>

#include "bindings/context.h"
#include "ops/encoding.h"

namespace ss {
namespace {

// ---- scopes ------------------------------------------------------------
Napi::Value ScopeOpen(Context& cx, const Args& info) {
  double id;
  Err err;
  if (!cx.store.openScope(&id, &err)) return cx.Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), id);
}

// scopeClose(id, ifOpen?) -> keys wiped
Napi::Value ScopeClose(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  double d;
  Err err;
  uint32_t s, wiped = 0;
  if (!cx.Number(info, 0, &d)) return cx.Throw(env, Code::InvalidHandle, "not a scope handle");
  if (!cx.store.decodeScope(d, &s, &err)) {
    // scopeClose(id, true): a scope already gone (a purge, a canary violation) wiped nothing
    // more; one call instead of scopeAlive + scopeClose on every scope's end.
    if (err.code == Code::ScopeEnded && Context::Flag(env, info[1])) return Napi::Number::New(env, 0);
    return cx.Throw(env, err);
  }
  if (!cx.store.closeScope(s, &wiped, &err)) {
    return cx.Throw(env, err);
  }
  return Napi::Number::New(env, wiped);
}

Napi::Value ScopeAlive(Context& cx, const Args& info) {
  double d;
  if (!cx.Number(info, 0, &d)) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), cx.store.scopeAlive(d));
}

Napi::Value ScopeKeyCount(Context& cx, const Args& info) {
  double d;
  uint32_t s;
  Err err;
  if (!cx.Number(info, 0, &d)) return cx.Throw(info.Env(), Code::InvalidHandle, "not a scope handle");
  if (!cx.store.decodeScope(d, &s, &err)) return cx.Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), cx.store.scope(s).keys);
}

// ---- keys --------------------------------------------------------------
Napi::Value KeyRelease(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  Err err;
  double d;
  if (!cx.Number(info, 0, &d)) return cx.Throw(env, Code::InvalidHandle, "not a key handle");
  if (!cx.store.decodeKey(d, &i, &err)) return cx.Throw(env, err);
  if (!cx.store.destroy(i, &err)) {
    return cx.Throw(env, err);
  }
  return env.Undefined();
}

Napi::Value KeyLength(Context& cx, const Args& info) {
  uint32_t i;
  Err err;
  double d;
  if (!cx.Number(info, 0, &d)) return cx.Throw(info.Env(), Code::InvalidHandle, "not a key handle");
  if (!cx.store.decodeKey(d, &i, &err)) return cx.Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), cx.store.slot(i)->len);
}

Napi::Value KeyAlive(Context& cx, const Args& info) {
  uint32_t i;
  Err err;
  double d;
  if (!cx.Number(info, 0, &d)) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), cx.store.decodeKey(d, &i, &err));
}

// keyRandom(length, scope, sealed)
Napi::Value KeyRandom(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  size_t len;
  uint32_t owner, index;
  if (!cx.Size(info, 0, "key length", 1, kMaxKeyBytes, &len, &err) || !cx.Owner(info, 1, &owner, &err)) return cx.Throw(env, err);
  bool sealed = Context::Flag(env, info[2]);
  Napi::Value id = cx.NewKey(env, len, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
  if (env.IsExceptionPending()) return id;
  bool ok;
  {
    // Closed before any Abandon below: releasing the slot while it is open would make the
    // close read a freed slot.
    SlotAccess acc(&cx.store, cx.store.slot(index));
    if (!acc.ok()) err = acc.error();
    ok = acc.ok() && fillRandom(acc.bytes(), len, &err);
  }
  if (!ok) return cx.Abandon(env, index, err);
  return id;
}

// keyImport(bytes, scope, sealed): copies into a slot, then zeroes the caller's bytes.
Napi::Value KeyImport(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  In src;
  uint32_t owner, index;
  if (!cx.Bytes(info, 0, "key material", &src, false, &err) || !cx.Owner(info, 1, &owner, &err)) return cx.Throw(env, err);
  if (src.n == 0 || src.n > kMaxKeyBytes) return cx.Bad(env, "key material must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
  bool sealed = Context::Flag(env, info[2]);
  Napi::Value id = cx.NewKey(env, src.n, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
  if (env.IsExceptionPending()) return id;
  {
    SlotAccess acc(&cx.store, cx.store.slot(index));
    if (acc.ok()) std::memcpy(acc.bytes(), src.p, src.n);
    else err = acc.error();
  }
  if (err) {
    sodium_memzero(const_cast<uint8_t*>(src.p), src.n);
    return cx.Abandon(env, index, err);
  }
  sodium_memzero(const_cast<uint8_t*>(src.p), src.n);
  return id;
}

// keyDecode(bytes, offset, length, encoding, scope, sealed): decodes text key
// material straight into a slot and zeroes the source range.
Napi::Value KeyDecode(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  In src;
  size_t off, len, enc, outLen;
  uint32_t owner, index;
  if (!cx.Bytes(info, 0, "encoded key material", &src, false, &err)) return cx.Throw(env, err);
  if (!cx.Size(info, 1, "offset", 0, src.n, &off, &err) || !cx.Size(info, 2, "length", 1, src.n - off, &len, &err) ||
      !cx.Size(info, 3, "encoding", 0, 2, &enc, &err) || !cx.Owner(info, 4, &owner, &err)) {
    return cx.Throw(env, err);
  }
  bool sealed = Context::Flag(env, info[5]);
  In part{src.p + off, len};
  auto* wipeFrom = const_cast<uint8_t*>(part.p);
  if (!decodedLength(static_cast<Encoding>(enc), part, &outLen, &err) || outLen == 0 || outLen > kMaxKeyBytes) {
    sodium_memzero(wipeFrom, len);
    if (!err) err.set(Code::InvalidArgument, "decoded key material must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
    return cx.Throw(env, err);
  }
  Napi::Value id = cx.NewKey(env, outLen, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
  if (env.IsExceptionPending()) {
    sodium_memzero(wipeFrom, len);
    return id;
  }
  bool ok;
  {
    SlotAccess acc(&cx.store, cx.store.slot(index));
    if (!acc.ok()) err = acc.error();
    ok = acc.ok() && decodeInto(static_cast<Encoding>(enc), part, acc.bytes(), outLen, &err);
  }
  sodium_memzero(wipeFrom, len);
  if (!ok) return cx.Abandon(env, index, err);
  return id;
}

}  // namespace

SS_BINDING_FAMILY(keys) {
  static const Binding kBindings[] = {
    {"scopeOpen", bind<ScopeOpen>},
    {"scopeClose", bind<ScopeClose>},
    {"scopeAlive", bind<ScopeAlive>},
    {"scopeKeyCount", bind<ScopeKeyCount>},
    {"keyRelease", bind<KeyRelease>},
    {"keyLength", bind<KeyLength>},
    {"keyAlive", bind<KeyAlive>},
    {"keyRandom", bind<KeyRandom>},
    {"keyImport", bind<KeyImport>},
    {"keyDecode", bind<KeyDecode>},
  };
  registry.add(kBindings);
}

}  // namespace ss
