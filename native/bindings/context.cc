#include "bindings/context.h"

namespace ss {

Napi::Value Context::Throw(Napi::Env env, Code code, const std::string& message) {
  if (!errorFactory.IsEmpty()) {
    Napi::Value e = errorFactory.Call({Napi::String::New(env, codeName(code)), Napi::String::New(env, message)});
    if (!env.IsExceptionPending()) napi_throw(env, e);
  } else {
    Napi::Error e = Napi::Error::New(env, message);
    e.Set("code", Napi::String::New(env, codeName(code)));
    e.ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

bool Context::Elements(Napi::Value v, uint32_t max, Napi::Value* out, uint32_t* n, Err* err) {
  Napi::Array arr = v.As<Napi::Array>();
  const uint32_t length = arr.Length();
  if (v.Env().IsExceptionPending()) return err->set(Code::InvalidArgument, "the array could not be read");
  if (length > max) return err->set(Code::InvalidArgument, "at most " + std::to_string(max) + " elements; got " + std::to_string(length));
  for (uint32_t k = 0; k < length; k++) {
    out[k] = arr.Get(k);
    if (v.Env().IsExceptionPending()) return err->set(Code::InvalidArgument, "the array could not be read");
  }
  *n = length;
  return true;
}

Napi::Value Context::Abandon(Napi::Env env, uint32_t index, const Err& err) {
  Err ignored;
  store.destroy(index, &ignored);
  return Throw(env, err);
}

// Same attributes as Napi::Addon's InstanceMethod/InstanceValue gave them
// (napi_default: read-only, not enumerable), so the JS view is unchanged.
void Registry::addOne(const Binding& b) {
  props_.push_back({b.name, nullptr, b.callback, nullptr, nullptr, nullptr, napi_default, cx_});
}

void Registry::value(const char* name, napi_value v) {
  props_.push_back({name, nullptr, nullptr, nullptr, nullptr, v, napi_default, nullptr});
}

napi_status Registry::defineOn(napi_value exports) {
  return napi_define_properties(env_, exports, props_.size(), props_.data());
}

}  // namespace ss
