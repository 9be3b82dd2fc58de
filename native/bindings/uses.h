// Key separation in the bindings: the checks an operation makes on its key
// arguments' use (key-use.h), the use argument of the deriving functions, and
// how a derived private key is made from HKDF output (ops/asymmetric.h).
#pragma once
#include <sodium.h>

#include <string>

#include "bindings/context.h"
#include "key-use.h"
#include "ops/asymmetric.h"
#include "ops/hkdf.h"

namespace ss {

// The derived-key seed sits after the HMAC area and the one-shot hkdf's PRK.
static_assert(kScratchSeed >= kScratchAfterHmac + 64, "the EC seed would overlap hkdf's PRK");

// The key's use must admit the operation.
inline bool Uses(Context& cx, uint32_t index, Op op, const char* what, Err* err) {
  return checkUse(cx.store.slot(index)->kind, op, what, err);
}

// A use argument (KeyKind number); undefined gives `dflt`. Root is never asked for, and
// hpke keys are made only by bindings/hpke.cc (a derived one would skip its key schedule).
inline bool UseArg(const Args& info, size_t i, KeyKind dflt, KeyKind* kind, Err* err) {
  double d;
  if (!Context::NumberOf(info.Env(), info[i], &d)) {
    if (!Context::Undefined(info.Env(), info[i])) return err->set(Code::InvalidArgument, "unknown key use");
    *kind = dflt;
    return true;
  }
  if (!kindFromNumber(d, kind) || *kind == KeyKind::Root || *kind == KeyKind::Hpke) {
    return err->set(Code::InvalidArgument, "unknown key use");
  }
  return true;
}

inline bool AsymmetricUse(const Args& info, size_t i, KeyKind* kind, Err* err) {
  if (!UseArg(info, i, KeyKind::Secret, kind, err)) return false;
  if (!isAsymmetric(*kind)) return err->set(Code::InvalidArgument, "use must be an asymmetric key use");
  return true;
}

// HKDF output bytes for a derived key of `kind` and key length `len`: `len` for
// symmetric keys; for private keys `len` must be the key's own and the output is okmLen.
inline bool DerivedOkm(KeyKind kind, size_t len, size_t* okm, Err* err) {
  if (!isAsymmetric(kind)) {
    *okm = len;
    return true;
  }
  if (len != privateKeyLen(kind)) {
    return err->set(Code::InvalidArgument, std::string("a derived ") + kindName(kind) + " key is " +
                                               std::to_string(privateKeyLen(kind)) + " bytes; got length " + std::to_string(len));
  }
  *okm = okmLen(kind);
  return true;
}

// Where HKDF writes a derived key's output: the slot itself, or scratch when the
// private key is computed from it (FinishDerived then maps it and wipes the scratch).
inline uint8_t* OkmTarget(size_t okm, size_t len, uint8_t* slotBytes, uint8_t* scratch) {
  return okm == len ? slotBytes : scratch + kScratchSeed;
}

inline void FinishDerived(KeyKind kind, size_t okm, size_t len, uint8_t* slotBytes, uint8_t* scratch) {
  if (okm == len) return;
  privateFromOkm(kind, scratch + kScratchSeed, slotBytes);
  sodium_memzero(scratch + kScratchSeed, okm);
}

}  // namespace ss
