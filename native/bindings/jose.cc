// JOSE on handles: the Concat KDF of JWE ECDH-ES (RFC 7518 4.6.2), whose input Z
// is a shared-secret key and whose output, the content-encryption key, is a new
// key of use 'aead'. src/crypto/jose/ builds the public OtherInfo.
#include "bindings/context.h"
#include "bindings/uses.h"
#include "ops/jose.h"

namespace ss {
namespace {

// concatKdf(z, otherInfo, length, scope) -> handle (use aead)
Napi::Value ConcatKdf(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  In otherInfo;
  size_t len;
  uint32_t z, owner, index;
  uint8_t* scratch;
  if (!cx.Key(info, 0, &z, &err) || !Uses(cx, z, Op::Hkdf, "concatKdf", &err) ||
      !cx.Bytes(info, 1, "OtherInfo", &otherInfo, false, &err) || !cx.Size(info, 2, "key length", 16, 64, &len, &err) ||
      !cx.Owner(info, 3, &owner, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Napi::Value id = cx.NewKey(env, len, KeyKind::Aead, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* s = cx.store.slot(z);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  if (!concatKdfSha256(*cx.hashes, In{acc.bytes(), s->len}, otherInfo, cx.store.slot(index)->alloc.bytes(), len, scratch,
                       &err)) {
    return cx.Abandon(env, index, err);
  }
  return id;
}

}  // namespace

SS_BINDING_FAMILY(jose) {
  static const Binding kBindings[] = {
    {"concatKdf", bind<ConcatKdf>},
  };
  registry.add(kBindings);
}

}  // namespace ss
