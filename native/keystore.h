// Slots and scopes: who owns which bytes of the arena, and for how long.
//
// A handle is one JavaScript number: slot index (low 20 bits) + serial * 2^20.
// Serials come from a per-instance counter that starts at a random value, so a
// handle is valid only while its slot still carries the serial it was issued
// with (use after release fails), a number from another addon instance falls
// outside this instance's serial range, and a forged number almost surely does.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <vector>

#include "arena.h"

namespace ss {

constexpr double kIndexSpace = 1048576.0;  // 2^20
constexpr uint64_t kMaxSerial = (uint64_t{1} << 33) - 1;

// What a key is for, fixed when the slot is made: every operation checks it
// (key-use.h), so a key serves one purpose even if the JavaScript layer is bypassed.
enum class KeyKind : uint8_t {
  Secret = 0,  // generic (randomKey/importKey/decodeKey): HKDF, HMAC, AEAD
  X25519Private = 1,
  Scratch = 2,
  Hkdf = 3,    // HKDF PRKs and key-derivation keys
  Hmac = 4,
  Aead = 5,
  Root = 6,    // sealed root keys: HKDF only
  Shared = 7,  // raw (EC)DH outputs: HKDF input only
  Ed25519 = 8,
  EcdsaP256 = 9,
  EcdsaP384 = 10,
  EcdhP256 = 11,
  EcdhP384 = 12,
  Hpke = 13,   // an HPKE context's AEAD key || base_nonce: the HPKE AEAD only
};
constexpr uint8_t kKeyKinds = 14;

struct Slot {
  uint64_t serial = 0;  // 0: free
  Allocation alloc;
  uint32_t len = 0;
  uint32_t scope = 0;   // scope index + 1; 0: not owned by a scope
  int32_t prev = -1, next = -1;
  KeyKind kind = KeyKind::Secret;
  bool sealed = false;
  napi_ref lent = nullptr;  // external ArrayBuffer lent by exposeUnsafe
};

struct Scope {
  uint64_t serial = 0;
  int32_t head = -1;
  uint32_t keys = 0;
};

class KeyStore;

// Grants access to a slot's bytes; opens a sealed vault region for its lifetime.
class SlotAccess {
 public:
  SlotAccess(KeyStore* ks, Slot* s);
  ~SlotAccess();
  SlotAccess(const SlotAccess&) = delete;
  SlotAccess& operator=(const SlotAccess&) = delete;
  uint8_t* bytes() const { return slot_->alloc.bytes(); }
  uint32_t len() const { return slot_->len; }
  bool ok() const { return ok_; }
  // Why the slot could not be opened (a sealed vault region that failed to unseal).
  const Err& error() const { return err_; }

 private:
  KeyStore* ks_;
  Slot* slot_;
  Region* region_;
  bool ok_ = false;
  Err err_;
};

class KeyStore {
 public:
  explicit KeyStore(napi_env env);
  ~KeyStore();

  Arena& arena() { return arena_; }

  // Handles as numbers.
  bool decodeKey(double id, uint32_t* index, Err* err) const;
  bool decodeScope(double id, uint32_t* scopeIndex, Err* err) const;
  double keyId(uint32_t index) const;
  double scopeId(uint32_t index) const;

  Slot* slot(uint32_t index) { return &slots_[index]; }
  // Allocates a zeroed slot owned by `scopeIndex + 1` (0 = unowned).
  bool create(size_t len, KeyKind kind, uint32_t scopeOwner, bool sealed, uint32_t* index, Err* err);
  // Wipes and frees one slot. Returns false if its canaries were damaged,
  // in which case the whole arena has been wiped.
  bool destroy(uint32_t index, Err* err);

  bool openScope(double* id, Err* err);
  bool closeScope(uint32_t scopeIndex, uint32_t* wiped, Err* err);
  bool scopeAlive(double id) const;
  const Scope& scope(uint32_t i) const { return scopes_[i]; }

  // Checks every live slot's canaries; on a mismatch wipes everything.
  bool verifyAll(Err* err);
  size_t liveSlots() const { return live_; }
  size_t liveScopes() const { return liveScopes_; }
  // Slots whose lent view could not be detached: wiped, their cells never reused.
  size_t quarantined() const { return quarantined_; }
  // Wipes every slot and scope (fatal paths, process exit).
  size_t purge();
  // Audit key channel (audit-channel.h), when on: writes every live slot,
  // framed by a begin and an end record (live slot and scope counts).
  void auditFlush();

 private:
  // False when a lent view could not be detached (the caller quarantines the cells).
  bool detachLent(Slot* s);
  // Wipes and frees one slot: its cells go back to the arena, or, when JavaScript still
  // holds a view of them that could not be detached, are zeroed and never reused
  // (quarantined). Returns false when the cells were quarantined; `canariesOk` is false
  // when the arena found a canary or the padding damaged.
  bool wipeAndFree(uint32_t index, bool* canariesOk);
  void unlink(uint32_t index);
  void canaryFailure(Err* err, const char* where);
  void freeSlot(uint32_t index);
  // Audit key channel, when on: the slot's bytes, kind and owner (before a wipe or in a flush).
  void auditSlot(uint32_t index, uint8_t record);

  napi_env env_;
  Arena arena_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> freeSlots_;
  std::vector<Scope> scopes_;
  std::vector<uint32_t> freeScopes_;
  uint64_t serialStart_ = 0;
  uint64_t nextSerial_ = 0;
  size_t live_ = 0;
  size_t liveScopes_ = 0;
  size_t quarantined_ = 0;
  friend class SlotAccess;
};

}  // namespace ss
