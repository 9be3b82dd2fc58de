// The audit key channel's one JavaScript entry point (see audit-channel.h).
// auditFlush() asks the key store to write every live slot to the channel;
// the bytes go from the arena to the auditor's descriptor, never to
// JavaScript. It returns the number of records written so far, or -1 when the
// channel is off (then it does nothing): calling it cannot turn the channel on.
#include "audit-channel.h"
#include "bindings/context.h"

namespace ss {
namespace {

Napi::Value AuditFlush(Context& cx, const Args& info) {
  if (!audit::on()) return Napi::Number::New(info.Env(), -1);
  cx.store.auditFlush();
  return Napi::Number::New(info.Env(), static_cast<double>(audit::records()));
}

}  // namespace

SS_BINDING_FAMILY(audit) {
  audit::initOnce();  // the environment is read at the first addon load in this process, then never again
  static const Binding kBindings[] = {
    {"auditFlush", bind<AuditFlush>},
  };
  registry.add(kBindings);
}

}  // namespace ss
