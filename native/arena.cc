#include "arena.h"

#include <errno.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447  // same number on x86_64 and aarch64
#endif
#ifndef MADV_DONTDUMP
#define MADV_DONTDUMP 16
#endif
#ifndef MADV_DONTFORK
#define MADV_DONTFORK 10
#endif

namespace ss {

const char* backendName(Backend b) {
  switch (b) {
    case Backend::MemfdSecret: return "memfd_secret";
    case Backend::Mlock: return "mlock";
    case Backend::Plain: return "plain";
  }
  return "plain";
}

Arena::~Arena() {
  if (idleTimer_) idleTimer_->arenaGone();
  for (Region* r : regions_) destroyRegion(r);
  regions_.clear();
}

bool Arena::init(const ArenaConfig& config, Err* err) {
  if (status_.initialized) return err->set(Code::Internal, "arena already initialised");
  long ps = sysconf(_SC_PAGESIZE);
  page_ = ps > 0 ? static_cast<size_t>(ps) : 4096;
  config_ = config;
  if (config_.regionPages == 0) config_.regionPages = 1;

  if (!config_.autoBackend && config_.forced == Backend::Plain &&
      config_.require != Requirement::Any) {
    return err->set(Code::InvalidArgument,
                    "backend 'plain' gives no locked or secret memory: it needs require: 'any'");
  }
  if (!config_.autoBackend && config_.forced == Backend::Mlock &&
      config_.require == Requirement::Secret) {
    return err->set(Code::InvalidArgument,
                    "backend 'mlock' cannot satisfy require: 'secret' (memfd_secret)");
  }

  // The first region decides the backend; later regions never fall back.
  std::vector<Backend> order;
  if (config_.autoBackend) {
    order = {Backend::MemfdSecret, Backend::Mlock};
  } else {
    order = {config_.forced};
  }
  Err last;
  for (Backend b : order) {
    Region* r = new Region();
    r->cells = config_.regionPages * page_ / kCell;
    r->bitmap.assign((r->cells + 63) / 64, 0);
    Err e;
    status_.backend = b;
    if (mapRegion(r, b, &e)) {
      regions_.push_back(r);
      writeCanaryCell(r);
      markRun(r, 0, 1, true);
      status_.initialized = true;
      status_.regionsCreated++;
      return reserveScratch(err);
    }
    delete r;
    last = e;
    if (b == Backend::MemfdSecret && config_.require == Requirement::Secret) break;
  }
  status_.backend = Backend::Plain;
  return err->set(last.code == Code::None ? Code::ProtectionUnavailable : last.code, last.message);
}

bool Arena::mapRegion(Region* r, Backend backend, Err* err) {
  const size_t dataSize = r->cells * kCell;
  const size_t total = dataSize + 2 * page_;
  void* base = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return err->set(Code::ArenaExhausted, "mmap of a guarded region failed: " + errnoText(errno));
  }
  uint8_t* data = static_cast<uint8_t*>(base) + page_;
  bool locked = false;

