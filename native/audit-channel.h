// The audit key channel: how `secret-scope audit` learns every key byte string
// the native layer ever holds in a slot (any slot kind, whatever made it),
// without the bytes ever passing through JavaScript.
//
// Off unless the auditor sets it up. The auditor starts the process with an
// inherited descriptor to an unlinked, write-only, append-only regular file and
// SECRET_SCOPE_AUDIT_KEY_FD naming it. That variable is read once per process,
// when the addon first loads, from the environment the process was started
// with (/proc/self/environ), and removed from the live environment at once:
// setting it from JavaScript, before or after the addon loads (or loading the
// addon again in a worker) turns nothing on. A descriptor that is not an
// unlinked, write-only, append-only regular file is refused, so an environment
// variable alone cannot make the addon write keys to stdout, a log or a socket.
//
// When on, the key store writes, with writev(2) straight from the arena:
// every slot it wipes (scope end, release, purge), and every live slot when
// the audit harness asks for a flush right before a scan. The record format is
// documented in src/audit/key-channel.ts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ss {
namespace audit {

enum class Record : uint8_t { LiveKey = 1, WipedKey = 2, FlushBegin = 3, FlushEnd = 4 };
enum : uint8_t { kOwnedByScope = 1, kSealed = 2 };

constexpr const char* kEnvVar = "SECRET_SCOPE_AUDIT_KEY_FD";

// Reads and removes the environment variable; later calls do nothing.
void initOnce();
bool on();
// One record; `bytes` may point into the arena (the caller keeps the slot readable).
void write(Record type, uint8_t slotKind, uint8_t flags, uint32_t slot, uint32_t owner, const uint8_t* bytes,
           uint32_t len);
// Records written so far (the auditor checks none were lost).
uint32_t records();

}  // namespace audit
}  // namespace ss
