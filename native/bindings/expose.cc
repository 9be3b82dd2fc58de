// exposeUnsafe's native half: the only path by which key bytes reach JavaScript.
#include "bindings/context.h"

namespace ss {
namespace {

// exposeBegin(key) lends a zero-copy view of the slot; exposeEnd(key) detaches
// it and wipes and releases the key. Scope end does the same.
Napi::Value ExposeBegin(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(env, err);
  Slot* s = cx.store.slot(k);
  if (s->sealed) return cx.Bad(env, "sealed root keys cannot be exposed");
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, s->alloc.bytes(), s->len);
  if (env.IsExceptionPending()) return env.Undefined();
  // Without the reference the view could never be detached when the key goes: refuse to lend.
  if (napi_create_reference(env, ab, 1, &s->lent) != napi_ok || s->lent == nullptr) {
    s->lent = nullptr;
    napi_detach_arraybuffer(env, ab);
    return cx.Throw(env, Code::Internal, "exposeUnsafe: the lent view could not be tracked; nothing was lent");
  }
  return ab;
}

Napi::Value ExposeEnd(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  double d;
  if (!cx.Number(info, 0, &d)) return cx.Throw(env, Code::InvalidHandle, "not a key handle");
  if (!cx.store.decodeKey(d, &k, &err)) return cx.Throw(env, err);
  if (!cx.store.destroy(k, &err)) {
    return cx.Throw(env, err);
  }
  return env.Undefined();
}

}  // namespace

SS_BINDING_FAMILY(expose) {
  static const Binding kBindings[] = {
    {"exposeBegin", bind<ExposeBegin>},
    {"exposeEnd", bind<ExposeEnd>},
  };
  registry.add(kBindings);
}

}  // namespace ss
