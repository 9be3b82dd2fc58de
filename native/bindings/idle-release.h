// The arena's idle release on this environment's event loop (see region-pool.cc).
#pragma once
#include <node_api.h>

#include "arena.h"

namespace ss {

// Gives `arena` an unref'd libuv timer on env's loop, closed by an environment
// cleanup hook. False (the arena then unmaps surplus regions at once) when the
// environment has no loop or the hook could not be added.
bool attachIdleRelease(napi_env env, Arena* arena);

}  // namespace ss
