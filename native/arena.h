// The guarded arena: the only code in the project that calls mmap, mprotect,
// mlock, madvise or memfd_secret.
//
// A region is  [guard page | data pages | guard page].  Data pages are cut into
// 64-byte cells; cell 0 of every region holds that region's random canary.  A
// slot of `len` bytes takes ceil((16 + len + 16) / 64) consecutive cells laid out
// as  [canary 16 | key bytes len | canary 16 | zero padding].  A 32-byte key
// therefore takes exactly one cell: 63 keys share one 4 KiB page with the canary
// cell, so opening a scope or deriving a key makes no system call once a region
// exists.  Cells are zeroed when released, so a new slot is always zero.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.h"

namespace ss {

enum class Backend { MemfdSecret, Mlock, Plain };
enum class Requirement { Secret, Locked, Any };

const char* backendName(Backend b);

struct ArenaConfig {
  bool autoBackend = true;          // memfd_secret, else mmap+mlock
  Backend forced = Backend::MemfdSecret;  // used when !autoBackend
  Requirement require = Requirement::Locked;
  size_t regionPages = 4;           // data pages per region
  size_t maxRegions = 256;
  size_t retainRegions = 2;         // empty regions kept for reuse, even when idle
  // Empty regions beyond retainRegions stay mapped while the arena is busy and are
  // unmapped once they stayed empty for a whole period of this many ms
  // (region-pool.cc); 0: unmapped at once, as soon as they are empty.
  uint32_t idleReleaseMs = 1000;
};

constexpr size_t kCell = 64;
// The largest key: HKDF-SHA512's maximum output (255 * 64 bytes).
constexpr size_t kMaxKeyBytes = 255 * 64;
constexpr size_t kCanary = 16;
// The per-instance scratch area for hash states, HKDF blocks and key schedules.
constexpr size_t kScratchBytes = 1536;

struct Region {
  uint8_t* base = nullptr;  // start of the reservation (first guard page)
  size_t totalSize = 0;
  uint8_t* data = nullptr;
  size_t dataSize = 0;
  size_t cells = 0;
  size_t usedCells = 0;  // cell 0 (canary) included
  std::vector<uint64_t> bitmap;
  bool vault = false;    // sealed (PROT_NONE) between uses
  bool dedicated = false;  // sized for one large slot; unmapped when empty
  bool sealed = false;
  int opens = 0;
  bool locked = false;
  bool pooledEmpty = false;  // empty and kept for reuse (counted in Arena::empty_)
};

struct Allocation {
  Region* region = nullptr;
  uint32_t cell = 0;
  uint32_t cells = 0;
  uint8_t* bytes() const { return region->data + cell * kCell + kCanary; }
  uint8_t* start() const { return region->data + cell * kCell; }
};

struct ArenaStatus {
  Backend backend = Backend::Plain;
  bool initialized = false;
  bool locked = false;
  bool dontdump = false;
  bool dontfork = false;
  bool guardPages = false;
  int memfdSecretErrno = 0;  // why memfd_secret was not used (0: used or not tried)
  bool memfdSecretTried = false;
  int mlockErrno = 0;        // last mlock failure
  int madviseErrno = 0;
  size_t lockFailures = 0;
  size_t lockedBytes = 0;
  size_t reservedBytes = 0;
  size_t regionsCreated = 0;
  size_t regionsReleased = 0;
  size_t regionsReleasedIdle = 0;  // of regionsReleased: by the idle release
  size_t sealFailures = 0;   // a vault region left readable after a failed re-seal (reported, retried)
  int sealErrno = 0;
  std::vector<std::string> notes;  // every downgrade, stated once
};

class Arena {
 public:
  // Arms the idle release: bindings/idle-release.cc implements it with a libuv timer
  // on the environment's loop, which calls idleTick() every `ms` until it returns false.
  class IdleTimer {
   public:
    virtual void arm(uint32_t ms) = 0;
    virtual void arenaGone() = 0;  // the arena is being destroyed: never call it again

