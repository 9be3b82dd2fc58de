// AEAD seal/open with a key handle; ciphertext and plaintext are public data.
#include "bindings/context.h"
#include "bindings/uses.h"

namespace ss {
namespace {

// aeadSeal(alg, key, nonce, plaintext, aad?) -> ciphertext || tag
Napi::Value AeadSeal(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Aead a;
  In nonce, msg, aad;
  uint32_t k;
  uint8_t* scratch;
  if (!cx.AeadArg(info, 0, &a, &err) || !cx.Key(info, 1, &k, &err) || !Uses(cx, k, Op::Aead, "aeadSeal", &err) ||
      !cx.Bytes(info, 2, "nonce", &nonce, false, &err) || !cx.Bytes(info, 3, "plaintext", &msg, false, &err) || !cx.Bytes(info, 4, "associated data", &aad, true, &err)) {
    return cx.Throw(env, err);
  }
  Slot* s = cx.store.slot(k);
  if (!aeadCheck(a, s->len, nonce.n, &err) || !cx.Scratch(&scratch, &err)) return cx.Throw(env, err);
  s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  Napi::Value out;
  uint8_t* data;
  if (!cx.Output(info, 5, msg.n + kAeadTagLen, &out, &data, &err)) return cx.Throw(env, err);
  if (!aeadSeal(a, *cx.aes, acc.bytes(), nonce, msg, aad, data, scratch, &err)) return cx.Throw(env, err);
  return out;
}

Napi::Value AeadOpen(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Aead a;
  In nonce, ct, aad;
  uint32_t k;
  uint8_t* scratch;
  if (!cx.AeadArg(info, 0, &a, &err) || !cx.Key(info, 1, &k, &err) || !Uses(cx, k, Op::Aead, "aeadOpen", &err) ||
      !cx.Bytes(info, 2, "nonce", &nonce, false, &err) || !cx.Bytes(info, 3, "ciphertext", &ct, false, &err) || !cx.Bytes(info, 4, "associated data", &aad, true, &err)) {
    return cx.Throw(env, err);
  }
  Slot* s = cx.store.slot(k);
  if (!aeadCheck(a, s->len, nonce.n, &err) || !cx.Scratch(&scratch, &err)) return cx.Throw(env, err);
  if (ct.n < kAeadTagLen) {
    return cx.Throw(env, Code::AuthenticationFailed, "ciphertext is shorter than the 16-byte authentication tag");
  }
  s = cx.store.slot(k);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Throw(env, acc.error());
  Napi::Value out;
  uint8_t* data;
  if (!cx.Output(info, 5, ct.n - kAeadTagLen, &out, &data, &err)) return cx.Throw(env, err);
  if (!aeadOpen(a, *cx.aes, acc.bytes(), nonce, ct, aad, data, scratch, &err)) return cx.Throw(env, err);
  return out;
}

}  // namespace

SS_BINDING_FAMILY(aead) {
  static const Binding kBindings[] = {
    {"aeadSeal", bind<AeadSeal>},
    {"aeadOpen", bind<AeadOpen>},
  };
  registry.add(kBindings);
}

}  // namespace ss
