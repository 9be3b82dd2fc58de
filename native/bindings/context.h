// What every binding family shares: the per-instance state (Context), the
// argument helpers that turn JavaScript values into checked native ones, and
// the registry a family lists its functions in.
//
// Context-aware: addon.cc creates one Context per Node environment (main
// thread, each worker) and hands it to every function as its callback data,
// so each thread has its own arena. Key bytes never cross this boundary:
// functions take and return handles (numbers) and public data only.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "keystore.h"
#include "ops/aead.h"
#include "ops/hkdf.h"

namespace ss {

// The arguments of one call, read with one napi_get_cb_info into a stack array.
// (node-addon-api's CallbackInfo allocates its argument array on the heap beyond
// six arguments; hkdfExpandMany takes seven.) Missing arguments read as undefined.
class Args {
 public:
  static constexpr size_t kMax = 8;
  Args(napi_env env, napi_callback_info cb) : env_(env) {
    size_t argc = kMax;
    if (napi_get_cb_info(env, cb, &argc, argv_, nullptr, &data_) != napi_ok) argc = 0;
    argc_ = argc;
    napi_value undefined = nullptr;
    for (size_t i = argc < kMax ? argc : kMax; i < kMax; i++) {
      if (!undefined) napi_get_undefined(env, &undefined);
      argv_[i] = undefined;
    }
  }
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;
  Napi::Env Env() const { return Napi::Env(env_); }
  // Every binding reads at most kMax arguments (checked where they are declared).
  Napi::Value operator[](size_t i) const { return i < kMax ? Napi::Value(env_, argv_[i]) : Env().Undefined(); }
  size_t Length() const { return argc_; }
  void* Data() const { return data_; }

 private:
  napi_env env_;
  size_t argc_ = 0;
  void* data_ = nullptr;
  napi_value argv_[kMax];
};

class Context {
 public:
  explicit Context(napi_env env) : store(env) {}

  KeyStore store;
  const HashSet* hashes = &hostOrSodium();
  const AesGcmEngine* aes = &aesGcmBest();  // configure({ aes: 'portable' }) picks aesGcmPortable()
  Napi::FunctionReference errorFactory;  // set by setErrorFactory; makes the typed JS errors

  // ---- errors (each returns undefined for `return Throw(...)`) -------------
  // Reads up to `max` elements of a JS array into `out` before anything else is validated
  // (element reads can run JavaScript); more than `max` is an error.
  bool Elements(Napi::Value v, uint32_t max, Napi::Value* out, uint32_t* n, Err* err);
  Napi::Value Throw(Napi::Env env, Code code, const std::string& message);
  Napi::Value Throw(Napi::Env env, const Err& err) { return Throw(env, err.code, err.message); }
  Napi::Value Bad(Napi::Env env, const std::string& message) { return Throw(env, Code::InvalidArgument, message); }

