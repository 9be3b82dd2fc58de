#include "keystore.h"

#include <sodium.h>

#include "audit-channel.h"

#include <cmath>
#include <string>

namespace ss {

SlotAccess::SlotAccess(KeyStore* ks, Slot* s) : ks_(ks), slot_(s), region_(s->alloc.region) {
  ok_ = region_ != nullptr && ks_->arena_.open(region_, &err_);
  if (!region_) err_.set(Code::KeyReleased, "key has been released");
}

SlotAccess::~SlotAccess() {
  if (ok_) ks_->arena_.close(region_);
}

KeyStore::KeyStore(napi_env env) : env_(env) {
  // Random start in [2^20, 2^31): another instance's serials almost never overlap.
  uint32_t r = randombytes_uniform(0x7FF00000u);
  serialStart_ = uint64_t{r} + 0x100000u;
  nextSerial_ = serialStart_;
}

KeyStore::~KeyStore() {
  env_ = nullptr;  // the environment is being torn down: no more N-API calls
  purge();
}

double KeyStore::keyId(uint32_t index) const {
  return static_cast<double>(index) + static_cast<double>(slots_[index].serial) * kIndexSpace;
}

double KeyStore::scopeId(uint32_t index) const {
  return static_cast<double>(index) + static_cast<double>(scopes_[index].serial) * kIndexSpace;
}

static bool splitId(double id, uint32_t* index, uint64_t* serial) {
  if (!std::isfinite(id) || id < 0 || id > 9007199254740991.0 || std::floor(id) != id) return false;
  uint64_t v = static_cast<uint64_t>(id);
  *index = static_cast<uint32_t>(v & 0xFFFFFu);
  *serial = v >> 20;
  return *serial != 0;
}

bool KeyStore::decodeKey(double id, uint32_t* index, Err* err) const {
  uint64_t serial;
  if (!splitId(id, index, &serial)) {
    return err->set(Code::InvalidHandle, "not a key handle");
  }
  if (serial < serialStart_ || serial >= nextSerial_) {
    return err->set(Code::ForeignHandle,
                    "key handle was not issued by this addon instance (another thread, another copy "
                    "of the addon, or forged)");
  }
  if (*index >= slots_.size() || slots_[*index].serial != serial) {
    return err->set(Code::KeyReleased, "key has been released (its scope ended or it was released)");
  }
  return true;
}

bool KeyStore::decodeScope(double id, uint32_t* scopeIndex, Err* err) const {
  uint64_t serial;
  if (!splitId(id, scopeIndex, &serial)) return err->set(Code::InvalidHandle, "not a scope handle");
  if (serial < serialStart_ || serial >= nextSerial_) {
    return err->set(Code::ForeignHandle, "scope handle was not issued by this addon instance");
  }
  if (*scopeIndex >= scopes_.size() || scopes_[*scopeIndex].serial != serial) {
    return err->set(Code::ScopeEnded, "scope has ended");
  }
  return true;
}

bool KeyStore::scopeAlive(double id) const {
  uint32_t i;
  Err e;
  return decodeScope(id, &i, &e);
}

bool KeyStore::create(size_t len, KeyKind kind, uint32_t scopeOwner, bool sealed, uint32_t* index,
                      Err* err) {
  if (nextSerial_ > kMaxSerial) return err->set(Code::ArenaExhausted, "handle serials exhausted");
  if (slots_.size() >= 0xFFFFFu && freeSlots_.empty()) {
    return err->set(Code::ArenaExhausted, "too many live keys (1,048,575)");
  }
  Allocation a;
  if (!arena_.alloc(len, sealed, &a, err)) return false;
  uint32_t i;
  if (!freeSlots_.empty()) {
    i = freeSlots_.back();
    freeSlots_.pop_back();
  } else {
    i = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[i];
  s.serial = nextSerial_++;
  s.alloc = a;
  s.len = static_cast<uint32_t>(len);
  s.kind = kind;
  s.sealed = sealed;
  s.lent = nullptr;
  s.scope = scopeOwner;
  s.prev = -1;
  s.next = -1;
  if (scopeOwner) {
    Scope& sc = scopes_[scopeOwner - 1];
    s.next = sc.head;
    if (sc.head >= 0) slots_[sc.head].prev = static_cast<int32_t>(i);
    sc.head = static_cast<int32_t>(i);
    sc.keys++;
  }
  live_++;
  *index = i;
  return true;
}

bool KeyStore::detachLent(Slot* s) {
  if (!s->lent) return true;
  if (!env_) {
    s->lent = nullptr;
    return true;
  }
  bool detached = false;
  napi_value ab = nullptr;
  if (napi_get_reference_value(env_, s->lent, &ab) == napi_ok) {
    // A collected view (weak reference gone) can no longer reach the bytes.
    if (ab == nullptr) {
      detached = true;
    } else if (napi_is_detached_arraybuffer(env_, ab, &detached) == napi_ok && !detached) {
      detached = napi_detach_arraybuffer(env_, ab) == napi_ok;
    }
  }
  napi_delete_reference(env_, s->lent);
  s->lent = nullptr;
  return detached;
}

void KeyStore::unlink(uint32_t index) {
  Slot& s = slots_[index];
  if (!s.scope) return;
  Scope& sc = scopes_[s.scope - 1];
  if (s.prev >= 0) {
    slots_[s.prev].next = s.next;
  } else {
    sc.head = s.next;
  }
  if (s.next >= 0) slots_[s.next].prev = s.prev;
  sc.keys--;
  s.prev = s.next = -1;
  s.scope = 0;
}

void KeyStore::freeSlot(uint32_t index) {
  Slot& s = slots_[index];
  s.serial = 0;
  s.alloc = Allocation();
  s.len = 0;
  freeSlots_.push_back(index);
  live_--;
}

void KeyStore::canaryFailure(Err* err, const char* where) {
  purge();
  arena_.wipeAll();
  err->set(Code::CanaryViolation,
           std::string("a guard canary was overwritten (") + where +
               "): memory next to a key was corrupted; every key in this arena has been wiped");
}

void KeyStore::auditSlot(uint32_t index, uint8_t record) {
  if (!audit::on()) return;
  Slot& s = slots_[index];
  uint8_t flags = static_cast<uint8_t>((s.scope ? audit::kOwnedByScope : 0) | (s.sealed ? audit::kSealed : 0));
  SlotAccess acc(this, &s);
  audit::write(static_cast<audit::Record>(record), static_cast<uint8_t>(s.kind), flags, index, s.scope,
               acc.ok() ? acc.bytes() : nullptr, acc.ok() ? s.len : 0);
}

void KeyStore::auditFlush() {
  if (!audit::on()) return;
  audit::write(audit::Record::FlushBegin, 0, 0, 0, 0, nullptr, 0);
  for (uint32_t i = 0; i < slots_.size(); i++) {
    if (slots_[i].serial) auditSlot(i, static_cast<uint8_t>(audit::Record::LiveKey));
  }
  audit::write(audit::Record::FlushEnd, 0, 0, static_cast<uint32_t>(live_), static_cast<uint32_t>(liveScopes_), nullptr, 0);
}

bool KeyStore::wipeAndFree(uint32_t index, bool* canariesOk) {
  Slot& s = slots_[index];
  auditSlot(index, static_cast<uint8_t>(audit::Record::WipedKey));
  const bool detached = detachLent(&s);
  unlink(index);
  if (detached) {
    *canariesOk = arena_.release(s.alloc, s.len);
  } else {
    // JavaScript still holds a view of these bytes: wipe them, and never hand the cells
    // to another key (quarantined until the arena goes), rather than let the view read it.
    sodium_memzero(s.alloc.bytes(), s.len);
    quarantined_++;
    *canariesOk = true;
  }
  freeSlot(index);
  return detached;
}

bool KeyStore::destroy(uint32_t index, Err* err) {
  bool canariesOk;
  if (!wipeAndFree(index, &canariesOk)) {
    return err->set(Code::Internal, "a view lent by exposeUnsafe could not be detached; the key was wiped and its memory quarantined");
  }
  if (!canariesOk) {
    canaryFailure(err, "on release");
    return false;
  }
  return true;
}

bool KeyStore::openScope(double* id, Err* err) {
  if (!arena_.initialized()) return err->set(Code::NotInitialized, "secret memory is not initialised");
  if (nextSerial_ > kMaxSerial) return err->set(Code::ArenaExhausted, "handle serials exhausted");
  uint32_t i;
  if (!freeScopes_.empty()) {
    i = freeScopes_.back();
    freeScopes_.pop_back();
  } else {
    if (scopes_.size() >= 0xFFFFFu) return err->set(Code::ArenaExhausted, "too many open scopes");
    i = static_cast<uint32_t>(scopes_.size());
    scopes_.emplace_back();
  }
  Scope& sc = scopes_[i];
  sc.serial = nextSerial_++;
  sc.head = -1;
  sc.keys = 0;
  liveScopes_++;
  *id = scopeId(i);
  return true;
}

bool KeyStore::closeScope(uint32_t scopeIndex, uint32_t* wiped, Err* err) {
  Scope& sc = scopes_[scopeIndex];
  uint32_t n = 0;
  bool ok = true;
  while (sc.head >= 0) {
    bool canariesOk;
    wipeAndFree(static_cast<uint32_t>(sc.head), &canariesOk);  // unlinks it: the next key is the head
    ok = ok && canariesOk;
    n++;
  }
  sc.serial = 0;
  freeScopes_.push_back(scopeIndex);
  liveScopes_--;
  *wiped = n;
  if (!ok) {
    canaryFailure(err, "when the scope ended");
    return false;
  }
  return true;
}

bool KeyStore::verifyAll(Err* err) {
  bool ok = arena_.checkScratch();
  for (Slot& s : slots_) {
    if (!ok) break;
    if (!s.serial) continue;
    SlotAccess acc(this, &s);  // closed before any wipe below
    if (!acc.ok()) {
      *err = acc.error();
      return false;
    }
    ok = arena_.check(s.alloc, s.len);
  }
  if (ok && !arena_.resealVaults(err)) return false;
  if (!ok) {
    canaryFailure(err, "found by verify()");
    return false;
  }
  return true;
}

size_t KeyStore::purge() {
  size_t n = 0;
  for (uint32_t i = 0; i < slots_.size(); i++) {
    if (!slots_[i].serial) continue;
    bool canariesOk;  // a purge wipes everything whatever the canaries say
    wipeAndFree(i, &canariesOk);
    n++;
  }
  for (uint32_t i = 0; i < scopes_.size(); i++) {
    if (scopes_[i].serial) {
      scopes_[i].serial = 0;
      scopes_[i].head = -1;
      scopes_[i].keys = 0;
      freeScopes_.push_back(i);
      liveScopes_--;
    }
  }
  return n;
}

}  // namespace ss
