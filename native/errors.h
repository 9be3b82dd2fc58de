// Error codes shared by every native component. The JavaScript layer maps each
// code to a typed error class (src/errors.ts); messages never contain key bytes.
#pragma once
#include <string>

namespace ss {

enum class Code {
  None = 0,
  InvalidArgument,
  InvalidHandle,
  ForeignHandle,
  KeyReleased,
  ScopeEnded,
  ProtectionUnavailable,
  ArenaExhausted,
  CanaryViolation,
  AuthenticationFailed,
  UnsupportedAlgorithm,
  WeakPublicKey,
  NotInitialized,
  KeyLent,
  KeyUsage,
  InvalidPublicKey,
  Internal,
};

const char* codeName(Code code);

struct Err {
  Code code = Code::None;
  std::string message;
  bool set(Code c, std::string m) {
    code = c;
    message = std::move(m);
    return false;
  }
  explicit operator bool() const { return code != Code::None; }
};

std::string errnoText(int e);

}  // namespace ss
