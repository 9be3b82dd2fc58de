// The arena's idle timer: a libuv timer on this environment's loop (main thread
// or worker: each has its own loop and its own arena), unref'd so that it never
// keeps a process or a worker alive. It runs only while the arena has empty
// regions beyond retainRegions (Arena::IdleTimer::arm starts it, and it stops
// when idleTick() says nothing is left to release).
//
// Teardown, in either order:
// - the environment's async cleanup hook detaches the timer from the arena, then
//   closes the handle; the timer is freed in the close callback, which tells Node
//   the cleanup is done. The arena (Context instance data) may be destroyed before
//   or after that close callback: it no longer knows the timer.
// - if the arena were destroyed first, ~Arena calls arenaGone(): the timer stops
//   and never calls it again; the cleanup hook still closes and frees the timer.
// The arena's destructor wipes and unmaps every region either way.
#include "bindings/idle-release.h"

#include <uv.h>

namespace ss {
namespace {

class UvIdleTimer final : public Arena::IdleTimer {
 public:
  uv_timer_t timer{};
  Arena* arena = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;

  void arm(uint32_t ms) override {
    if (arena) uv_timer_start(&timer, onTick, ms, ms);
  }
  void arenaGone() override {
    arena = nullptr;
    uv_timer_stop(&timer);
  }

  static void onTick(uv_timer_t* handle) {
    auto* self = static_cast<UvIdleTimer*>(handle->data);
    if (!self->arena || !self->arena->idleTick()) uv_timer_stop(handle);
  }
  static void onClosed(uv_handle_t* handle) {
    auto* self = static_cast<UvIdleTimer*>(handle->data);
    if (self->cleanup) napi_remove_async_cleanup_hook(self->cleanup);
    delete self;
  }
  static void onEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* self = static_cast<UvIdleTimer*>(arg);
    if (self->arena) self->arena->setIdleTimer(nullptr);
    self->arena = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&self->timer), onClosed);
  }
};

}  // namespace

bool attachIdleRelease(napi_env env, Arena* arena) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return false;
  auto* t = new UvIdleTimer();
  if (uv_timer_init(loop, &t->timer) != 0) {
    delete t;
    return false;
  }
  t->timer.data = t;
  uv_unref(reinterpret_cast<uv_handle_t*>(&t->timer));
  if (napi_add_async_cleanup_hook(env, UvIdleTimer::onEnvCleanup, t, &t->cleanup) != napi_ok) {
    t->cleanup = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&t->timer), UvIdleTimer::onClosed);
    return false;
  }
  t->arena = arena;
  arena->setIdleTimer(t);
  return true;
}

}  // namespace ss
