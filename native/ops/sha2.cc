#include "ops/sha2.h"

#include "ops/stack.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sodium.h>

#include <cstring>
#include <mutex>

namespace ss {

namespace {

// ---- libsodium -----------------------------------------------------------
void s256Init(void* c) { crypto_hash_sha256_init(static_cast<crypto_hash_sha256_state*>(c)); }
void s256Update(void* c, const uint8_t* p, size_t n) {
  if (n) crypto_hash_sha256_update(static_cast<crypto_hash_sha256_state*>(c), p, n);
}
void s256Final(void* c, uint8_t* out) { crypto_hash_sha256_final(static_cast<crypto_hash_sha256_state*>(c), out); }
void s512Init(void* c) { crypto_hash_sha512_init(static_cast<crypto_hash_sha512_state*>(c)); }
void s512Update(void* c, const uint8_t* p, size_t n) {
  if (n) crypto_hash_sha512_update(static_cast<crypto_hash_sha512_state*>(c), p, n);
}
void s512Final(void* c, uint8_t* out) { crypto_hash_sha512_final(static_cast<crypto_hash_sha512_state*>(c), out); }

static_assert(sizeof(crypto_hash_sha512_state) <= kHashCtxBytes, "hash context too small");

const HashImpl kSodium256 = {"libsodium", 64, 32, sizeof(crypto_hash_sha256_state), s256Init, s256Update, s256Final};
const HashImpl kSodium512 = {"libsodium", 128, 64, sizeof(crypto_hash_sha512_state), s512Init, s512Update, s512Final};
HashSet kSodium = {&kSodium256, &kSodium512, kBurnMax, kBurnMax};

// ---- the host's OpenSSL (exported by the node binary) --------------------
using InitFn = int (*)(void*);
using UpdateFn = int (*)(void*, const void*, size_t);
using FinalFn = int (*)(unsigned char*, void*);

struct Host {
  InitFn init256 = nullptr, init512 = nullptr;
  UpdateFn update256 = nullptr, update512 = nullptr;
  FinalFn final256 = nullptr, final512 = nullptr;
} host;

void h256Init(void* c) { host.init256(c); }
void h256Update(void* c, const uint8_t* p, size_t n) {
  if (n) host.update256(c, p, n);
}
void h256Final(void* c, uint8_t* out) { host.final256(out, c); }
void h512Init(void* c) { host.init512(c); }
void h512Update(void* c, const uint8_t* p, size_t n) {
  if (n) host.update512(c, p, n);
}
void h512Final(void* c, uint8_t* out) { host.final512(out, c); }

// OpenSSL's SHA256_CTX is 112 bytes and SHA512_CTX 216 on 64-bit targets (1.1 and 3.x); the
// addon builds without OpenSSL's headers, so the sizes are stated here (a little slack on top).
constexpr size_t kOpenSslSha256Ctx = 128;
constexpr size_t kOpenSslSha512Ctx = 224;
const HashImpl kHost256 = {"openssl (host)", 64, 32, kOpenSslSha256Ctx, h256Init, h256Update, h256Final};
const HashImpl kHost512 = {"openssl (host)", 128, 64, kOpenSslSha512Ctx, h512Init, h512Update, h512Final};
HashSet kHost = {&kHost256, &kHost512, kBurnMax, kBurnMax};

template <typename T>
T sym(const char* name) {
  return reinterpret_cast<T>(dlsym(RTLD_DEFAULT, name));
}

// Known answers: SHA-256 and SHA-512 of 1,000 bytes of 0x61 ('a') fed in odd-sized
// pieces, compared with libsodium's results for the same input.
bool agrees(const HashImpl& a, const HashImpl& b) {
  alignas(16) uint8_t ca[kHashCtxBytes], cb[kHashCtxBytes];
  uint8_t in[1000], oa[64], ob[64];
  std::memset(in, 'a', sizeof in);
  a.init(ca);
  b.init(cb);
  for (size_t off = 0, step = 1; off < sizeof in; off += step, step = step * 3 % 97 + 1) {
    size_t n = off + step > sizeof in ? sizeof in - off : step;
    a.update(ca, in + off, n);
    b.update(cb, in + off, n);
  }
  a.final(ca, oa);
  b.final(cb, ob);
  sodium_memzero(ca, sizeof ca);
  sodium_memzero(cb, sizeof cb);
  return std::memcmp(oa, ob, a.out) == 0;
}

// How deep one SHA-256 and one SHA-512 of 1 KiB reach below the caller (ops/stack.h).
struct HashRun {
  const HashImpl* h;
  alignas(16) uint8_t ctx[kHashCtxBytes];
  uint8_t in[1024 + 17];  // many blocks and a partial one: every path of the block functions
  uint8_t out[64];
};
void runHash(void* p) {
  auto* r = static_cast<HashRun*>(p);
  r->h->init(r->ctx);
  r->h->update(r->ctx, r->in, sizeof r->in);
  r->h->final(r->ctx, r->out);
}
size_t measureBurn(const HashImpl* h) {
  static HashRun run;  // public test bytes; static, so that it is not in the measured frames
  run.h = h;
  size_t used = deepestStackUse(runHash, &run, 8192);  // tens of µs for both hashes, once per process
  sodium_memzero(&run, sizeof run);
  return burnFor(used);
}
void measureBurns(HashSet* hs) {
  hs->burn256 = measureBurn(hs->sha256);
  hs->burn512 = measureBurn(hs->sha512);
}

HashSet* resolveHost() {
  host.init256 = sym<InitFn>("SHA256_Init");
  host.update256 = sym<UpdateFn>("SHA256_Update");
  host.final256 = sym<FinalFn>("SHA256_Final");
  host.init512 = sym<InitFn>("SHA512_Init");
  host.update512 = sym<UpdateFn>("SHA512_Update");
  host.final512 = sym<FinalFn>("SHA512_Final");
  if (!host.init256 || !host.update256 || !host.final256 || !host.init512 || !host.update512 || !host.final512) {
    return &kSodium;
  }
  if (!agrees(kHost256, kSodium256) || !agrees(kHost512, kSodium512)) return &kSodium;
  return &kHost;
}

}  // namespace

namespace {

const HashSet* chosenHashes = &kSodium;
pthread_once_t chooseOnce = PTHREAD_ONCE_INIT;
void chooseHashes() {
  if (sodium_init() < 0) return;  // kBurnMax stays: the most a burn may be
  HashSet* chosen = resolveHost();
  measureBurns(chosen);
  chosenHashes = chosen;
}
pthread_once_t sodiumOnce = PTHREAD_ONCE_INIT;
void measureSodium() {
  pthread_once(&chooseOnce, chooseHashes);
  if (chosenHashes != &kSodium && sodium_init() >= 0) measureBurns(&kSodium);
}

}  // namespace

// pthread_once, not the C++ call_once: with the static libstdc++ in this addon, call_once's
// thread-local hand-off can resolve against the host Node's copy (Node 24 crashes in it).
const HashSet& hostOrSodium() {
  pthread_once(&chooseOnce, chooseHashes);
  return *chosenHashes;
}

const HashSet& sodiumOnly() {
  pthread_once(&sodiumOnce, measureSodium);  // measures its burns when it is not the chosen set
  return kSodium;
}

}  // namespace ss
