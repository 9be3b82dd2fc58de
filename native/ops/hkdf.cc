#include "ops/hkdf.h"

#include <sodium.h>

#include <cstring>
#include <string>

#include "arena.h"  // kScratchBytes

namespace ss {

size_t hashLen(Hash h) { return h == Hash::Sha256 ? 32 : 64; }

// Scratch layout (kScratchBytes): keyed inner/outer hash states, the padded
// key block, the inner hash, a working state; HKDF's T block and PRK after them.
constexpr size_t kIctx = 0, kOctx = 256, kPad = 512, kInner = 640, kT = 768, kWork = 1024;
constexpr size_t kHmacArea = kWork + kHashCtxBytes;
static_assert(kHmacArea == kScratchAfterHmac, "hkdf.h states where the HMAC area ends");
static_assert(kHmacArea + 64 <= kScratchBytes, "scratch too small");  // + a PRK at kHmacArea (bindings/hkdf.cc)

static const HashImpl& impl(const HashSet& hs, Hash h) { return h == Hash::Sha256 ? *hs.sha256 : *hs.sha512; }

// XORs a pad byte into a block, eight bytes at a time (block sizes are multiples of 8).
static void xorPad(uint8_t* pad, size_t n, uint64_t pattern) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    std::memcpy(&w, pad + i, 8);
    w ^= pattern;
    std::memcpy(pad + i, &w, 8);
  }
}

// Keys the inner and outer states once; hmacRun() then costs two hash finals per MAC.
static void hmacKey(const HashImpl& H, In key, uint8_t* scratch) {
  uint8_t* pad = scratch + kPad;
  uint8_t* work = scratch + kWork;
  std::memset(pad, 0, H.block);
  if (key.n > H.block) {
    H.init(work);
    H.update(work, key.p, key.n);
    H.final(work, pad);
  } else if (key.n) {
    std::memcpy(pad, key.p, key.n);
  }
  xorPad(pad, H.block, 0x3636363636363636ull);
  H.init(scratch + kIctx);
  H.update(scratch + kIctx, pad, H.block);
  xorPad(pad, H.block, 0x3636363636363636ull ^ 0x5c5c5c5c5c5c5c5cull);
  H.init(scratch + kOctx);
  H.update(scratch + kOctx, pad, H.block);
  sodium_memzero(pad, H.block);
  sodium_memzero(work, H.ctx);
}

static void hmacRun(const HashImpl& H, const In* parts, size_t n, uint8_t* out, uint8_t* scratch) {
  uint8_t* work = scratch + kWork;
  uint8_t* inner = scratch + kInner;
  std::memcpy(work, scratch + kIctx, H.ctx);
  for (size_t i = 0; i < n; i++) H.update(work, parts[i].p, parts[i].n);
  H.final(work, inner);
  std::memcpy(work, scratch + kOctx, H.ctx);
  H.update(work, inner, H.out);
  H.final(work, out);
  sodium_memzero(inner, H.out);
}

// Zeroes what an HMAC/HKDF call wrote to the HMAC area: the keyed states, the pad block,
// the inner hash, the T block and the working state (not the unused gaps between them).
static void wipeHmac(const HashImpl& H, uint8_t* scratch) {
  sodium_memzero(scratch + kIctx, H.ctx);
  sodium_memzero(scratch + kOctx, H.ctx);
  sodium_memzero(scratch + kPad, H.block);
  sodium_memzero(scratch + kInner, H.out);
  sodium_memzero(scratch + kT, H.out);
  sodium_memzero(scratch + kWork, H.ctx);
}

bool hkdfExtract(const HashSet& hs, Hash h, In salt, const In* ikm, size_t parts, uint8_t* prk, uint8_t* scratch, Err*) {
  // An absent salt is HashLen zero bytes, which HMAC pads to the same block as an empty key.
  const HashImpl& H = impl(hs, h);
  hmacKey(H, salt, scratch);
  hmacRun(H, ikm, parts, prk, scratch);
  wipeHmac(impl(hs, h), scratch);
  burnStack(hs.burn(h == Hash::Sha256));
  return true;
}

bool hkdfExpandMany(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, const In* infos, size_t n,
                    uint8_t* const* outs, size_t outLen, uint8_t* scratch, Err* err) {
  const HashImpl& H = impl(hs, h);
  const size_t hl = H.out;
  if (outLen == 0 || outLen > 255 * hl) {
    return err->set(Code::InvalidArgument, "HKDF output length must be 1.." + std::to_string(255 * hl) +
                                               " bytes for this hash; got " + std::to_string(outLen));
  }
  if (prkLen < hl) {
    return err->set(Code::InvalidArgument, "HKDF-Expand needs a pseudorandom key of at least " +
                                               std::to_string(hl) + " bytes");
  }
  uint8_t* t = scratch + kT;
  hmacKey(H, In{prk, prkLen}, scratch);  // keyed once for every output
  for (size_t k = 0; k < n; k++) {
    size_t done = 0;
    uint8_t counter = 1;
    while (done < outLen) {
      In parts[3];
      size_t np = 0;
      if (counter > 1) parts[np++] = In{t, hl};
      parts[np++] = infos[k];
      parts[np++] = In{&counter, 1};
      hmacRun(H, parts, np, t, scratch);
      size_t take = outLen - done < hl ? outLen - done : hl;
      std::memcpy(outs[k] + done, t, take);
      done += take;
      counter++;
    }
  }
  sodium_memzero(t, hl);
  wipeHmac(impl(hs, h), scratch);
  burnStack(hs.burn(h == Hash::Sha256));
  return true;
}

bool hkdfExpand(const HashSet& hs, Hash h, const uint8_t* prk, size_t prkLen, In info, uint8_t* out, size_t outLen,
                uint8_t* scratch, Err* err) {
  return hkdfExpandMany(hs, h, prk, prkLen, &info, 1, &out, outLen, scratch, err);
}

bool hmacSign(const HashSet& hs, Hash h, In key, In msg, uint8_t* tag, size_t tagLen, uint8_t* scratch, Err* err) {
  const size_t hl = hashLen(h);
  if (tagLen < 16 || tagLen > hl) {
    return err->set(Code::InvalidArgument,
                    "HMAC tag length must be 16.." + std::to_string(hl) + " bytes; got " + std::to_string(tagLen));
  }
  uint8_t* full = scratch + kT;
  hmacKey(impl(hs, h), key, scratch);
  hmacRun(impl(hs, h), &msg, 1, full, scratch);
  std::memcpy(tag, full, tagLen);
  sodium_memzero(full, hl);
  wipeHmac(impl(hs, h), scratch);
  burnStack(hs.burn(h == Hash::Sha256));
  return true;
}

bool hmacVerify(const HashSet& hs, Hash h, In key, In msg, In tag, bool* valid, uint8_t* scratch, Err* err) {
  const size_t hl = hashLen(h);
  if (tag.n < 16 || tag.n > hl) {
    return err->set(Code::InvalidArgument,
                    "HMAC tag length must be 16.." + std::to_string(hl) + " bytes; got " + std::to_string(tag.n));
  }
  uint8_t* full = scratch + kT;
  hmacKey(impl(hs, h), key, scratch);
  hmacRun(impl(hs, h), &msg, 1, full, scratch);
  *valid = sodium_memcmp(full, tag.p, tag.n) == 0;
  sodium_memzero(full, hl);
  wipeHmac(impl(hs, h), scratch);
  burnStack(hs.burn(h == Hash::Sha256));
  return true;
}

}  // namespace ss
