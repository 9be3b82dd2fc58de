// Secret memory as a whole: configuring the arena, reporting what protection
// it got, canary checks, process hardening and the purge of everything.
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "bindings/context.h"
#include "bindings/idle-release.h"

namespace ss {
namespace {

Napi::Value Report(Context& cx, const Args& info);  // configure() returns the report

Napi::Value SetErrorFactory(Context& cx, const Args& info) {
  if (!info[0].IsFunction()) return cx.Bad(info.Env(), "error factory must be a function");
  cx.errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Configure(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  if (cx.store.arena().initialized()) return cx.Throw(env, Code::InvalidArgument, "secret memory is already initialised");
  ArenaConfig c;
  if (!info[0].IsObject()) return cx.Bad(env, "configure() needs an options object");
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
    return cx.Bad(env, "backend must be 'auto', 'memfd_secret', 'mlock' or 'plain'");
  }
  if (require == "secret") {
    c.require = Requirement::Secret;
  } else if (require == "locked") {
    c.require = Requirement::Locked;
  } else if (require == "any") {
    c.require = Requirement::Any;
  } else {
    return cx.Bad(env, "require must be 'secret', 'locked' or 'any'");
  }
  if (o.Get("regionPages").IsNumber()) {
    double p = o.Get("regionPages").As<Napi::Number>().DoubleValue();
    if (!(p >= 1 && p <= 1024) || p != std::floor(p)) return cx.Bad(env, "regionPages must be an integer from 1 to 1024");
    c.regionPages = static_cast<size_t>(p);
  }
  if (o.Get("maxRegions").IsNumber()) {
    double p = o.Get("maxRegions").As<Napi::Number>().DoubleValue();
    if (!(p >= 1 && p <= 65536) || p != std::floor(p)) return cx.Bad(env, "maxRegions must be an integer from 1 to 65536");
    c.maxRegions = static_cast<size_t>(p);
  }
  if (o.Get("retainRegions").IsNumber()) {
    double p = o.Get("retainRegions").As<Napi::Number>().DoubleValue();
    if (!(p >= 0 && p <= 65536) || p != std::floor(p)) return cx.Bad(env, "retainRegions must be an integer from 0 to 65536");
    c.retainRegions = static_cast<size_t>(p);
  }
  Napi::Value idle = o.Get("idleReleaseMs");
  if (!idle.IsUndefined()) {
    double p = idle.IsNumber() ? idle.As<Napi::Number>().DoubleValue() : -1;
    if (!(p >= 0 && p <= 3600000) || p != std::floor(p)) return cx.Bad(env, "idleReleaseMs must be an integer from 0 to 3600000 (ms)");
    c.idleReleaseMs = static_cast<uint32_t>(p);
  }
  if (o.Get("sha2").IsString()) {
    std::string e = o.Get("sha2").As<Napi::String>().Utf8Value();
    if (e == "libsodium") {
      cx.hashes = &sodiumOnly();
    } else if (e != "auto") {
      return cx.Bad(env, "sha2 must be 'auto' or 'libsodium'");
    }
  }
  if (o.Get("aes").IsString()) {
    std::string e = o.Get("aes").As<Napi::String>().Utf8Value();
    if (e == "portable") {
      cx.aes = &aesGcmPortable();
    } else if (e == "auto") {
      cx.aes = &aesGcmBest();
    } else {
      return cx.Bad(env, "aes must be 'auto' or 'portable'");
    }
  }
  if (sodium_init() < 0) return cx.Throw(env, Code::Internal, "libsodium failed to initialise");
  Err err;
  if (!cx.store.arena().init(c, &err)) return cx.Throw(env, err);
  // Without a timer the arena unmaps surplus empty regions at once (report: idleReleaseMs 0).
  if (c.idleReleaseMs > 0) attachIdleRelease(env, &cx.store.arena());
  return Report(cx, info);
}

Napi::Value Report(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  const Arena& a = cx.store.arena();
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
  // Region retention (region-pool.cc): empty regions kept mapped for reuse, and when they go.
  r.Set("retainRegions", static_cast<double>(a.config().retainRegions));
  r.Set("idleReleaseMs", static_cast<double>(a.idleReleaseMs()));
  r.Set("retainedRegions", static_cast<double>(a.emptyRegions()));
  r.Set("idleReleasePending", a.idleReleasePending());
  r.Set("regionsReleasedIdle", static_cast<double>(s.regionsReleasedIdle));
  r.Set("liveSlots", static_cast<double>(cx.store.liveSlots()));
  r.Set("liveScopes", static_cast<double>(cx.store.liveScopes()));
  r.Set("cellsInUse", static_cast<double>(a.usedCells()));
  r.Set("cellsTotal", static_cast<double>(a.totalCells()));
  // Violations the addon survived but must not hide: a vault left readable, lent views it
  // could not detach (their cells are wiped and never reused).
  r.Set("vaultSealFailures", static_cast<double>(s.sealFailures));
  r.Set("quarantinedSlots", static_cast<double>(cx.store.quarantined()));
  struct utsname u;
  if (uname(&u) == 0) {
    r.Set("kernel", u.release);
    r.Set("machine", u.machine);
  }
  r.Set("libsodium", sodium_version_string());
  r.Set("sha2", cx.hashes->sha256->engine);
  r.Set("aes256gcm", true);  // every CPU: ops/aes_gcm falls back to constant-time BearSSL ct64
  Napi::Object gcm = Napi::Object::New(env);
  gcm.Set("aes-128-gcm", true);
  gcm.Set("aes-256-gcm", true);
  gcm.Set("implementation", aesGcmImplName(*cx.aes));
  gcm.Set("hardware", aesGcmImpl(aesGcmBest()) != AesGcmImpl::BearSslCt64);  // what this CPU offers
  r.Set("aesGcm", gcm);
  r.Set("dumpable", prctl(PR_GET_DUMPABLE) == 1);
  struct rlimit core;
  if (getrlimit(RLIMIT_CORE, &core) == 0) {
    r.Set("coreLimit", core.rlim_cur == RLIM_INFINITY ? Napi::Value(env.Null())
                                                       : Napi::Value(Napi::Number::New(env, static_cast<double>(core.rlim_cur))));
  }
  std::vector<std::string> all = s.notes;
  if (s.sealFailures) all.push_back("a vault region holding a root key failed to re-seal " + std::to_string(s.sealFailures) + " time(s) (" + errnoText(s.sealErrno) + "); verifyGuards() retries and throws while it stays readable");
  if (cx.store.quarantined()) all.push_back(std::to_string(cx.store.quarantined()) + " lent key view(s) could not be detached; those keys were wiped and their memory quarantined");
  Napi::Array notes = Napi::Array::New(env, all.size());
  for (size_t i = 0; i < all.size(); i++) notes.Set(static_cast<uint32_t>(i), all[i]);
  r.Set("notes", notes);
  return r;
}

Napi::Value Verify(Context& cx, const Args& info) {
  Err err;
  if (!cx.store.verifyAll(&err)) {
    return cx.Throw(info.Env(), err);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(cx.store.liveSlots()));
}

Napi::Value HardenProcess(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  std::string problems;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) problems += "PR_SET_DUMPABLE: " + errnoText(errno) + "; ";
  struct rlimit zero = {0, 0};
  if (setrlimit(RLIMIT_CORE, &zero) != 0) problems += "RLIMIT_CORE: " + errnoText(errno) + "; ";
  if (!problems.empty()) return cx.Throw(env, Code::ProtectionUnavailable, "process hardening failed: " + problems);
  Napi::Object r = Napi::Object::New(env);
  r.Set("dumpable", prctl(PR_GET_DUMPABLE) == 1);
  r.Set("coreLimit", 0);
  return r;
}

Napi::Value Purge(Context& cx, const Args& info) {
  size_t n = cx.store.purge();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

}  // namespace

SS_BINDING_FAMILY(memory) {
  static const Binding kBindings[] = {
    {"setErrorFactory", bind<SetErrorFactory>},
    {"configure", bind<Configure>},
    {"report", bind<Report>},
    {"verify", bind<Verify>},
    {"hardenProcess", bind<HardenProcess>},
    {"purge", bind<Purge>},
  };
  registry.add(kBindings);
  registry.value("libsodiumVersion", Napi::String::New(registry.env(), sodium_version_string()));
}

}  // namespace ss
