// Test hooks used by the guard and arena tests: destructive only, they never
// read key bytes.
#include "bindings/context.h"

namespace ss {
namespace {

Napi::Value TestCorrupt(Context& cx, const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  double off;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(env, err);
  if (!cx.Number(info, 1, &off)) return cx.Bad(env, "offset must be a number");
  uint8_t* p = cx.store.slot(k)->alloc.bytes() + static_cast<long>(off);
  *reinterpret_cast<volatile uint8_t*>(p) ^= 0xA5;
  return env.Undefined();
}

Napi::Value TestBytesToRegionEnd(Context& cx, const Napi::CallbackInfo& info) {
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), static_cast<double>(cx.store.arena().bytesToRegionEnd(cx.store.slot(k)->alloc)));
}

Napi::Value TestSlotAddress(Context& cx, const Napi::CallbackInfo& info) {
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(info.Env(), err);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(cx.store.slot(k)->alloc.bytes())));
}

}  // namespace

SS_BINDING_FAMILY(testing) {
  static const Binding kBindings[] = {
    {"testCorrupt", bind<TestCorrupt>},
    {"testBytesToRegionEnd", bind<TestBytesToRegionEnd>},
    {"testSlotAddress", bind<TestSlotAddress>},
  };
  registry.add(kBindings);
}

}  // namespace ss