  if (backend == Backend::MemfdSecret) {
    status_.memfdSecretTried = true;
    long fd = syscall(SYS_memfd_secret, 0x80000 /* O_CLOEXEC */);
    int e = errno;
    if (fd < 0) {
      munmap(base, total);
      status_.memfdSecretErrno = e;
      if (!status_.initialized) {
        status_.notes.push_back("memfd_secret unavailable: " + errnoText(e));
      }
      return err->set(Code::ProtectionUnavailable,
                      "memfd_secret is unavailable: " + errnoText(e) +
                          (e == ENOSYS ? " (kernel without CONFIG_SECRETMEM, secretmem disabled, or a seccomp filter)" : ""));
    }
    if (ftruncate(static_cast<int>(fd), static_cast<off_t>(dataSize)) != 0) {
      e = errno;
      ::close(static_cast<int>(fd));
      munmap(base, total);
      status_.memfdSecretErrno = e;
      return err->set(Code::ProtectionUnavailable, "ftruncate of memfd_secret failed: " + errnoText(e));
    }
    void* m = mmap(data, dataSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, static_cast<int>(fd), 0);
    e = errno;
    ::close(static_cast<int>(fd));
    if (m == MAP_FAILED) {
      munmap(base, total);
      status_.memfdSecretErrno = e;
      if (!status_.initialized) {
        status_.notes.push_back("memfd_secret mapping refused: " + errnoText(e));
      }
      return err->set(status_.initialized && (e == EAGAIN || e == ENOMEM) ? Code::ArenaExhausted : Code::ProtectionUnavailable,
                      "mmap of memfd_secret memory failed: " + errnoText(e) +
                          (e == EAGAIN || e == ENOMEM ? " (RLIMIT_MEMLOCK reached?)" : ""));
    }
    locked = true;  // secretmem pages are unevictable and count as locked
    status_.memfdSecretErrno = 0;
  } else {
    if (mprotect(data, dataSize, PROT_READ | PROT_WRITE) != 0) {
      int e = errno;
      munmap(base, total);
      return err->set(Code::ArenaExhausted, "mprotect of a region failed: " + errnoText(e));
    }
    if (backend == Backend::Mlock) {
      if (mlock(data, dataSize) == 0) {
        locked = true;
      } else {
        int e = errno;
        status_.mlockErrno = e;
        status_.lockFailures++;
        if (config_.require != Requirement::Any) {
          munmap(base, total);
          return err->set(
              status_.initialized ? Code::ArenaExhausted : Code::ProtectionUnavailable,
              "mlock of " + std::to_string(dataSize) + " bytes failed: " + errnoText(e) +
                  (e == ENOMEM || e == EPERM ? " (RLIMIT_MEMLOCK too small or no CAP_IPC_LOCK);"
                                               " pass require: 'any' to accept unlocked memory"
                                             : ""));
        }
        if (!unlockedNoted_) {
          unlockedNoted_ = true;
          status_.notes.push_back("regions are NOT locked: mlock of " + std::to_string(dataSize) +
                                  " bytes failed: " + errnoText(e));
        }
      }
    }
  }

  bool dontdump = true, dontfork = true;
  if (backend != Backend::Plain) {
    if (madvise(data, dataSize, MADV_DONTDUMP) != 0) {
      dontdump = false;
      status_.madviseErrno = errno;
      status_.notes.push_back("MADV_DONTDUMP failed: " + errnoText(errno));
    }
    if (madvise(data, dataSize, MADV_DONTFORK) != 0) {
      dontfork = false;
      status_.madviseErrno = errno;
      status_.notes.push_back("MADV_DONTFORK failed: " + errnoText(errno));
    }
  } else {
    dontdump = dontfork = false;
  }

  // Fault every page in now: allocation later must not fault or fail.
  std::memset(data, 0, dataSize);

  r->base = static_cast<uint8_t*>(base);
  r->totalSize = total;
  r->data = data;
  r->dataSize = dataSize;
  r->locked = locked;
  if (locked) status_.lockedBytes += dataSize;
  status_.reservedBytes += total;

  if (!status_.initialized) {
    status_.locked = locked;
    status_.dontdump = dontdump;
    status_.dontfork = dontfork;
    status_.guardPages = true;
  } else {
    // Later regions may only keep or lower what the report says; never raise it.
    status_.locked = status_.locked && locked;
    status_.dontdump = status_.dontdump && dontdump;
    status_.dontfork = status_.dontfork && dontfork;
  }
  return true;
}

void Arena::writeCanaryCell(Region* r) {
  uint8_t* c = r->data;
  randombytes_buf(c, kCanary);
}

bool Arena::reserveScratch(Err* err) {
  // At the end of region 0, so that keys fill the region from its start.
  scratchLen_ = kScratchBytes;
  Region* r = regions_.front();
  const uint32_t n = static_cast<uint32_t>((2 * kCanary + scratchLen_ + kCell - 1) / kCell);
  if (r->cells < n + 2) return err->set(Code::InvalidArgument, "regionPages is too small for the scratch area");
  const uint32_t cell = static_cast<uint32_t>(r->cells) - n;
  markRun(r, cell, n, true);
  scratch_.region = r;
  scratch_.cell = cell;
  scratch_.cells = n;
  std::memcpy(scratch_.start(), r->data, kCanary);
  std::memcpy(scratch_.start() + kCanary + scratchLen_, r->data, kCanary);
  return true;
}