  // ---- argument helpers --------------------------------------------------
  // Each reads its argument with one N-API call where one suffices: a failed
  // napi_get_value_double / napi_get_typedarray_info is the type check (no
  // napi_typeof first), and undefined/null is asked about only when that failed.
  static bool NumberOf(napi_env env, napi_value v, double* out) { return napi_get_value_double(env, v, out) == napi_ok; }
  static bool Nullish(napi_env env, napi_value v) {
    napi_valuetype t;
    return napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null);
  }
  static bool Undefined(napi_env env, napi_value v) {
    napi_valuetype t;
    return napi_typeof(env, v, &t) == napi_ok && t == napi_undefined;
  }
  // A boolean argument: true only for `true` (anything else is false).
  static bool Flag(napi_env env, napi_value v) {
    bool b = false;
    return napi_get_value_bool(env, v, &b) == napi_ok && b;
  }
  // The bytes of a Uint8Array (or Buffer) argument; false for anything else. One
  // napi_get_typedarray_info is both the type check and the read. (napi_get_buffer_info,
  // which also takes other views, was tried and measured no faster.)
  static bool Uint8(napi_env env, napi_value v, In* out) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
      return false;
    }
    out->p = static_cast<const uint8_t*>(data);
    out->n = length;
    return true;
  }

  bool Bytes(const Args& info, size_t i, const char* name, In* out, bool optional, Err* err) {
    return BytesValue(info.Env(), info[i], name, out, optional, err);
  }

  bool BytesValue(napi_env env, napi_value v, const char* name, In* out, bool optional, Err* err) {
    if (Uint8(env, v, out)) return true;
    if (optional && Nullish(env, v)) {
      *out = In{};
      return true;
    }
    return err->set(Code::InvalidArgument, std::string(name) + " must be a Buffer or Uint8Array");
  }

  // An optional caller-provided output array of exactly `len` bytes (JS allocates from
  // its pool far cheaper than napi_create_buffer); otherwise a new Buffer.
  bool Output(const Args& info, size_t i, size_t len, Napi::Value* holder, uint8_t** data, Err* err) {
    napi_env env = info.Env();
    napi_value v = info[i];
    In o;
    if (Uint8(env, v, &o)) {
      if (o.n != len) return err->set(Code::InvalidArgument, "output must be " + std::to_string(len) + " bytes");
      *holder = Napi::Value(env, v);
      *data = const_cast<uint8_t*>(o.p);
      return true;
    }
    if (!Nullish(env, v)) return err->set(Code::InvalidArgument, "output must be a Buffer or Uint8Array");
    Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(info.Env(), len);
    *holder = b;
    *data = b.Data();
    return true;
  }

  bool Number(const Args& info, size_t i, double* out) { return NumberOf(info.Env(), info[i], out); }

  bool Size(const Args& info, size_t i, const char* name, size_t min, size_t max, size_t* out, Err* err) {
    double d;
    // Range first: casting NaN, infinities or huge values is undefined behaviour.
    if (!Number(info, i, &d) || !(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::floor(d)) {
      return err->set(Code::InvalidArgument, std::string(name) + " must be an integer from " + std::to_string(min) +
                                                 " to " + std::to_string(max));
    }
    *out = static_cast<size_t>(d);
    return true;
  }

  bool Key(const Args& info, size_t i, uint32_t* index, Err* err) { return KeyValue(info.Env(), info[i], index, err); }

  // A live key that is not lent: the check every operation makes on its key arguments.
  bool KeyValue(napi_env env, napi_value v, uint32_t* index, Err* err) {
    if (!store.arena().initialized()) return err->set(Code::NotInitialized, "secret memory is not initialised");
    double d;
    if (!NumberOf(env, v, &d)) return err->set(Code::InvalidHandle, "not a key handle");
    if (!store.decodeKey(d, index, err)) return false;
    if (store.slot(*index)->lent) {
      return err->set(Code::KeyLent, "key is lent to JavaScript by exposeUnsafe and cannot be used until returned");
    }
    return true;
  }

  // Scope owner argument: undefined/null/0 = no scope, else a live scope handle.
  bool Owner(const Args& info, size_t i, uint32_t* owner, Err* err) {
    napi_env env = info.Env();
    napi_value v = info[i];
    double d;
    if (!NumberOf(env, v, &d)) {
      if (!Nullish(env, v)) return err->set(Code::InvalidHandle, "not a scope handle");
      *owner = 0;
      return true;
    }
    if (d == 0) {
      *owner = 0;
      return true;
    }
    uint32_t s;
    if (!store.decodeScope(d, &s, err)) return false;
    *owner = s + 1;
    return true;
  }

  bool HashArg(const Args& info, size_t i, Hash* h, Err* err) {
    double d;
    if (!Number(info, i, &d) || (d != 0 && d != 1)) {
      return err->set(Code::UnsupportedAlgorithm, "hash must be sha256 or sha512");
    }
    *h = d == 0 ? Hash::Sha256 : Hash::Sha512;
    return true;
  }

  bool AeadArg(const Args& info, size_t i, Aead* a, Err* err) {
    double d;
    if (!Number(info, i, &d) || (d != 0 && d != 1 && d != 2 && d != 3)) {
      return err->set(Code::UnsupportedAlgorithm,
                      "AEAD algorithm must be xchacha20-poly1305, chacha20-poly1305, aes-256-gcm or aes-128-gcm");
    }
    *a = static_cast<Aead>(static_cast<int>(d));
    return true;
  }

  bool Scratch(uint8_t** p, Err* err) {
    *p = store.arena().scratch();
    if (!*p) return err->set(Code::NotInitialized, "secret memory is not initialised");
    return true;
  }

  Napi::Value NewKey(Napi::Env env, size_t len, KeyKind kind, uint32_t owner, bool sealed, uint32_t* index) {
    Err err;
    if (!store.create(len, kind, owner, sealed, index, &err)) return Throw(env, err);
    return Napi::Number::New(env, store.keyId(*index));
  }

  // Releases a half-built key after a failure and throws the failure.
  Napi::Value Abandon(Napi::Env env, uint32_t index, const Err& err);
};

// ---- registry ------------------------------------------------------------
// A binding is a plain function of (Context&, Args); bind<F> adapts it
// to a napi_callback that finds the Context in its callback data (no lookup).
using Method = Napi::Value (*)(Context& cx, const Args& info);

template <Method F>
napi_value bind(napi_env env, napi_callback_info cbinfo) {
  Args info(env, cbinfo);
  return F(*static_cast<Context*>(info.Data()), info);
}

struct Binding {
  const char* name;  // the JS-visible export name
  napi_callback callback;
};

// Collects every family's exports, then defines them on `exports` in one call.
class Registry {
 public:
  Registry(napi_env env, Context* cx) : env_(env), cx_(cx) {}
  template <size_t N>
  void add(const Binding (&table)[N]) {
    for (const Binding& b : table) addOne(b);
  }
  void value(const char* name, napi_value v);
  napi_status defineOn(napi_value exports);
  napi_env env() const { return env_; }

 private:
  void addOne(const Binding& b);
  napi_env env_;
  Context* cx_;
  std::vector<napi_property_descriptor> props_;
};

// Every bindings/<family>.cc ends with one of these: its table of exports.
#define SS_BINDING_FAMILY(family) void registerFamily_##family(::ss::Registry& registry)

}  // namespace ss
