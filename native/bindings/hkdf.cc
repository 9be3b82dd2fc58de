// HKDF (extract, expand, expand-many, one-shot) and HMAC sign/verify on key handles.
// The deriving functions take the new key's use (default hkdf); for a private-key
// use the key is made from nlen/8 + 8 bytes of output (bindings/uses.h).
#include <sodium.h>

#include <optional>

#include "bindings/context.h"
#include "bindings/uses.h"

namespace ss {
namespace {

// hkdfExpandMany: outputs per call (the per-invocation key sets this serves are small).
constexpr uint32_t kMaxExpandMany = 64;

// ---- HKDF --------------------------------------------------------------
// hkdfExtract(hash, ikm: handle | handle[], salt?, scope)
Napi::Value HkdfExtract(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In salt;
  uint32_t owner, index;
  // Array elements first: reading them can run JavaScript (getters, proxies), which must not
  // run after any handle or byte pointer below has been validated.
  Napi::Value elements[8];
  uint32_t count = 0;
  const bool many = info[1].IsArray();
  if (many && !cx.Elements(info[1], 8, elements, &count, &err)) return cx.Throw(env, err);
  if (many && count == 0) return cx.Bad(env, "HKDF input key material takes 1 to 8 keys");
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Bytes(info, 2, "salt", &salt, true, &err) || !cx.Owner(info, 3, &owner, &err)) {
    return cx.Throw(env, err);
  }
  uint32_t ikm[8];
  size_t parts = 0;
  if (many) {
    for (uint32_t k = 0; k < count; k++) {
      if (!cx.KeyValue(env, elements[k], &ikm[parts], &err) || !Uses(cx, ikm[parts], Op::Hkdf, "hkdfExtract", &err)) return cx.Throw(env, err);
      parts++;
    }
  } else {
    if (!cx.Key(info, 1, &ikm[0], &err) || !Uses(cx, ikm[0], Op::Hkdf, "hkdfExtract", &err)) return cx.Throw(env, err);
    parts = 1;
  }
  uint8_t* scratch;
  if (!cx.Scratch(&scratch, &err)) return cx.Throw(env, err);
  Napi::Value id = cx.NewKey(env, hashLen(h), KeyKind::Hkdf, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  In in[8];
  std::optional<SlotAccess> acc[8];  // on the stack: no allocation per call
  for (size_t k = 0; k < parts; k++) {
    Slot* s = cx.store.slot(ikm[k]);
    acc[k].emplace(&cx.store, s);
    if (!acc[k]->ok()) return cx.Abandon(env, index, acc[k]->error());
    in[k] = In{acc[k]->bytes(), s->len};
  }
  if (!hkdfExtract(*cx.hashes, h, salt, in, parts, cx.store.slot(index)->alloc.bytes(), scratch, &err)) return cx.Abandon(env, index, err);
  return id;
}

// hkdfExpandMany(hash, prk, infos[], length, scope, ids: Float64Array, use?) -> count
// One output key per info, HMAC keyed once. All or nothing: on any failure no key is left.
Napi::Value HkdfExpandMany(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  size_t len;
  uint32_t prk, owner;
  uint8_t* scratch;
  // The infos first: reading array elements can run JavaScript (getters, proxies) that could
  // release the PRK or detach a buffer after they were validated.
  if (!info[2].IsArray()) return cx.Bad(env, "HKDF-Expand infos must be an array");
  Napi::Value elements[kMaxExpandMany];
  uint32_t n = 0;
  if (!cx.Elements(info[2], kMaxExpandMany, elements, &n, &err)) return cx.Throw(env, err);
  if (n == 0) return cx.Bad(env, "HKDF-Expand takes 1 to " + std::to_string(kMaxExpandMany) + " infos at once; got 0");
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &prk, &err) ||
      !cx.Size(info, 3, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !cx.Owner(info, 4, &owner, &err) ||
      !cx.Scratch(&scratch, &err) || !Uses(cx, prk, Op::Hkdf, "hkdfExpandMany", &err)) {
    return cx.Throw(env, err);
  }
  KeyKind kind;
  size_t okm;
  if (!UseArg(info, 6, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return cx.Throw(env, err);
  In infos[kMaxExpandMany];
  for (uint32_t k = 0; k < n; k++) {
    if (!cx.BytesValue(env, elements[k], "info", &infos[k], true, &err)) return cx.Throw(env, err);
  }
  double* ids = nullptr;
  {
    napi_value v = info[5];
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    bool isTa = false;
    if (napi_is_typedarray(env, v, &isTa) != napi_ok || !isTa ||
        napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array || length < n) {
      return cx.Bad(env, "HKDF-Expand ids must be a Float64Array with room for every key");
    }
    ids = static_cast<double*>(data);
  }
  if (cx.store.slot(prk)->len < hashLen(h)) return cx.Bad(env, "HKDF-Expand needs a pseudorandom key of at least HashLen bytes");
  uint32_t index[kMaxExpandMany];
  for (uint32_t k = 0; k < n; k++) {
    if (!cx.store.create(len, kind, owner, false, &index[k], &err)) {
      for (uint32_t j = 0; j < k; j++) {
        Err ignored;
        cx.store.destroy(index[j], &ignored);
      }
      return cx.Throw(env, err);
    }
  }
  uint8_t* outs[kMaxExpandMany];
  for (uint32_t k = 0; k < n; k++) outs[k] = cx.store.slot(index[k])->alloc.bytes();
  Slot* ps = cx.store.slot(prk);
  bool ok;
  {
    SlotAccess acc(&cx.store, ps);
    if (!acc.ok()) err = acc.error();
    if (okm == len) {
      ok = acc.ok() && hkdfExpandMany(*cx.hashes, h, acc.bytes(), ps->len, infos, n, outs, len, scratch, &err);
    } else {  // private keys: one expansion into scratch per key, then the mapping
      ok = acc.ok();
      for (uint32_t k = 0; k < n && ok; k++) {
        ok = hkdfExpand(*cx.hashes, h, acc.bytes(), ps->len, infos[k], scratch + kScratchSeed, okm, scratch, &err);
        if (ok) FinishDerived(kind, okm, len, outs[k], scratch);
      }
      sodium_memzero(scratch + kScratchSeed, okm);
    }
  }
  if (!ok) {
    for (uint32_t k = 0; k < n; k++) {
      Err ignored;
      cx.store.destroy(index[k], &ignored);
    }
    return cx.Throw(env, err);
  }
  for (uint32_t k = 0; k < n; k++) ids[k] = cx.store.keyId(index[k]);
  return Napi::Number::New(env, n);
}

// hkdfExpand(hash, prk, info, length, scope, use?)
Napi::Value HkdfExpand(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In inf;
  size_t len;
  uint32_t prk, owner, index;
  uint8_t* scratch;
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &prk, &err) || !cx.Bytes(info, 2, "info", &inf, true, &err) ||
      !cx.Size(info, 3, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !cx.Owner(info, 4, &owner, &err) ||
      !cx.Scratch(&scratch, &err) || !Uses(cx, prk, Op::Hkdf, "hkdfExpand", &err)) {
    return cx.Throw(env, err);
  }
  KeyKind kind;
  size_t okm;
  if (!UseArg(info, 5, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return cx.Throw(env, err);
  Slot* ps = cx.store.slot(prk);
  if (ps->len < hashLen(h)) return cx.Bad(env, "HKDF-Expand needs a pseudorandom key of at least HashLen bytes");
  Napi::Value id = cx.NewKey(env, len, kind, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  ps = cx.store.slot(prk);
  SlotAccess acc(&cx.store, ps);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  uint8_t* out = cx.store.slot(index)->alloc.bytes();
  uint8_t* dst = OkmTarget(okm, len, out, scratch);
  if (!hkdfExpand(*cx.hashes, h, acc.bytes(), ps->len, inf, dst, okm, scratch, &err)) {
    if (dst != out) sodium_memzero(dst, okm);
    return cx.Abandon(env, index, err);
  }
  FinishDerived(kind, okm, len, out, scratch);
  return id;
}

// hkdf(hash, ikm, salt?, info, length, scope, use?): extract + expand, PRK only in scratch.
Napi::Value Hkdf(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In salt, inf;
  size_t len;
  uint32_t ikm, owner, index;
  uint8_t* scratch;
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &ikm, &err) || !cx.Bytes(info, 2, "salt", &salt, true, &err) ||
      !cx.Bytes(info, 3, "info", &inf, true, &err) ||
      !cx.Size(info, 4, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !cx.Owner(info, 5, &owner, &err) ||
      !cx.Scratch(&scratch, &err) || !Uses(cx, ikm, Op::Hkdf, "hkdf", &err)) {
    return cx.Throw(env, err);
  }
  KeyKind kind;
  size_t okm;
  if (!UseArg(info, 6, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return cx.Throw(env, err);
  Napi::Value id = cx.NewKey(env, len, kind, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* is = cx.store.slot(ikm);
  SlotAccess acc(&cx.store, is);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  uint8_t* prk = scratch + kScratchAfterHmac;  // after the HMAC area, which each HKDF step wipes (ops/hkdf.h)
  In part{acc.bytes(), is->len};
  uint8_t* out = cx.store.slot(index)->alloc.bytes();
  uint8_t* dst = OkmTarget(okm, len, out, scratch);
  bool ok = hkdfExtract(*cx.hashes, h, salt, &part, 1, prk, scratch, &err) &&
            hkdfExpand(*cx.hashes, h, prk, hashLen(h), inf, dst, okm, scratch, &err);
  sodium_memzero(prk, hashLen(h));
  if (ok) FinishDerived(kind, okm, len, out, scratch);
  if (dst != out) sodium_memzero(dst, okm);
  if (!ok) return cx.Abandon(env, index, err);
  return id;
}

// ---- HMAC --------------------------------------------------------------
Napi::Value HmacSign(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In msg;
  uint32_t k;
  size_t tagLen;
  uint8_t* scratch;
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &k, &err) || !Uses(cx, k, Op::Hmac, "hmacSign", &err) ||
      !cx.Bytes(info, 2, "message", &msg, false, &err)) {
    return cx.Throw(env, err);
  }
  if (Context::Undefined(env, info[3])) {
    tagLen = hashLen(h);
  } else if (!cx.Size(info, 3, "tag length", 16, hashLen(h), &tagLen, &err)) {
    return cx.Throw(env, err);
  }
  if (!cx.Scratch(&scratch, &err)) return cx.Throw(env, err);
  Slot* s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  Napi::Value out;
  uint8_t* data;
  if (!cx.Output(info, 4, tagLen, &out, &data, &err)) return cx.Throw(env, err);
  if (!hmacSign(*cx.hashes, h, In{acc.bytes(), s->len}, msg, data, tagLen, scratch, &err)) return cx.Throw(env, err);
  return out;
}

Napi::Value HmacVerify(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In msg, tag;
  uint32_t k;
  uint8_t* scratch;
  bool valid = false;
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &k, &err) || !Uses(cx, k, Op::Hmac, "hmacVerify", &err) ||
      !cx.Bytes(info, 2, "message", &msg, false, &err) || !cx.Bytes(info, 3, "tag", &tag, false, &err) ||
      !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Slot* s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  if (!hmacVerify(*cx.hashes, h, In{acc.bytes(), s->len}, msg, tag, &valid, scratch, &err)) return cx.Throw(env, err);
  return Napi::Boolean::New(env, valid);
}

}  // namespace

SS_BINDING_FAMILY(hkdf) {
  static const Binding kBindings[] = {
    {"hkdfExtract", bind<HkdfExtract>},
    {"hkdfExpand", bind<HkdfExpand>},
    {"hkdfExpandMany", bind<HkdfExpandMany>},
    {"hkdf", bind<Hkdf>},
    {"hmacSign", bind<HmacSign>},
    {"hmacVerify", bind<HmacVerify>},
  };
  registry.add(kBindings);
}

}  // namespace ss
