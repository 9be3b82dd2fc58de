// Region retention: when an empty region is unmapped.
//
// Creating a region costs memfd_secret + ftruncate + mmap + two madvise calls
// and a fault per page; destroying one a wipe, munmap and a TLB shootdown. A
// workload that oscillates around N regions (256 concurrent invocations that
// end together, then start again) would pay both on every swing if the arena
// kept only a fixed number of empty regions. So empty regions stay mapped while
// the arena is busy: the arena holds on to the recent high-water mark of
// regions in use. What it holds costs locked memory (zeroed: a released slot is
// wiped before its region can count as empty), so the surplus goes back once
// it has not been needed for a while:
//
// - an idle timer (bindings/idle-release.cc: a libuv timer, unref'd, one per
//   environment) ticks every idleReleaseMs while empty regions beyond
//   retainRegions exist;
// - a tick unmaps as many empty regions as were never needed since the
//   previous tick (the fewest empty regions seen in that period), beyond
//   retainRegions, taking the last ones first (first-fit allocation fills the
//   front of the list, so the last regions are the coldest);
// - so an idle arena is back to retainRegions empty regions at most two
//   periods after its last scope ended.
//
// A new region that does not fit (maxRegions, RLIMIT_MEMLOCK: a vault region or
// one sized for a large key) first unmaps every empty region and tries again.
//
// Never unmapped by this path: region 0 (scratch area), vault regions and
// regions sized for one large key (both unmapped as soon as they are empty, as
// before), and any region with a slot in use (live or quarantined cells).
#include <algorithm>
#include <cstdint>

#include "arena.h"

namespace ss {

void Arena::setIdleTimer(IdleTimer* timer) {
  idleTimer_ = timer;
  if (!timer) idleArmed_ = false;
}

void Arena::regionTaken(Region* r) {
  r->pooledEmpty = false;
  empty_--;
  lowEmpty_ = std::min(lowEmpty_, empty_);
}

void Arena::removeRegion(Region* r) {
  for (size_t i = 1; i < regions_.size(); i++) {
    if (regions_[i] == r) {
      regions_.erase(regions_.begin() + static_cast<long>(i));
      destroyRegion(r);
      return;
    }
  }
}

void Arena::regionEmptied(Region* r) {
  if (!regions_.empty() && r == regions_.front()) return;
  if (r->vault || r->dedicated) {
    removeRegion(r);
    return;
  }
  if (empty_ + 1 > config_.retainRegions && (config_.idleReleaseMs == 0 || !idleTimer_)) {
    removeRegion(r);
    return;
  }
  r->pooledEmpty = true;
  empty_++;
  if (empty_ > config_.retainRegions && !idleArmed_) {
    idleArmed_ = true;
    lowEmpty_ = empty_;
    idleTimer_->arm(config_.idleReleaseMs);
  }
}

// Unmaps up to `most` kept empty regions, the last ones first (region 0 never); returns how many.
size_t Arena::unmapKeptRegions(size_t most) {
  size_t released = 0;
  for (size_t i = regions_.size(); released < most && empty_ > 0 && i-- > 1;) {
    Region* r = regions_[i];
    if (!r->pooledEmpty || r->usedCells != 1) continue;
    regions_.erase(regions_.begin() + static_cast<long>(i));
    r->pooledEmpty = false;
    empty_--;
    released++;
    destroyRegion(r);
  }
  return released;
}

bool Arena::idleTick() {
  const size_t idle = std::min(lowEmpty_, empty_);
  status_.regionsReleasedIdle += unmapKeptRegions(idle > config_.retainRegions ? idle - config_.retainRegions : 0);
  lowEmpty_ = empty_;
  idleArmed_ = empty_ > config_.retainRegions;
  return idleArmed_;
}

size_t Arena::releaseEmptyRegions() {
  const size_t released = unmapKeptRegions(SIZE_MAX);
  lowEmpty_ = std::min(lowEmpty_, empty_);
  return released;  // a running idle timer finds less to do and stops itself
}

void Arena::recountEmpty() {
  empty_ = 0;
  for (size_t i = 1; i < regions_.size(); i++) {
    Region* r = regions_[i];
    r->pooledEmpty = r->usedCells == 1 && !r->vault && !r->dedicated;
    if (r->pooledEmpty) empty_++;
  }
  lowEmpty_ = std::min(lowEmpty_, empty_);
  if (empty_ > config_.retainRegions && idleTimer_ && config_.idleReleaseMs > 0 && !idleArmed_) {
    idleArmed_ = true;
    lowEmpty_ = empty_;
    idleTimer_->arm(config_.idleReleaseMs);
  }
}

}  // namespace ss