Region* Arena::createRegion(size_t pages, bool vault, Err* err) {
  // Empty regions kept for reuse never stand in the way of a new one (maxRegions, RLIMIT_MEMLOCK).
  if (regions_.size() >= config_.maxRegions && releaseEmptyRegions() == 0) {
    err->set(Code::ArenaExhausted, "arena is full: " + std::to_string(regions_.size()) +
                                       " regions in use (maxRegions); release keys or end scopes");
    return nullptr;
  }
  Region* r = new Region();
  r->cells = pages * page_ / kCell;
  r->bitmap.assign((r->cells + 63) / 64, 0);
  if (!mapRegion(r, status_.backend, err) && (releaseEmptyRegions() == 0 || !mapRegion(r, status_.backend, err))) {
    delete r;
    return nullptr;
  }
  writeCanaryCell(r);
  markRun(r, 0, 1, true);
  r->vault = vault;
  regions_.push_back(r);
  status_.regionsCreated++;
  if (vault) {
    if (mprotect(r->data, r->dataSize, PROT_NONE) == 0) r->sealed = true;
  }
  return r;
}

void Arena::destroyRegion(Region* r) {
  if (r->sealed) mprotect(r->data, r->dataSize, PROT_READ | PROT_WRITE);
  sodium_memzero(r->data, r->dataSize);
  if (r->locked) {
    munlock(r->data, r->dataSize);
    status_.lockedBytes -= r->dataSize;
  }
  munmap(r->base, r->totalSize);
  status_.reservedBytes -= r->totalSize;
  status_.regionsReleased++;
  delete r;
}

bool Arena::findRun(Region* r, uint32_t n, uint32_t* cell) {
  const size_t words = r->bitmap.size();
  if (n == 1) {
    for (size_t w = 0; w < words; w++) {
      uint64_t free = ~r->bitmap[w];
      if (free) {
        uint32_t c = static_cast<uint32_t>(w * 64 + __builtin_ctzll(free));
        if (c >= r->cells) return false;
        *cell = c;
        return true;
      }
    }
    return false;
  }
  uint32_t run = 0;
  for (uint32_t c = 1; c < r->cells; c++) {
    bool used = (r->bitmap[c / 64] >> (c % 64)) & 1;
    run = used ? 0 : run + 1;
    if (run == n) {
      *cell = c + 1 - n;
      return true;
    }
  }
  return false;
}

void Arena::markRun(Region* r, uint32_t cell, uint32_t n, bool used) {
  for (uint32_t c = cell; c < cell + n; c++) {
    if (used) {
      r->bitmap[c / 64] |= (uint64_t{1} << (c % 64));
    } else {
      r->bitmap[c / 64] &= ~(uint64_t{1} << (c % 64));
    }
  }
  if (used) {
    r->usedCells += n;
  } else {
    r->usedCells -= n;
  }
}

bool Arena::openVault(Region* r, Err* err) {
  if (r->opens++ == 0 && r->sealed) {
    if (mprotect(r->data, r->dataSize, PROT_READ | PROT_WRITE) != 0) {
      r->opens--;
      return err->set(Code::ProtectionUnavailable, "unsealing a vault region failed: " + errnoText(errno));
    }
    r->sealed = false;
  }
  return true;
}

void Arena::closeVault(Region* r) {
  if (--r->opens == 0) {
    if (mprotect(r->data, r->dataSize, PROT_NONE) == 0) {
      r->sealed = true;
    } else {
      // The root key stays readable until a later close or verify() re-seals it: say so.
      status_.sealFailures++;
      status_.sealErrno = errno;
    }
  }
}

bool Arena::resealVaults(Err* err) {
  bool ok = true;
  for (Region* r : regions_) {
    if (!r->vault || r->sealed || r->opens != 0) continue;
    if (mprotect(r->data, r->dataSize, PROT_NONE) == 0) {
      r->sealed = true;
    } else {
      status_.sealFailures++;
      status_.sealErrno = errno;
      ok = false;
    }
  }
  if (!ok) err->set(Code::ProtectionUnavailable, "a vault region holding a root key could not be re-sealed: " + errnoText(status_.sealErrno));
  return ok;
}

