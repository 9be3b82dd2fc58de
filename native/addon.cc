// The N-API surface. Context-aware: every piece of state lives in the
// instance data of one SecretScopeAddon, so the addon loads in several worker
// threads at once and each thread has its own arena. Key bytes never cross this
// boundary: functions take and return handles (numbers) and public data only.

#include <napi.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <cmath>
#include <memory>
#include <string>

#include "key-use.h"
#include "keystore.h"
#include "ops.h"
#include "ops/asymmetric.h"

namespace ss {

// hkdfExpandMany: outputs per call (the per-invocation key sets this serves are small).
constexpr uint32_t kMaxExpandMany = 64;

class SecretScopeAddon : public Napi::Addon<SecretScopeAddon> {
 public:
  SecretScopeAddon(Napi::Env env, Napi::Object exports) : store_(env) {
    DefineAddon(exports, {
        InstanceMethod("setErrorFactory", &SecretScopeAddon::SetErrorFactory),
        InstanceMethod("configure", &SecretScopeAddon::Configure),
        InstanceMethod("report", &SecretScopeAddon::Report),
        InstanceMethod("verify", &SecretScopeAddon::Verify),
        InstanceMethod("hardenProcess", &SecretScopeAddon::HardenProcess),
        InstanceMethod("purge", &SecretScopeAddon::Purge),
        InstanceMethod("scopeOpen", &SecretScopeAddon::ScopeOpen),
        InstanceMethod("scopeClose", &SecretScopeAddon::ScopeClose),
        InstanceMethod("scopeAlive", &SecretScopeAddon::ScopeAlive),
        InstanceMethod("scopeKeyCount", &SecretScopeAddon::ScopeKeyCount),
        InstanceMethod("keyRelease", &SecretScopeAddon::KeyRelease),
        InstanceMethod("keyLength", &SecretScopeAddon::KeyLength),
        InstanceMethod("keyAlive", &SecretScopeAddon::KeyAlive),
        InstanceMethod("keyRandom", &SecretScopeAddon::KeyRandom),
        InstanceMethod("keyImport", &SecretScopeAddon::KeyImport),
        InstanceMethod("keyDecode", &SecretScopeAddon::KeyDecode),
        InstanceMethod("hkdfExtract", &SecretScopeAddon::HkdfExtract),
        InstanceMethod("hkdfExpand", &SecretScopeAddon::HkdfExpand),
        InstanceMethod("hkdfExpandMany", &SecretScopeAddon::HkdfExpandMany),
        InstanceMethod("hkdf", &SecretScopeAddon::Hkdf),
        InstanceMethod("hmacSign", &SecretScopeAddon::HmacSign),
        InstanceMethod("hmacVerify", &SecretScopeAddon::HmacVerify),
        InstanceMethod("aeadSeal", &SecretScopeAddon::AeadSeal),
        InstanceMethod("aeadOpen", &SecretScopeAddon::AeadOpen),
        InstanceMethod("x25519Generate", &SecretScopeAddon::X25519Generate),
        InstanceMethod("x25519Public", &SecretScopeAddon::X25519PublicKey),
        InstanceMethod("x25519Shared", &SecretScopeAddon::X25519SharedKey),
        InstanceMethod("keyGenerate", &SecretScopeAddon::KeyGenerate),
        InstanceMethod("keyImportPrivate", &SecretScopeAddon::KeyImportPrivate),
        InstanceMethod("keyPublic", &SecretScopeAddon::KeyPublic),
        InstanceMethod("keyUse", &SecretScopeAddon::KeyUseName),
        InstanceMethod("sign", &SecretScopeAddon::Sign),
        InstanceMethod("agree", &SecretScopeAddon::Agree),
        InstanceMethod("exposeBegin", &SecretScopeAddon::ExposeBegin),
        InstanceMethod("exposeEnd", &SecretScopeAddon::ExposeEnd),
        InstanceMethod("testCorrupt", &SecretScopeAddon::TestCorrupt),
        InstanceMethod("testBytesToRegionEnd", &SecretScopeAddon::TestBytesToRegionEnd),
        InstanceMethod("testSlotAddress", &SecretScopeAddon::TestSlotAddress),
        InstanceValue("libsodiumVersion", Napi::String::New(env, sodium_version_string())),
    });
  }

 private:
  // ---- errors ------------------------------------------------------------
  Napi::Value Throw(Napi::Env env, Code code, const std::string& message) {
    if (!errorFactory_.IsEmpty()) {
      Napi::Value e = errorFactory_.Call({Napi::String::New(env, codeName(code)), Napi::String::New(env, message)});
      if (!env.IsExceptionPending()) napi_throw(env, e);
    } else {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("code", Napi::String::New(env, codeName(code)));
      e.ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  Napi::Value Throw(Napi::Env env, const Err& err) { return Throw(env, err.code, err.message); }
  Napi::Value Bad(Napi::Env env, const std::string& message) { return Throw(env, Code::InvalidArgument, message); }

  // ---- argument helpers --------------------------------------------------
  bool Bytes(const Napi::CallbackInfo& info, size_t i, const char* name, In* out, bool optional, Err* err) {
    return BytesValue(info.Env(), info[i], name, out, optional, err);
  }

  bool BytesValue(napi_env env, Napi::Value v, const char* name, In* out, bool optional, Err* err) {
    if (optional && (v.IsUndefined() || v.IsNull())) {
      *out = In{};
      return true;
    }
    if (v.IsTypedArray()) {
      napi_typedarray_type type;
      size_t length;
      void* data;
      napi_value ab;
      size_t offset;
      if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) == napi_ok &&
          type == napi_uint8_array) {
        out->p = static_cast<const uint8_t*>(data);
        out->n = length;
        return true;
      }
    }
    return err->set(Code::InvalidArgument, std::string(name) + " must be a Buffer or Uint8Array");
  }

