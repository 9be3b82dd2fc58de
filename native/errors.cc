#include "errors.h"

#include <cstring>

namespace ss {

const char* codeName(Code code) {
  switch (code) {
    case Code::None: return "ERR_NONE";
    case Code::InvalidArgument: return "ERR_INVALID_ARGUMENT";
    case Code::InvalidHandle: return "ERR_INVALID_HANDLE";
    case Code::ForeignHandle: return "ERR_FOREIGN_HANDLE";
    case Code::KeyReleased: return "ERR_KEY_RELEASED";
    case Code::ScopeEnded: return "ERR_SCOPE_ENDED";
    case Code::ProtectionUnavailable: return "ERR_PROTECTION_UNAVAILABLE";
    case Code::ArenaExhausted: return "ERR_ARENA_EXHAUSTED";
    case Code::CanaryViolation: return "ERR_CANARY_VIOLATION";
    case Code::AuthenticationFailed: return "ERR_AUTHENTICATION_FAILED";
    case Code::UnsupportedAlgorithm: return "ERR_UNSUPPORTED_ALGORITHM";
    case Code::WeakPublicKey: return "ERR_WEAK_PUBLIC_KEY";
    case Code::NotInitialized: return "ERR_NOT_INITIALIZED";
    case Code::KeyLent: return "ERR_KEY_LENT";
    case Code::KeyUsage: return "ERR_KEY_USAGE";
    case Code::InvalidPublicKey: return "ERR_INVALID_PUBLIC_KEY";
    case Code::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

std::string errnoText(int e) {
  char buf[128];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* s = strerror_r(e, buf, sizeof buf);
  return std::string(s) + " (errno " + std::to_string(e) + ")";
}

}  // namespace ss