bool Arena::alloc(size_t len, bool vault, Allocation* out, Err* err) {
  if (!status_.initialized) return err->set(Code::NotInitialized, "secret memory is not initialised");
  const size_t need = (2 * kCanary + len + kCell - 1) / kCell;
  if (len == 0 || len > kMaxKeyBytes) {
    return err->set(Code::InvalidArgument, "a key must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
  }
  const size_t maxCells = config_.regionPages * page_ / kCell - 1;
  // A slot larger than a region gets a region of its own.
  const bool dedicated = need > maxCells && !vault;
  const uint32_t n = static_cast<uint32_t>(need);
  Region* target = nullptr;
  uint32_t cell = 0;
  // (No copy of regions_ here: this runs for every key, and a copy is a malloc and a free.)
  for (size_t i = 0; !dedicated && i < regions_.size(); i++) {
    Region* r = regions_[i];
    if (r->vault != vault || r->dedicated) continue;
    if (r->cells - r->usedCells < n) continue;
    if (findRun(r, n, &cell)) {
      target = r;
      break;
    }
  }
  if (!target) {
    const size_t own = ((n + 1) * kCell + page_ - 1) / page_;
    target = createRegion(vault || dedicated ? own : config_.regionPages, vault, err);
    if (!target) return false;
    target->dedicated = dedicated;
    if (!findRun(target, n, &cell)) return err->set(Code::Internal, "fresh region has no room");
  }
  if (!open(target, err)) return false;
  if (target->pooledEmpty) regionTaken(target);
  markRun(target, cell, n, true);
  uint8_t* start = target->data + cell * kCell;
  const uint8_t* canary = target->data;
  std::memcpy(start, canary, kCanary);
  std::memcpy(start + kCanary + len, canary, kCanary);
  close(target);
  out->region = target;
  out->cell = cell;
  out->cells = n;
  return true;
}

// Constant-time equality of two 16-byte canaries, a word at a time (sodium_memcmp goes byte by byte).
static bool canaryEqual(const uint8_t* a, const uint8_t* b) {
  static_assert(kCanary == 16, "canaryEqual compares two 8-byte words");
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a, 8);
  std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b0, b, 8);
  std::memcpy(&b1, b + 8, 8);
  volatile uint64_t diff = (a0 ^ b0) | (a1 ^ b1);
  return diff == 0;
}

// True when n bytes are all zero: a word at a time (sodium_is_zero folds byte by byte
// through a volatile, about 2 ns a byte). The padding it checks holds no secret.
static bool allZero(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; i++) acc |= p[i];
  return acc == 0;
}

bool Arena::check(const Allocation& a, size_t len) const {
  const uint8_t* start = a.start();
  const uint8_t* canary = a.region->data;
  bool ok = canaryEqual(start, canary) & canaryEqual(start + kCanary + len, canary);
  const size_t used = 2 * kCanary + len;
  const size_t pad = a.cells * kCell - used;
  if (pad > 0 && !allZero(start + used, pad)) ok = false;
  return ok;
}

bool Arena::release(const Allocation& a, size_t len) {
  Region* r = a.region;
  Err ignored;
  open(r, &ignored);
  bool ok = check(a, len);
  sodium_memzero(a.start(), a.cells * kCell);
  close(r);
  markRun(r, a.cell, a.cells, false);
  if (r->usedCells == 1) regionEmptied(r);
  return ok;
}

void Arena::wipeAll() {
  for (Region* r : regions_) {
    if (r->sealed) mprotect(r->data, r->dataSize, PROT_READ | PROT_WRITE);
    sodium_memzero(r->data, r->dataSize);
    std::fill(r->bitmap.begin(), r->bitmap.end(), 0);
    r->usedCells = 0;
    writeCanaryCell(r);
    markRun(r, 0, 1, true);
    if (scratch_.region == r) {
      markRun(r, scratch_.cell, scratch_.cells, true);
      std::memcpy(scratch_.start(), r->data, kCanary);
      std::memcpy(scratch_.start() + kCanary + scratchLen_, r->data, kCanary);
    }
    if (r->vault) {
      r->opens = 0;
      if (mprotect(r->data, r->dataSize, PROT_NONE) == 0) r->sealed = true;
    }
  }
  recountEmpty();
}

size_t Arena::usedCells() const {
  size_t n = 0;
  for (const Region* r : regions_) n += r->usedCells - 1;
  return n - scratch_.cells;
}

size_t Arena::totalCells() const {
  size_t n = 0;
  for (const Region* r : regions_) n += r->cells - 1;
  return n - scratch_.cells;
}

}  // namespace ss
