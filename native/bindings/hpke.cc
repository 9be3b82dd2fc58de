// HPKE (RFC 9180) on handles: the labeled HKDF-Extract whose input key material is
// a public label prefix followed by a key (and whose salt may be a key), an HPKE
// context key (AEAD key || base_nonce in one slot of use 'hpke'), the context's
// AEAD with nonce = base_nonce XOR seq computed here, and DHKEM(P-256)'s
// DeriveKeyPair. src/crypto/hpke/ composes them; LabeledExpand is plain hkdfExpand.
#include <sodium.h>

#include <cmath>
#include <memory>

#include <optional>

#include "bindings/context.h"
#include "bindings/uses.h"
#include "ops/hpke.h"

namespace ss {
namespace {

// A key argument that may be absent (undefined): HPKE's empty salt or empty IKM.
bool OptionalKey(Context& cx, const Args& info, size_t i, const char* what, uint32_t* index, bool* present,
                 Err* err) {
  *present = !(info[i].IsUndefined() || info[i].IsNull());
  if (!*present) return true;
  return cx.Key(info, i, index, err) && Uses(cx, *index, Op::Hkdf, what, err);
}

// hpkeLabeledExtract(hash, salt: handle | undefined, prefix, ikm: handle | undefined, scope) -> handle (use hkdf)
// HKDF-Extract(salt, prefix || ikm): LabeledExtract with prefix = "HPKE-v1" || suite_id || label.
Napi::Value HpkeLabeledExtract(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In prefix;
  uint32_t salt = 0, ikm = 0, owner, index;
  bool hasSalt, hasIkm;
  uint8_t* scratch;
  if (!cx.HashArg(info, 0, &h, &err) || !OptionalKey(cx, info, 1, "hpkeLabeledExtract", &salt, &hasSalt, &err) ||
      !cx.Bytes(info, 2, "label prefix", &prefix, false, &err) ||
      !OptionalKey(cx, info, 3, "hpkeLabeledExtract", &ikm, &hasIkm, &err) || !cx.Owner(info, 4, &owner, &err) ||
      !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Napi::Value id = cx.NewKey(env, hashLen(h), KeyKind::Hkdf, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  std::optional<SlotAccess> saltAcc, ikmAcc;
  In saltIn, parts[2];
  size_t n = 0;
  parts[n++] = prefix;
  if (hasSalt) {
    Slot* s = cx.store.slot(salt);
    saltAcc.emplace(&cx.store, s);
    if (!saltAcc->ok()) return cx.Abandon(env, index, saltAcc->error());
    saltIn = In{saltAcc->bytes(), s->len};
  }
  if (hasIkm) {
    Slot* s = cx.store.slot(ikm);
    ikmAcc.emplace(&cx.store, s);
    if (!ikmAcc->ok()) return cx.Abandon(env, index, ikmAcc->error());
    parts[n++] = In{ikmAcc->bytes(), s->len};
  }
  if (!hkdfExtract(*cx.hashes, h, saltIn, parts, n, cx.store.slot(index)->alloc.bytes(), scratch, &err)) {
    return cx.Abandon(env, index, err);
  }
  return id;
}

// hpkeContextKey(hash, secret, keyInfo, nonceInfo, nk, scope) -> handle (use hpke):
// key = LabeledExpand(secret, "key", ctx, Nk) || base_nonce = LabeledExpand(secret, "base_nonce", ctx, Nn).
Napi::Value HpkeContextKey(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Hash h;
  In keyInfo, nonceInfo;
  size_t nk;
  uint32_t secret, owner, index;
  uint8_t* scratch;
  if (!cx.HashArg(info, 0, &h, &err) || !cx.Key(info, 1, &secret, &err) || !Uses(cx, secret, Op::Hkdf, "hpkeContextKey", &err) ||
      !cx.Bytes(info, 2, "key info", &keyInfo, false, &err) || !cx.Bytes(info, 3, "nonce info", &nonceInfo, false, &err) ||
      !cx.Size(info, 4, "AEAD key length", 16, 32, &nk, &err) || !cx.Owner(info, 5, &owner, &err) ||
      !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  if (cx.store.slot(secret)->len < hashLen(h)) return cx.Bad(env, "the HPKE secret is shorter than the hash");
  Napi::Value id = cx.NewKey(env, nk + kHpkeNonceLen, KeyKind::Hpke, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* s = cx.store.slot(secret);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  uint8_t* out = cx.store.slot(index)->alloc.bytes();
  if (!hkdfExpand(*cx.hashes, h, acc.bytes(), s->len, keyInfo, out, nk, scratch, &err) ||
      !hkdfExpand(*cx.hashes, h, acc.bytes(), s->len, nonceInfo, out + nk, kHpkeNonceLen, scratch, &err)) {
    return cx.Abandon(env, index, err);
  }
  return id;
}

// The context key and the sequence number of hpkeSeal/hpkeOpen (seq: an integer 0 .. 2^53 - 1).
bool ContextArgs(Context& cx, const Args& info, const char* what, Aead* a, uint32_t* k, uint64_t* seq,
                 Err* err) {
  double d;
  if (!cx.AeadArg(info, 0, a, err) || !cx.Key(info, 1, k, err) || !Uses(cx, *k, Op::Hpke, what, err)) return false;
  if (*a == Aead::XChaCha20Poly1305) return err->set(Code::UnsupportedAlgorithm, "HPKE has no XChaCha20-Poly1305");
  if (cx.store.slot(*k)->len != aeadKeyLen(*a) + kHpkeNonceLen) {
    return err->set(Code::InvalidArgument, std::string(what) + ": this HPKE context key is not for " + aeadName(*a));
  }
  if (!cx.Number(info, 2, &d) || !(d >= 0 && d <= 9007199254740991.0) || d != std::floor(d)) {
    return err->set(Code::InvalidArgument, std::string(what) + ": sequence number must be an integer from 0 to 2^53 - 1");
  }
  *seq = static_cast<uint64_t>(d);
  return true;
}

// Seal or open with the context key's AEAD key and nonce = base_nonce XOR seq: the nonce
// is computed here from the slot (key || base_nonce) into a stack array wiped after use.
using AeadOp = bool (*)(Aead, const AesGcmEngine&, const uint8_t*, In, In, In, uint8_t*, uint8_t*, Err*);
bool RunWithSeqNonce(Context& cx, Aead a, uint32_t k, uint64_t seq, AeadOp op, In in, In aad, uint8_t* out,
                     uint8_t* scratch, Err* err) {
  SlotAccess acc(&cx.store, cx.store.slot(k));
  if (!acc.ok()) {
    *err = acc.error();
    return false;
  }
  uint8_t nonce[kHpkeNonceLen];
  hpkeNonce(acc.bytes() + aeadKeyLen(a), seq, nonce);
  const bool ok = op(a, *cx.aes, acc.bytes(), In{nonce, kHpkeNonceLen}, in, aad, out, scratch, err);
  sodium_memzero(nonce, sizeof nonce);
  return ok;
}

// hpkeSeal(aead, contextKey, seq, plaintext, aad?, out?) -> ciphertext || tag
Napi::Value HpkeSeal(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Aead a;
  uint32_t k;
  uint64_t seq;
  In msg, aad;
  uint8_t* scratch;
  if (!ContextArgs(cx, info, "hpkeSeal", &a, &k, &seq, &err) || !cx.Bytes(info, 3, "plaintext", &msg, false, &err) ||
      !cx.Bytes(info, 4, "associated data", &aad, true, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  Napi::Value out;
  uint8_t* data;
  if (!cx.Output(info, 5, msg.n + kAeadTagLen, &out, &data, &err)) return cx.Throw(env, err);
  if (!RunWithSeqNonce(cx, a, k, seq, aeadSeal, msg, aad, data, scratch, &err)) return cx.Throw(env, err);
  return out;
}

// hpkeOpen(aead, contextKey, seq, ciphertext, aad?, out?) -> plaintext
Napi::Value HpkeOpen(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  Aead a;
  uint32_t k;
  uint64_t seq;
  In ct, aad;
  uint8_t* scratch;
  if (!ContextArgs(cx, info, "hpkeOpen", &a, &k, &seq, &err) || !cx.Bytes(info, 3, "ciphertext", &ct, false, &err) ||
      !cx.Bytes(info, 4, "associated data", &aad, true, &err) || !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  if (ct.n < kAeadTagLen) {
    return cx.Throw(env, Code::AuthenticationFailed, "ciphertext is shorter than the 16-byte authentication tag");
  }
  Napi::Value out;
  uint8_t* data;
  if (!cx.Output(info, 5, ct.n - kAeadTagLen, &out, &data, &err)) return cx.Throw(env, err);
  if (!RunWithSeqNonce(cx, a, k, seq, aeadOpen, ct, aad, data, scratch, &err)) return cx.Throw(env, err);
  return out;
}

// hpkeDeriveP256(dkpPrk, candidatePrefix, scope) -> handle (use ecdh-p256)
Napi::Value HpkeDeriveP256(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  In prefix;
  uint32_t prk, owner, index;
  uint8_t* scratch;
  if (!cx.Key(info, 0, &prk, &err) || !Uses(cx, prk, Op::Hkdf, "hpkeDeriveKeyPair", &err) ||
      !cx.Bytes(info, 1, "candidate prefix", &prefix, false, &err) || !cx.Owner(info, 2, &owner, &err) ||
      !cx.Scratch(&scratch, &err)) {
    return cx.Throw(env, err);
  }
  if (cx.store.slot(prk)->len < 32) return cx.Bad(env, "hpkeDeriveKeyPair needs a 32-byte dkp_prk");
  Napi::Value id = cx.NewKey(env, 32, KeyKind::EcdhP256, owner, false, &index);
  if (env.IsExceptionPending()) return id;
  Slot* s = cx.store.slot(prk);
  SlotAccess acc(&cx.store, s);
  if (!acc.ok()) return cx.Abandon(env, index, acc.error());
  if (!hpkeDeriveP256(*cx.hashes, acc.bytes(), s->len, prefix, cx.store.slot(index)->alloc.bytes(), scratch + kScratchSeed,
                      scratch, &err)) {
    return cx.Abandon(env, index, err);
  }
  return id;
}

}  // namespace

SS_BINDING_FAMILY(hpke) {
  static const Binding kBindings[] = {
    {"hpkeLabeledExtract", bind<HpkeLabeledExtract>},
    {"hpkeContextKey", bind<HpkeContextKey>},
    {"hpkeSeal", bind<HpkeSeal>},
    {"hpkeOpen", bind<HpkeOpen>},
    {"hpkeDeriveP256", bind<HpkeDeriveP256>},
  };
  registry.add(kBindings);
}

}  // namespace ss
