// The stack scrubber's N-API surface. stackScrubSoon(callback[, depth]) arms a
// libuv check callback on this environment's loop; in the coming check phase
// (right after the poll phase, in which socket and TLS reads run) that callback
// zeroes the stack below its own frame (ops/stack.h) and only then calls every
// callback that asked, so that the JavaScript waiting for it runs on a clean stack.
//
// One scrubber per environment (main thread, each worker: each has its own loop
// and its own stack). Its libuv handles are active only while a scrub is armed
// (the idle handle keeps the poll phase from blocking until the check phase has
// run) and are closed by an async cleanup hook before the loop is.
#include <uv.h>

#include <vector>

#include "bindings/context.h"
#include "ops/stack.h"

namespace ss {
namespace {

struct Scrubber {
  napi_env env = nullptr;
  uv_check_t check{};
  uv_idle_t idle{};
  napi_async_context async = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  std::vector<napi_ref> waiting;
  StackBounds bounds;
  bool boundsKnown = false;
  bool armed = false;
  int open = 0;  // libuv handles not yet closed
  size_t depth = 0;
  // report
  double runs = 0;
  size_t lastBytes = 0;
  uintptr_t lastSp = 0;
};

// Each environment runs on its own thread: the thread's scrubber is its environment's.
thread_local Scrubber* tScrubber = nullptr;

void onIdle(uv_idle_t*) {}

void callWaiting(Scrubber* s, size_t zeroed) {
  std::vector<napi_ref> waiting;
  waiting.swap(s->waiting);
  napi_env env = s->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return;
  napi_value global, arg;
  napi_get_global(env, &global);
  napi_create_double(env, static_cast<double>(zeroed), &arg);
  for (napi_ref ref : waiting) {
    napi_value fn;
    bool ok = napi_get_reference_value(env, ref, &fn) == napi_ok && fn != nullptr;
    napi_delete_reference(env, ref);
    if (!ok) continue;
    if (napi_make_callback(env, s->async, global, fn, 1, &arg, nullptr) == napi_pending_exception) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);  // the process's uncaughtException path, as for any callback
    }
  }
  napi_close_handle_scope(env, hs);
}

// Runs from uv_run's check phase: no JavaScript frame and no read is below us.
void onCheck(uv_check_t* handle) {
  Scrubber* s = static_cast<Scrubber*>(handle->data);
  uv_check_stop(&s->check);
  uv_idle_stop(&s->idle);
  s->armed = false;
  StackScrub r = scrubStackBelowCaller(s->depth, s->bounds);
  s->depth = 0;
  s->runs++;
  s->lastBytes = r.bytes;
  s->lastSp = r.sp;
  callWaiting(s, r.bytes);
}

void onClosed(uv_handle_t* handle) {
  Scrubber* s = static_cast<Scrubber*>(handle->data);
  if (--s->open > 0) return;
  if (s->cleanup) napi_remove_async_cleanup_hook(s->cleanup);
  delete s;
}

void onEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Scrubber* s = static_cast<Scrubber*>(arg);
  for (napi_ref ref : s->waiting) napi_delete_reference(s->env, ref);
  s->waiting.clear();
  if (s->async) napi_async_destroy(s->env, s->async);
  s->async = nullptr;
  if (tScrubber == s) tScrubber = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->check), onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->idle), onClosed);
}

Scrubber* scrubberFor(napi_env env, Err* err) {
  if (tScrubber) return tScrubber;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    err->set(Code::Internal, "no event loop for the stack scrubber");
    return nullptr;
  }
  auto* s = new Scrubber();
  s->env = env;
  s->boundsKnown = threadStackBounds(&s->bounds, err);
  if (!s->boundsKnown) {
    delete s;
    return nullptr;
  }
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "secret-scope:stack-scrub", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, resource, name, &s->async) != napi_ok) {
    delete s;
    err->set(Code::Internal, "napi_async_init failed for the stack scrubber");
    return nullptr;
  }
  uv_check_init(loop, &s->check);
  uv_idle_init(loop, &s->idle);
  s->check.data = s;
  s->idle.data = s;
  s->open = 2;
  if (napi_add_async_cleanup_hook(env, onEnvCleanup, s, &s->cleanup) != napi_ok) s->cleanup = nullptr;
  tScrubber = s;
  return s;
}

Napi::Value StackScrubSoon(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) return cx.Bad(env, "stackScrubSoon takes a callback");
  size_t depth = kStackScrubDepth;
  Err err;
  if (!info[1].IsUndefined() && !cx.Size(info, 1, "depth", 0, kStackScrubMaxDepth, &depth, &err)) return cx.Throw(env, err);
  Scrubber* s = scrubberFor(env, &err);
  if (!s) return cx.Throw(env, err);
  napi_ref ref;
  if (napi_create_reference(env, info[0], 1, &ref) != napi_ok) return cx.Throw(env, Code::Internal, "could not keep the callback");
  s->waiting.push_back(ref);
  if (depth > s->depth) s->depth = depth;
  if (!s->armed) {
    // The check handle started last runs first in the check phase: before Node's
    // immediates, so no JavaScript of this turn runs between the read and the scrub.
    uv_check_start(&s->check, onCheck);
    uv_idle_start(&s->idle, onIdle);
    s->armed = true;
  }
  return env.Undefined();
}

Napi::Value StackScrubReport(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Scrubber* s = tScrubber;
  o.Set("runs", Napi::Number::New(env, s ? s->runs : 0));
  o.Set("lastBytes", Napi::Number::New(env, s ? static_cast<double>(s->lastBytes) : 0));
  o.Set("depth", Napi::Number::New(env, static_cast<double>(kStackScrubDepth)));
  o.Set("stackLow", Napi::BigInt::New(env, static_cast<uint64_t>(s ? s->bounds.low : 0)));
  o.Set("lastSp", Napi::BigInt::New(env, static_cast<uint64_t>(s ? s->lastSp : 0)));
  return o;
}

}  // namespace

SS_BINDING_FAMILY(stack) {
  static const Binding kBindings[] = {
    {"stackScrubSoon", bind<StackScrubSoon>},
    {"stackScrubReport", bind<StackScrubReport>},
  };
  registry.add(kBindings);
}

}  // namespace ss
