// The addon's entry point: one Context per Node environment (main thread and
// each worker, so each has its own arena), then every binding family adds its
// exports. A new family is a new bindings/<family>.cc ending in
// SS_BINDING_FAMILY(<family>) { ... } plus one line in the list below.
//
// Layout: arena.* (the only code calling mmap/mprotect/mlock/madvise/memfd_secret),
// keystore.* (slots, scopes, handles), ops/ (the only code touching key bytes,
// one file per operation family), bindings/ (the N-API surface, same families).

#include <node_api.h>

#include "bindings/context.h"

#define SS_BINDING_FAMILIES(FAMILY) \
  FAMILY(memory)    /* setErrorFactory configure report verify hardenProcess purge libsodiumVersion */ \
  FAMILY(keys)      /* scope* key* */                                                                  \
  FAMILY(hkdf)      /* hkdf* hmac* */                                                                  \
  FAMILY(aead)      /* aeadSeal aeadOpen */                                                            \
  FAMILY(x25519)    /* x25519Generate x25519Public x25519Shared */                                     \
  FAMILY(asymmetric) /* keyGenerate keyImportPrivate keyPublic keyUse sign agree */                      \
  FAMILY(hpke)      /* hpkeLabeledExtract hpkeContextKey hpkeSeal hpkeOpen hpkeDeriveP256 */           \
  FAMILY(jose)      /* concatKdf */                                                                    \
  FAMILY(expose)    /* exposeBegin exposeEnd */                                                        \
  FAMILY(testing)   /* test* hooks */                                                                  \
  FAMILY(audit)     /* auditFlush: the audit key channel (off unless the auditor set it up) */

namespace ss {

#define SS_DECLARE(family) SS_BINDING_FAMILY(family);
SS_BINDING_FAMILIES(SS_DECLARE)
#undef SS_DECLARE

static void deleteContext(napi_env, void* data, void*) { delete static_cast<Context*>(data); }

static napi_value init(napi_env env, napi_value exports) {
  auto* cx = new Context(env);
  if (napi_set_instance_data(env, cx, deleteContext, nullptr) != napi_ok) {
    delete cx;
    napi_throw_error(env, "INTERNAL", "secret-scope: could not attach the addon's instance data");
    return nullptr;
  }
  Registry registry(env, cx);
#define SS_REGISTER(family) registerFamily_##family(registry);
  SS_BINDING_FAMILIES(SS_REGISTER)
#undef SS_REGISTER
  if (registry.defineOn(exports) != napi_ok) return nullptr;
  return exports;
}

}  // namespace ss

NAPI_MODULE_INIT() { return ss::init(env, exports); }