   protected:
    ~IdleTimer() = default;
  };

  Arena() = default;
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  bool init(const ArenaConfig& config, Err* err);
  bool initialized() const { return status_.initialized; }
  // Carves a zeroed slot of `len` bytes with canaries written around it.
  bool alloc(size_t len, bool vault, Allocation* out, Err* err);
  // Checks the canaries and padding, then zeroes every cell of the slot.
  // Returns false when a canary or the padding was overwritten.
  bool release(const Allocation& a, size_t len);
  bool check(const Allocation& a, size_t len) const;
  // Zeroes all data of all regions and restores fresh canaries.
  void wipeAll();
  // Vault regions are PROT_NONE except between open() and close().
  bool open(Region* r, Err* err) { return !r->vault || openVault(r, err); }
  void close(Region* r) {
    if (r->vault) closeVault(r);
  }

  // The instance's scratch area (HMAC state, HKDF blocks, AES key schedule):
  // reserved in region 0 at init, between canaries, never released.
  uint8_t* scratch() const { return scratch_.region ? scratch_.bytes() : nullptr; }
  bool checkScratch() const { return !scratch_.region || check(scratch_, scratchLen_); }
  const ArenaStatus& status() const { return status_; }
  const ArenaConfig& config() const { return config_; }
  size_t regionCount() const { return regions_.size(); }
  // Re-seals vault regions a failed close left readable; false (with err) if any stays readable.
  bool resealVaults(Err* err);
  size_t usedCells() const;
  size_t totalCells() const;
  size_t pageSize() const { return page_; }

  // ---- region retention (region-pool.cc) ----------------------------------
  // Without a timer, empty regions beyond retainRegions are unmapped at once.
  void setIdleTimer(IdleTimer* timer);
  // Unmaps the empty regions that stayed empty since the last tick, beyond
  // retainRegions. Returns true while empty regions beyond retainRegions remain.
  bool idleTick();
  size_t emptyRegions() const { return empty_; }
  bool idleReleasePending() const { return idleArmed_; }
  uint32_t idleReleaseMs() const { return idleTimer_ ? config_.idleReleaseMs : 0; }
  // Bytes from a slot's key bytes to the end of its region's data (tests only).
  size_t bytesToRegionEnd(const Allocation& a) const {
    return static_cast<size_t>(a.region->data + a.region->dataSize - a.bytes());
  }

 private:
  Region* createRegion(size_t pages, bool vault, Err* err);
  bool mapRegion(Region* r, Backend backend, Err* err);
  void destroyRegion(Region* r);
  // Region retention (region-pool.cc).
  void regionTaken(Region* r);    // an empty region gets a slot again
  void regionEmptied(Region* r);  // keeps, unmaps or arms the idle release
  void removeRegion(Region* r);
  void recountEmpty();            // after wipeAll
  size_t releaseEmptyRegions();   // all of them, when a new region does not fit
  size_t unmapKeptRegions(size_t most);  // the shared step of both
  void writeCanaryCell(Region* r);
  static bool findRun(Region* r, uint32_t n, uint32_t* cell);
  static void markRun(Region* r, uint32_t cell, uint32_t n, bool used);

  bool reserveScratch(Err* err);
  bool openVault(Region* r, Err* err);
  void closeVault(Region* r);
  ArenaConfig config_;
  ArenaStatus status_;
  Allocation scratch_;
  size_t scratchLen_ = 0;
  bool unlockedNoted_ = false;
  std::vector<Region*> regions_;
  size_t page_ = 4096;
  IdleTimer* idleTimer_ = nullptr;
  bool idleArmed_ = false;
  size_t empty_ = 0;     // regions with pooledEmpty
  size_t lowEmpty_ = 0;  // the fewest empty regions since the last idle tick
};

}  // namespace ss