  // An optional caller-provided output array of exactly `len` bytes (JS allocates from
  // its pool far cheaper than napi_create_buffer); otherwise a new Buffer.
  bool Output(const Napi::CallbackInfo& info, size_t i, size_t len, Napi::Value* holder, uint8_t** data, Err* err) {
    Napi::Value v = info[i];
    if (v.IsUndefined() || v.IsNull()) {
      Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::New(info.Env(), len);
      *holder = b;
      *data = b.Data();
      return true;
    }
    In o;
    if (!Bytes(info, i, "output", &o, false, err)) return false;
    if (o.n != len) return err->set(Code::InvalidArgument, "output must be " + std::to_string(len) + " bytes");
    *holder = v;
    *data = const_cast<uint8_t*>(o.p);
    return true;
  }

  bool Number(const Napi::CallbackInfo& info, size_t i, double* out) {
    Napi::Value v = info[i];
    if (!v.IsNumber()) return false;
    *out = v.As<Napi::Number>().DoubleValue();
    return true;
  }

  bool Size(const Napi::CallbackInfo& info, size_t i, const char* name, size_t min, size_t max, size_t* out, Err* err) {
    double d;
    // Range first: casting NaN, infinities or huge values is undefined behaviour.
    if (!Number(info, i, &d) || !(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::floor(d)) {
      return err->set(Code::InvalidArgument, std::string(name) + " must be an integer from " + std::to_string(min) +
                                                 " to " + std::to_string(max));
    }
    *out = static_cast<size_t>(d);
    return true;
  }

  bool Key(const Napi::CallbackInfo& info, size_t i, uint32_t* index, Err* err) { return KeyValue(info[i], index, err); }

  // A live key that is not lent: the check every operation makes on its key arguments.
  bool KeyValue(Napi::Value v, uint32_t* index, Err* err) {
    if (!store_.arena().initialized()) return err->set(Code::NotInitialized, "secret memory is not initialised");
    if (!v.IsNumber()) return err->set(Code::InvalidHandle, "not a key handle");
    if (!store_.decodeKey(v.As<Napi::Number>().DoubleValue(), index, err)) return false;
    if (store_.slot(*index)->lent) {
      return err->set(Code::KeyLent, "key is lent to JavaScript by exposeUnsafe and cannot be used until returned");
    }
    return true;
  }

  // Scope owner argument: undefined/0 = no scope, else a live scope handle.
  bool Owner(const Napi::CallbackInfo& info, size_t i, uint32_t* owner, Err* err) {
    Napi::Value v = info[i];
    if (v.IsUndefined() || v.IsNull() || (v.IsNumber() && v.As<Napi::Number>().DoubleValue() == 0)) {
      *owner = 0;
      return true;
    }
    if (!v.IsNumber()) return err->set(Code::InvalidHandle, "not a scope handle");
    uint32_t s;
    if (!store_.decodeScope(v.As<Napi::Number>().DoubleValue(), &s, err)) return false;
    *owner = s + 1;
    return true;
  }

  bool HashArg(const Napi::CallbackInfo& info, size_t i, Hash* h, Err* err) {
    double d;
    if (!Number(info, i, &d) || (d != 0 && d != 1)) {
      return err->set(Code::UnsupportedAlgorithm, "hash must be sha256 or sha512");
    }
    *h = d == 0 ? Hash::Sha256 : Hash::Sha512;
    return true;
  }

  bool AeadArg(const Napi::CallbackInfo& info, size_t i, Aead* a, Err* err) {
    double d;
    if (!Number(info, i, &d) || (d != 0 && d != 1 && d != 2)) {
      return err->set(Code::UnsupportedAlgorithm,
                      "AEAD algorithm must be xchacha20-poly1305, chacha20-poly1305 or aes-256-gcm");
    }
    *a = static_cast<Aead>(static_cast<int>(d));
    return true;
  }

  bool Scratch(uint8_t** p, Err* err) {
    *p = store_.arena().scratch();
    if (!*p) return err->set(Code::NotInitialized, "secret memory is not initialised");
    return true;
  }

  // The key's use must admit the operation (key separation, key-use.h).
  bool Uses(uint32_t index, Op op, const char* what, Err* err) { return checkUse(store_.slot(index)->kind, op, what, err); }

  // A use argument (KeyKind number); undefined gives `dflt`.
  bool UseArg(const Napi::CallbackInfo& info, size_t i, KeyKind dflt, KeyKind* kind, Err* err) {
    Napi::Value v = info[i];
    if (v.IsUndefined()) {
      *kind = dflt;
      return true;
    }
    if (!v.IsNumber() || !kindFromNumber(v.As<Napi::Number>().DoubleValue(), kind) || *kind == KeyKind::Root) {
      return err->set(Code::InvalidArgument, "unknown key use");
    }
    return true;
  }

  bool AsymmetricUse(const Napi::CallbackInfo& info, size_t i, KeyKind* kind, Err* err) {
    if (!UseArg(info, i, KeyKind::Secret, kind, err)) return false;
    if (!isAsymmetric(*kind)) return err->set(Code::InvalidArgument, "use must be an asymmetric key use");
    return true;
  }

  // HKDF output bytes for a derived key of `kind` and key length `len`: the length for
  // symmetric keys; for private keys the length is the key's own and the output is okmLen.
  bool DerivedOkm(KeyKind kind, size_t len, size_t* okm, Err* err) {
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
  // private key is computed from it (FinishDerived then reduces and wipes).
  uint8_t* OkmTarget(size_t okm, size_t len, uint8_t* slotBytes, uint8_t* scratch) {
    return okm == len ? slotBytes : scratch + kScratchSeed;
  }
  void FinishDerived(KeyKind kind, size_t okm, size_t len, uint8_t* slotBytes, uint8_t* scratch) {
    if (okm == len) return;
    privateFromOkm(kind, scratch + kScratchSeed, slotBytes);
    sodium_memzero(scratch + kScratchSeed, okm);
  }

  Napi::Value NewKey(Napi::Env env, size_t len, KeyKind kind, uint32_t owner, bool sealed, uint32_t* index) {
    Err err;
    if (!store_.create(len, kind, owner, sealed, index, &err)) return Throw(env, err);
    return Napi::Number::New(env, store_.keyId(*index));
  }

  // Releases a half-built key after a failure and throws the failure.
  Napi::Value Abandon(Napi::Env env, uint32_t index, const Err& err) {
    Err ignored;
    store_.destroy(index, &ignored);
    return Throw(env, err);
  }

  // ---- configuration and reporting ---------------------------------------
  Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
    if (!info[0].IsFunction()) return Bad(info.Env(), "error factory must be a function");
    errorFactory_ = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (store_.arena().initialized()) return Throw(env, Code::InvalidArgument, "secret memory is already initialised");
    ArenaConfig c;
    if (!info[0].IsObject()) return Bad(env, "configure() needs an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string backend = o.Get("backend").IsString() ? o.Get("backend").As<Napi::String>().Utf8Value() : "auto";
    std::string require = o.Get("require").IsString() ? o.Get("require").As<Napi::String>().Utf8Value() : "locked";
    if (backend == "auto") {
      c.autoBackend = true;
    } else if (backend == "memfd_secret") {
      c.autoBackend = false;
      c.forced = Backend::MemfdSecret;
    } else if (backend == "mlock") {
      c.autoBackend = false;
      c.forced = Backend::Mlock;
    } else if (backend == "plain") {
      c.autoBackend = false;
      c.forced = Backend::Plain;
    } else {
      return Bad(env, "backend must be 'auto', 'memfd_secret', 'mlock' or 'plain'");
    }
    if (require == "secret") {
      c.require = Requirement::Secret;
    } else if (require == "locked") {
      c.require = Requirement::Locked;
    } else if (require == "any") {
      c.require = Requirement::Any;
    } else {
      return Bad(env, "require must be 'secret', 'locked' or 'any'");
    }
    if (o.Get("regionPages").IsNumber()) {
      double p = o.Get("regionPages").As<Napi::Number>().DoubleValue();
      if (!(p >= 1 && p <= 1024) || p != std::floor(p)) return Bad(env, "regionPages must be an integer from 1 to 1024");
      c.regionPages = static_cast<size_t>(p);
    }
    if (o.Get("maxRegions").IsNumber()) {
      double p = o.Get("maxRegions").As<Napi::Number>().DoubleValue();
      if (!(p >= 1 && p <= 65536) || p != std::floor(p)) return Bad(env, "maxRegions must be an integer from 1 to 65536");
      c.maxRegions = static_cast<size_t>(p);
    }
    if (o.Get("retainRegions").IsNumber()) {
      double p = o.Get("retainRegions").As<Napi::Number>().DoubleValue();
      if (!(p >= 0 && p <= 65536) || p != std::floor(p)) return Bad(env, "retainRegions must be an integer from 0 to 65536");
      c.retainRegions = static_cast<size_t>(p);
    }
    if (o.Get("sha2").IsString()) {
      std::string e = o.Get("sha2").As<Napi::String>().Utf8Value();
      if (e == "libsodium") {
        hashes_ = &sodiumOnly();
      } else if (e != "auto") {
        return Bad(env, "sha2 must be 'auto' or 'libsodium'");
      }
    }
    if (sodium_init() < 0) return Throw(env, Code::Internal, "libsodium failed to initialise");
    Err err;
    if (!store_.arena().init(c, &err)) return Throw(env, err);
    return Report(info);
  }

  Napi::Value Report(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object r = Napi::Object::New(env);
    const Arena& a = store_.arena();
    const ArenaStatus& s = a.status();
    r.Set("initialized", s.initialized);
    r.Set("backend", s.initialized ? backendName(s.backend) : "none");
    const char* req = a.config().require == Requirement::Secret ? "secret"
                      : a.config().require == Requirement::Locked ? "locked"
                                                                  : "any";
    r.Set("require", req);
    r.Set("locked", s.initialized && s.locked);
    r.Set("dontdump", s.initialized && s.dontdump);
    r.Set("dontfork", s.initialized && s.dontfork);
    r.Set("guardPages", s.initialized && s.guardPages);
    Napi::Object memfd = Napi::Object::New(env);
    memfd.Set("tried", s.memfdSecretTried);
    memfd.Set("used", s.initialized && s.backend == Backend::MemfdSecret);
    if (s.memfdSecretErrno) {
      memfd.Set("errno", s.memfdSecretErrno);
      memfd.Set("error", errnoText(s.memfdSecretErrno));
    }
    r.Set("memfdSecret", memfd);
    Napi::Object ml = Napi::Object::New(env);
    ml.Set("failures", static_cast<double>(s.lockFailures));
    if (s.mlockErrno) {
      ml.Set("errno", s.mlockErrno);
      ml.Set("error", errnoText(s.mlockErrno));
    }
    r.Set("mlock", ml);
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
      r.Set("memlockLimit", rl.rlim_cur == RLIM_INFINITY ? Napi::Value(env.Null())
                                                          : Napi::Value(Napi::Number::New(env, static_cast<double>(rl.rlim_cur))));
    }
    r.Set("lockedBytes", static_cast<double>(s.lockedBytes));
    r.Set("reservedBytes", static_cast<double>(s.reservedBytes));
    r.Set("pageSize", static_cast<double>(a.pageSize()));
    r.Set("regionPages", static_cast<double>(a.config().regionPages));
    r.Set("regions", static_cast<double>(a.regionCount()));
    r.Set("regionsCreated", static_cast<double>(s.regionsCreated));
    r.Set("regionsReleased", static_cast<double>(s.regionsReleased));
    r.Set("liveSlots", static_cast<double>(store_.liveSlots()));
    r.Set("liveScopes", static_cast<double>(store_.liveScopes()));
    r.Set("cellsInUse", static_cast<double>(a.usedCells()));
    r.Set("cellsTotal", static_cast<double>(a.totalCells()));
    struct utsname u;
    if (uname(&u) == 0) {
      r.Set("kernel", u.release);
      r.Set("machine", u.machine);
    }
    r.Set("libsodium", sodium_version_string());
    r.Set("sha2", hashes_->sha256->engine);
    r.Set("aes256gcm", sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() == 1);
    r.Set("dumpable", prctl(PR_GET_DUMPABLE) == 1);
    struct rlimit core;
    if (getrlimit(RLIMIT_CORE, &core) == 0) {
      r.Set("coreLimit", core.rlim_cur == RLIM_INFINITY ? Napi::Value(env.Null())
                                                         : Napi::Value(Napi::Number::New(env, static_cast<double>(core.rlim_cur))));
    }
    Napi::Array notes = Napi::Array::New(env, s.notes.size());
    for (size_t i = 0; i < s.notes.size(); i++) notes.Set(static_cast<uint32_t>(i), s.notes[i]);
    r.Set("notes", notes);
    return r;
  }

  Napi::Value Verify(const Napi::CallbackInfo& info) {
    Err err;
    if (!store_.verifyAll(&err)) {
      return Throw(info.Env(), err);
    }
    return Napi::Number::New(info.Env(), static_cast<double>(store_.liveSlots()));
  }

  Napi::Value HardenProcess(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string problems;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) problems += "PR_SET_DUMPABLE: " + errnoText(errno) + "; ";
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_CORE, &zero) != 0) problems += "RLIMIT_CORE: " + errnoText(errno) + "; ";
    if (!problems.empty()) return Throw(env, Code::ProtectionUnavailable, "process hardening failed: " + problems);
    Napi::Object r = Napi::Object::New(env);
    r.Set("dumpable", prctl(PR_GET_DUMPABLE) == 1);
    r.Set("coreLimit", 0);
    return r;
  }

  Napi::Value Purge(const Napi::CallbackInfo& info) {
    size_t n = store_.purge();
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // ---- scopes ------------------------------------------------------------
  Napi::Value ScopeOpen(const Napi::CallbackInfo& info) {
    double id;
    Err err;
    if (!store_.openScope(&id, &err)) return Throw(info.Env(), err);
    return Napi::Number::New(info.Env(), id);
  }

  Napi::Value ScopeClose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double d;
    Err err;
    uint32_t s, wiped = 0;
    if (!Number(info, 0, &d)) return Throw(env, Code::InvalidHandle, "not a scope handle");
    if (!store_.decodeScope(d, &s, &err)) return Throw(env, err);
    if (!store_.closeScope(s, &wiped, &err)) {
      return Throw(env, err);
    }
    return Napi::Number::New(env, wiped);
  }

  Napi::Value ScopeAlive(const Napi::CallbackInfo& info) {
    double d;
    if (!Number(info, 0, &d)) return Napi::Boolean::New(info.Env(), false);
    return Napi::Boolean::New(info.Env(), store_.scopeAlive(d));
  }

  Napi::Value ScopeKeyCount(const Napi::CallbackInfo& info) {
    double d;
    uint32_t s;
    Err err;
    if (!Number(info, 0, &d)) return Throw(info.Env(), Code::InvalidHandle, "not a scope handle");
    if (!store_.decodeScope(d, &s, &err)) return Throw(info.Env(), err);
    return Napi::Number::New(info.Env(), store_.scope(s).keys);
  }

  // ---- keys --------------------------------------------------------------
  Napi::Value KeyRelease(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t i;
    Err err;
    double d;
    if (!Number(info, 0, &d)) return Throw(env, Code::InvalidHandle, "not a key handle");
    if (!store_.decodeKey(d, &i, &err)) return Throw(env, err);
    if (!store_.destroy(i, &err)) {
      return Throw(env, err);
    }
    return env.Undefined();
  }

  Napi::Value KeyLength(const Napi::CallbackInfo& info) {
    uint32_t i;
    Err err;
    double d;
    if (!Number(info, 0, &d)) return Throw(info.Env(), Code::InvalidHandle, "not a key handle");
    if (!store_.decodeKey(d, &i, &err)) return Throw(info.Env(), err);
    return Napi::Number::New(info.Env(), store_.slot(i)->len);
  }

  Napi::Value KeyAlive(const Napi::CallbackInfo& info) {
    uint32_t i;
    Err err;
    double d;
    if (!Number(info, 0, &d)) return Napi::Boolean::New(info.Env(), false);
    return Napi::Boolean::New(info.Env(), store_.decodeKey(d, &i, &err));
  }

  // keyRandom(length, scope, sealed)
  Napi::Value KeyRandom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    size_t len;
    uint32_t owner, index;
    if (!Size(info, 0, "key length", 1, kMaxKeyBytes, &len, &err) || !Owner(info, 1, &owner, &err)) return Throw(env, err);
    bool sealed = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    Napi::Value id = NewKey(env, len, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
    if (env.IsExceptionPending()) return id;
    Slot* s = store_.slot(index);
    SlotAccess acc(&store_, s);
    if (!fillRandom(acc.bytes(), len, &err)) return Abandon(env, index, err);
    return id;
  }

  // keyImport(bytes, scope, sealed): copies into a slot, then zeroes the caller's bytes.
  Napi::Value KeyImport(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    In src;
    uint32_t owner, index;
    if (!Bytes(info, 0, "key material", &src, false, &err) || !Owner(info, 1, &owner, &err)) return Throw(env, err);
    if (src.n == 0 || src.n > kMaxKeyBytes) return Bad(env, "key material must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
    bool sealed = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    Napi::Value id = NewKey(env, src.n, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
    if (env.IsExceptionPending()) return id;
    {
      SlotAccess acc(&store_, store_.slot(index));
      std::memcpy(acc.bytes(), src.p, src.n);
    }
    sodium_memzero(const_cast<uint8_t*>(src.p), src.n);
    return id;
  }

  // keyDecode(bytes, offset, length, encoding, scope, sealed): decodes text key
  // material straight into a slot and zeroes the source range.
  Napi::Value KeyDecode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    In src;
    size_t off, len, enc, outLen;
    uint32_t owner, index;
    if (!Bytes(info, 0, "encoded key material", &src, false, &err)) return Throw(env, err);
    if (!Size(info, 1, "offset", 0, src.n, &off, &err) || !Size(info, 2, "length", 1, src.n - off, &len, &err) ||
        !Size(info, 3, "encoding", 0, 2, &enc, &err) || !Owner(info, 4, &owner, &err)) {
      return Throw(env, err);
    }
    bool sealed = info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    In part{src.p + off, len};
    auto* wipeFrom = const_cast<uint8_t*>(part.p);
    if (!decodedLength(static_cast<Encoding>(enc), part, &outLen, &err) || outLen == 0 || outLen > kMaxKeyBytes) {
      sodium_memzero(wipeFrom, len);
      if (!err) err.set(Code::InvalidArgument, "decoded key material must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
      return Throw(env, err);
    }
    Napi::Value id = NewKey(env, outLen, sealed ? KeyKind::Root : KeyKind::Secret, owner, sealed, &index);
    if (env.IsExceptionPending()) {
      sodium_memzero(wipeFrom, len);
      return id;
    }
    bool ok;
    {
      SlotAccess acc(&store_, store_.slot(index));
      ok = decodeInto(static_cast<Encoding>(enc), part, acc.bytes(), outLen, &err);
    }
    sodium_memzero(wipeFrom, len);
    if (!ok) return Abandon(env, index, err);
    return id;
  }

  // ---- HKDF --------------------------------------------------------------
  // hkdfExtract(hash, ikm: handle | handle[], salt?, scope)
  Napi::Value HkdfExtract(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    In salt;
    uint32_t owner, index;
    if (!HashArg(info, 0, &h, &err) || !Bytes(info, 2, "salt", &salt, true, &err) || !Owner(info, 3, &owner, &err)) {
      return Throw(env, err);
    }
    uint32_t ikm[8];
    size_t parts = 0;
    if (info[1].IsArray()) {
      Napi::Array arr = info[1].As<Napi::Array>();
      if (arr.Length() == 0 || arr.Length() > 8) return Bad(env, "HKDF input key material takes 1 to 8 keys");
      for (uint32_t k = 0; k < arr.Length(); k++) {
        if (!KeyValue(arr.Get(k), &ikm[parts], &err) || !Uses(ikm[parts], Op::Hkdf, "hkdfExtract", &err)) return Throw(env, err);
        parts++;
      }
    } else {
      if (!Key(info, 1, &ikm[0], &err) || !Uses(ikm[0], Op::Hkdf, "hkdfExtract", &err)) return Throw(env, err);
      parts = 1;
    }
    uint8_t* scratch;
    if (!Scratch(&scratch, &err)) return Throw(env, err);
    Napi::Value id = NewKey(env, hashLen(h), KeyKind::Hkdf, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    In in[8];
    std::unique_ptr<SlotAccess> acc[8];
    for (size_t k = 0; k < parts; k++) {
      Slot* s = store_.slot(ikm[k]);
      acc[k].reset(new SlotAccess(&store_, s));
      in[k] = In{acc[k]->bytes(), s->len};
    }
    if (!hkdfExtract(*hashes_, h, salt, in, parts, store_.slot(index)->alloc.bytes(), scratch, &err)) return Abandon(env, index, err);
    return id;
  }

  // hkdfExpandMany(hash, prk, infos[], length, scope, ids: Float64Array, use?) -> count
  // One output key per info, HMAC keyed once. All or nothing: on any failure no key is left.
  Napi::Value HkdfExpandMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    size_t len;
    uint32_t prk, owner;
    uint8_t* scratch;
    if (!HashArg(info, 0, &h, &err) || !Key(info, 1, &prk, &err) ||
        !Size(info, 3, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !Owner(info, 4, &owner, &err) ||
        !Scratch(&scratch, &err) || !Uses(prk, Op::Hkdf, "hkdfExpandMany", &err)) {
      return Throw(env, err);
    }
    KeyKind kind;
    size_t okm;
    if (!UseArg(info, 6, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return Throw(env, err);
    if (!info[2].IsArray()) return Bad(env, "HKDF-Expand infos must be an array");
    Napi::Array arr = info[2].As<Napi::Array>();
    const uint32_t n = arr.Length();
    if (n == 0 || n > kMaxExpandMany) {
      return Bad(env, "HKDF-Expand takes 1 to " + std::to_string(kMaxExpandMany) + " infos at once; got " + std::to_string(n));
    }
    In infos[kMaxExpandMany];
    for (uint32_t k = 0; k < n; k++) {
      if (!BytesValue(env, arr.Get(k), "info", &infos[k], true, &err)) return Throw(env, err);
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
        return Bad(env, "HKDF-Expand ids must be a Float64Array with room for every key");
      }
      ids = static_cast<double*>(data);
    }
    if (store_.slot(prk)->len < hashLen(h)) return Bad(env, "HKDF-Expand needs a pseudorandom key of at least HashLen bytes");
    uint32_t index[kMaxExpandMany];
    for (uint32_t k = 0; k < n; k++) {
      if (!store_.create(len, kind, owner, false, &index[k], &err)) {
        for (uint32_t j = 0; j < k; j++) {
          Err ignored;
          store_.destroy(index[j], &ignored);
        }
        return Throw(env, err);
      }
    }
    uint8_t* outs[kMaxExpandMany];
    for (uint32_t k = 0; k < n; k++) outs[k] = store_.slot(index[k])->alloc.bytes();
    Slot* ps = store_.slot(prk);
    bool ok;
    {
      SlotAccess acc(&store_, ps);
      if (okm == len) {
        ok = hkdfExpandMany(*hashes_, h, acc.bytes(), ps->len, infos, n, outs, len, scratch, &err);
      } else {
        ok = true;
        for (uint32_t k = 0; k < n && ok; k++) {
          ok = hkdfExpand(*hashes_, h, acc.bytes(), ps->len, infos[k], scratch + kScratchSeed, okm, scratch, &err);
          if (ok) FinishDerived(kind, okm, len, outs[k], scratch);
        }
        sodium_memzero(scratch + kScratchSeed, okm);
      }
    }
    if (!ok) {
      for (uint32_t k = 0; k < n; k++) {
        Err ignored;
        store_.destroy(index[k], &ignored);
      }
      return Throw(env, err);
    }
    for (uint32_t k = 0; k < n; k++) ids[k] = store_.keyId(index[k]);
    return Napi::Number::New(env, n);
  }

  // hkdfExpand(hash, prk, info, length, scope, use?)
  Napi::Value HkdfExpand(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    In inf;
    size_t len;
    uint32_t prk, owner, index;
    uint8_t* scratch;
    if (!HashArg(info, 0, &h, &err) || !Key(info, 1, &prk, &err) || !Bytes(info, 2, "info", &inf, true, &err) ||
        !Size(info, 3, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !Owner(info, 4, &owner, &err) ||
        !Scratch(&scratch, &err) || !Uses(prk, Op::Hkdf, "hkdfExpand", &err)) {
      return Throw(env, err);
    }
    KeyKind kind;
    size_t okm;
    if (!UseArg(info, 5, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return Throw(env, err);
    Slot* ps = store_.slot(prk);
    if (ps->len < hashLen(h)) return Bad(env, "HKDF-Expand needs a pseudorandom key of at least HashLen bytes");
    Napi::Value id = NewKey(env, len, kind, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    ps = store_.slot(prk);
    SlotAccess acc(&store_, ps);
    uint8_t* out = store_.slot(index)->alloc.bytes();
    uint8_t* dst = OkmTarget(okm, len, out, scratch);
    if (!hkdfExpand(*hashes_, h, acc.bytes(), ps->len, inf, dst, okm, scratch, &err)) {
      if (dst != out) sodium_memzero(dst, okm);
      return Abandon(env, index, err);
    }
    FinishDerived(kind, okm, len, out, scratch);
    return id;
  }

  // hkdf(hash, ikm, salt?, info, length, scope, use?): extract + expand, PRK only in scratch.
  Napi::Value Hkdf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    In salt, inf;
    size_t len;
    uint32_t ikm, owner, index;
    uint8_t* scratch;
    if (!HashArg(info, 0, &h, &err) || !Key(info, 1, &ikm, &err) || !Bytes(info, 2, "salt", &salt, true, &err) ||
        !Bytes(info, 3, "info", &inf, true, &err) ||
        !Size(info, 4, "HKDF output length", 1, 255 * hashLen(h), &len, &err) || !Owner(info, 5, &owner, &err) ||
        !Scratch(&scratch, &err) || !Uses(ikm, Op::Hkdf, "hkdf", &err)) {
      return Throw(env, err);
    }
    KeyKind kind;
    size_t okm;
    if (!UseArg(info, 6, KeyKind::Hkdf, &kind, &err) || !DerivedOkm(kind, len, &okm, &err)) return Throw(env, err);
    Napi::Value id = NewKey(env, len, kind, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    Slot* is = store_.slot(ikm);
    SlotAccess acc(&store_, is);
    uint8_t* prk = scratch + 1280;  // after the HMAC area, which each HKDF step wipes (ops.cc layout)
    In part{acc.bytes(), is->len};
    uint8_t* out = store_.slot(index)->alloc.bytes();
    uint8_t* dst = OkmTarget(okm, len, out, scratch);
    bool ok = hkdfExtract(*hashes_, h, salt, &part, 1, prk, scratch, &err) &&
              hkdfExpand(*hashes_, h, prk, hashLen(h), inf, dst, okm, scratch, &err);
    sodium_memzero(prk, hashLen(h));
    if (ok) FinishDerived(kind, okm, len, out, scratch);
    if (dst != out) sodium_memzero(dst, okm);
    if (!ok) return Abandon(env, index, err);
    return id;
  }

  // ---- HMAC --------------------------------------------------------------
  Napi::Value HmacSign(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    In msg;
    uint32_t k;
    size_t tagLen;
    uint8_t* scratch;
    if (!HashArg(info, 0, &h, &err) || !Key(info, 1, &k, &err) || !Uses(k, Op::Hmac, "hmacSign", &err) ||
        !Bytes(info, 2, "message", &msg, false, &err)) {
      return Throw(env, err);
    }
    if (info[3].IsUndefined()) {
      tagLen = hashLen(h);
    } else if (!Size(info, 3, "tag length", 16, hashLen(h), &tagLen, &err)) {
      return Throw(env, err);
    }
    if (!Scratch(&scratch, &err)) return Throw(env, err);
    Slot* s = store_.slot(k);
    SlotAccess acc(&store_, s);
    Napi::Value out;
    uint8_t* data;
    if (!Output(info, 4, tagLen, &out, &data, &err)) return Throw(env, err);
    if (!hmacSign(*hashes_, h, In{acc.bytes(), s->len}, msg, data, tagLen, scratch, &err)) return Throw(env, err);
    return out;
  }

  Napi::Value HmacVerify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Hash h;
    In msg, tag;
    uint32_t k;
    uint8_t* scratch;
    bool valid = false;
    if (!HashArg(info, 0, &h, &err) || !Key(info, 1, &k, &err) || !Uses(k, Op::Hmac, "hmacVerify", &err) ||
        !Bytes(info, 2, "message", &msg, false, &err) || !Bytes(info, 3, "tag", &tag, false, &err) ||
        !Scratch(&scratch, &err)) {
      return Throw(env, err);
    }
    Slot* s = store_.slot(k);
    SlotAccess acc(&store_, s);
    if (!hmacVerify(*hashes_, h, In{acc.bytes(), s->len}, msg, tag, &valid, scratch, &err)) return Throw(env, err);
    return Napi::Boolean::New(env, valid);
  }

  // ---- AEAD --------------------------------------------------------------
  // aeadSeal(alg, key, nonce, plaintext, aad?) -> ciphertext || tag
  Napi::Value AeadSeal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Aead a;
    In nonce, msg, aad;
    uint32_t k;
    uint8_t* scratch;
    if (!AeadArg(info, 0, &a, &err) || !Key(info, 1, &k, &err) || !Uses(k, Op::Aead, "aeadSeal", &err) ||
        !Bytes(info, 2, "nonce", &nonce, false, &err) || !Bytes(info, 3, "plaintext", &msg, false, &err) || !Bytes(info, 4, "associated data", &aad, true, &err)) {
      return Throw(env, err);
    }
    Slot* s = store_.slot(k);
    if (!aeadCheck(a, s->len, nonce.n, &err) || !Scratch(&scratch, &err)) return Throw(env, err);
    s = store_.slot(k);
    SlotAccess acc(&store_, s);
    Napi::Value out;
    uint8_t* data;
    if (!Output(info, 5, msg.n + kAeadTagLen, &out, &data, &err)) return Throw(env, err);
    if (!aeadSeal(a, acc.bytes(), nonce, msg, aad, data, scratch, &err)) return Throw(env, err);
    return out;
  }

  Napi::Value AeadOpen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    Aead a;
    In nonce, ct, aad;
    uint32_t k;
    uint8_t* scratch;
    if (!AeadArg(info, 0, &a, &err) || !Key(info, 1, &k, &err) || !Uses(k, Op::Aead, "aeadOpen", &err) ||
        !Bytes(info, 2, "nonce", &nonce, false, &err) || !Bytes(info, 3, "ciphertext", &ct, false, &err) || !Bytes(info, 4, "associated data", &aad, true, &err)) {
      return Throw(env, err);
    }
    Slot* s = store_.slot(k);
    if (!aeadCheck(a, s->len, nonce.n, &err) || !Scratch(&scratch, &err)) return Throw(env, err);
    if (ct.n < kAeadTagLen) {
      return Throw(env, Code::AuthenticationFailed, "ciphertext is shorter than the 16-byte authentication tag");
    }
    s = store_.slot(k);
    SlotAccess acc(&store_, s);
    Napi::Value out;
    uint8_t* data;
    if (!Output(info, 5, ct.n - kAeadTagLen, &out, &data, &err)) return Throw(env, err);
    if (!aeadOpen(a, acc.bytes(), nonce, ct, aad, data, scratch, &err)) return Throw(env, err);
    return out;
  }

  // ---- X25519 ------------------------------------------------------------
  // x25519Generate(scope) -> [handle, publicKey]
  Napi::Value X25519Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t owner, index;
    if (!Owner(info, 0, &owner, &err)) return Throw(env, err);
    Napi::Value id = NewKey(env, 32, KeyKind::X25519Private, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    uint8_t* sk = store_.slot(index)->alloc.bytes();
    Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, 32);
    if (!fillRandom(sk, 32, &err) || !x25519Public(sk, pk.Data(), &err)) return Abandon(env, index, err);
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, id);
    r.Set(1u, pk);
    return r;
  }

  Napi::Value X25519PublicKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    if (!Key(info, 0, &k, &err) || !Uses(k, Op::X25519, "x25519PublicKey", &err)) return Throw(env, err);
    Slot* s = store_.slot(k);
    if (s->len != 32) return Bad(env, "an X25519 private key is 32 bytes; this key has " + std::to_string(s->len));
    SlotAccess acc(&store_, s);
    Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, 32);
    if (!x25519Public(acc.bytes(), pk.Data(), &err)) return Throw(env, err);
    return pk;
  }

  // x25519Shared(privateKey, peerPublic, scope) -> handle of the shared secret
  Napi::Value X25519SharedKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k, owner, index;
    In peer;
    if (!Key(info, 0, &k, &err) || !Uses(k, Op::X25519, "x25519SharedSecret", &err) ||
        !Bytes(info, 1, "peer public key", &peer, false, &err) || !Owner(info, 2, &owner, &err)) {
      return Throw(env, err);
    }
    if (store_.slot(k)->len != 32) return Bad(env, "an X25519 private key is 32 bytes");
    if (peer.n != 32) return Bad(env, "an X25519 public key is 32 bytes; got " + std::to_string(peer.n));
    Napi::Value id = NewKey(env, 32, KeyKind::Shared, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    Slot* s = store_.slot(k);
    SlotAccess acc(&store_, s);
    if (!x25519Shared(acc.bytes(), peer, store_.slot(index)->alloc.bytes(), &err)) return Abandon(env, index, err);
    return id;
  }

  // ---- asymmetric keys (ops/asymmetric.h) --------------------------------
  // keyGenerate(use, scope) -> [handle, raw public key]
  Napi::Value KeyGenerate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    KeyKind kind;
    uint32_t owner, index;
    uint8_t* scratch;
    if (!AsymmetricUse(info, 0, &kind, &err) || !Owner(info, 1, &owner, &err) || !Scratch(&scratch, &err)) {
      return Throw(env, err);
    }
    Napi::Value id = NewKey(env, privateKeyLen(kind), kind, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    uint8_t* sk = store_.slot(index)->alloc.bytes();
    Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, publicKeyLen(kind));
    if (!generatePrivate(kind, sk, scratch, &err) || !publicFromPrivate(kind, sk, pk.Data(), scratch, &err)) {
      return Abandon(env, index, err);
    }
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, id);
    r.Set(1u, pk);
    return r;
  }

  // keyImportPrivate(bytes, use, scope): validates and copies a raw private key, then
  // zeroes the caller's bytes (also when the key is refused).
  Napi::Value KeyImportPrivate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    In src;
    KeyKind kind;
    uint32_t owner, index;
    if (!Bytes(info, 0, "private key", &src, false, &err)) return Throw(env, err);
    auto* wipe = const_cast<uint8_t*>(src.p);
    if (!AsymmetricUse(info, 1, &kind, &err) || !Owner(info, 2, &owner, &err)) {
      sodium_memzero(wipe, src.n);
      return Throw(env, err);
    }
    Napi::Value id = NewKey(env, privateKeyLen(kind), kind, owner, false, &index);
    if (env.IsExceptionPending()) {
      sodium_memzero(wipe, src.n);
      return id;
    }
    bool ok = importPrivate(kind, src, store_.slot(index)->alloc.bytes(), &err);
    sodium_memzero(wipe, src.n);
    if (!ok) return Abandon(env, index, err);
    return id;
  }

  // keyPublic(key) -> raw public key (SEC1 uncompressed point, or 32 bytes)
  Napi::Value KeyPublic(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    uint8_t* scratch;
    if (!Key(info, 0, &k, &err) || !Uses(k, Op::PublicKey, "publicKey", &err) || !Scratch(&scratch, &err)) {
      return Throw(env, err);
    }
    Slot* s = store_.slot(k);
    Napi::Buffer<uint8_t> pk = Napi::Buffer<uint8_t>::New(env, publicKeyLen(s->kind));
    SlotAccess acc(&store_, s);
    if (!publicFromPrivate(s->kind, acc.bytes(), pk.Data(), scratch, &err)) return Throw(env, err);
    return pk;
  }

  // keyUse(key) -> the use name the slot carries (diagnostics and tests)
  Napi::Value KeyUseName(const Napi::CallbackInfo& info) {
    Err err;
    uint32_t k;
    double d;
    if (!Number(info, 0, &d)) return Throw(info.Env(), Code::InvalidHandle, "not a key handle");
    if (!store_.decodeKey(d, &k, &err)) return Throw(info.Env(), err);
    return Napi::String::New(info.Env(), kindName(store_.slot(k)->kind));
  }

  // sign(key, message, der) -> signature (ECDSA: DER or P1363 r || s; Ed25519: 64 bytes)
  Napi::Value Sign(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    In msg;
    uint8_t* scratch;
    if (!Key(info, 0, &k, &err) || !Bytes(info, 1, "message", &msg, false, &err) || !Scratch(&scratch, &err)) {
      return Throw(env, err);
    }
    KeyKind kind = store_.slot(k)->kind;
    Op op = kind == KeyKind::EcdsaP384 ? Op::EcdsaP384 : kind == KeyKind::Ed25519 ? Op::Ed25519 : Op::EcdsaP256;
    if (!checkUse(kind, op, "sign", &err)) return Throw(env, err);
    const bool der = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    uint8_t sig[kMaxSignature];
    size_t n = 0;
    Slot* s = store_.slot(k);
    {
      SlotAccess acc(&store_, s);
      if (!signMessage(kind, acc.bytes(), msg, der, sig, &n, scratch, &err)) return Throw(env, err);
    }
    return Napi::Buffer<uint8_t>::Copy(env, sig, n);
  }

  // agree(key, peerPublic, scope) -> handle of the shared secret (use 'shared')
  Napi::Value Agree(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k, owner, index;
    In peer;
    uint8_t* scratch;
    if (!Key(info, 0, &k, &err) || !Bytes(info, 1, "peer public key", &peer, false, &err) ||
        !Owner(info, 2, &owner, &err) || !Scratch(&scratch, &err)) {
      return Throw(env, err);
    }
    KeyKind kind = store_.slot(k)->kind;
    Op op = kind == KeyKind::EcdhP256 ? Op::EcdhP256 : kind == KeyKind::EcdhP384 ? Op::EcdhP384 : Op::X25519;
    if (!checkUse(kind, op, "sharedSecret", &err)) return Throw(env, err);
    Napi::Value id = NewKey(env, privateKeyLen(kind), KeyKind::Shared, owner, false, &index);
    if (env.IsExceptionPending()) return id;
    Slot* s = store_.slot(k);
    SlotAccess acc(&store_, s);
    if (!agree(kind, acc.bytes(), peer, store_.slot(index)->alloc.bytes(), scratch, &err)) return Abandon(env, index, err);
    return id;
  }

  // ---- the loud escape hatch --------------------------------------------
  // exposeBegin(key) lends a zero-copy view of the slot; exposeEnd(key) detaches
  // it and wipes and releases the key. Scope end does the same.
  Napi::Value ExposeBegin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    if (!Key(info, 0, &k, &err)) return Throw(env, err);
    Slot* s = store_.slot(k);
    if (s->sealed) return Bad(env, "sealed root keys cannot be exposed");
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, s->alloc.bytes(), s->len);
    if (env.IsExceptionPending()) return env.Undefined();
    napi_create_reference(env, ab, 1, &s->lent);
    return ab;
  }

  Napi::Value ExposeEnd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    double d;
    if (!Number(info, 0, &d)) return Throw(env, Code::InvalidHandle, "not a key handle");
    if (!store_.decodeKey(d, &k, &err)) return Throw(env, err);
    if (!store_.destroy(k, &err)) {
      return Throw(env, err);
    }
    return env.Undefined();
  }

  // ---- test hooks: destructive only, they never read key bytes ----------
  Napi::Value TestCorrupt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Err err;
    uint32_t k;
    double off;
    if (!Key(info, 0, &k, &err)) return Throw(env, err);
    if (!Number(info, 1, &off)) return Bad(env, "offset must be a number");
    uint8_t* p = store_.slot(k)->alloc.bytes() + static_cast<long>(off);
    *reinterpret_cast<volatile uint8_t*>(p) ^= 0xA5;
    return env.Undefined();
  }

  Napi::Value TestBytesToRegionEnd(const Napi::CallbackInfo& info) {
    Err err;
    uint32_t k;
    if (!Key(info, 0, &k, &err)) return Throw(info.Env(), err);
    return Napi::Number::New(info.Env(), static_cast<double>(store_.arena().bytesToRegionEnd(store_.slot(k)->alloc)));
  }

  Napi::Value TestSlotAddress(const Napi::CallbackInfo& info) {
    Err err;
    uint32_t k;
    if (!Key(info, 0, &k, &err)) return Throw(info.Env(), err);
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(store_.slot(k)->alloc.bytes())));
  }

  KeyStore store_;
  const HashSet* hashes_ = &hostOrSodium();
  Napi::FunctionReference errorFactory_;
};

}  // namespace ss

using ss::SecretScopeAddon;
NODE_API_ADDON(SecretScopeAddon)
