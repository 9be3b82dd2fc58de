// Test hooks used by the guard and arena tests: destructive only, they never
// read key bytes.
#include <sodium.h>

#include <string>

#include "bindings/context.h"
#include "ops/stack.h"

namespace ss {
namespace {

Napi::Value TestCorrupt(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  uint32_t k;
  double off;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(env, err);
  if (!cx.Number(info, 1, &off)) return cx.Bad(env, "offset must be a number");
  uint8_t* p = cx.store.slot(k)->alloc.bytes() + static_cast<long>(off);
  *reinterpret_cast<volatile uint8_t*>(p) ^= 0xA5;
  return env.Undefined();
}

Napi::Value TestBytesToRegionEnd(Context& cx, const Args& info) {
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), static_cast<double>(cx.store.arena().bytesToRegionEnd(cx.store.slot(k)->alloc)));
}

Napi::Value TestSlotAddress(Context& cx, const Args& info) {
  Err err;
  uint32_t k;
  if (!cx.Key(info, 0, &k, &err)) return cx.Throw(info.Env(), err);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(cx.store.slot(k)->alloc.bytes())));
}

// ---- stack use of each primitive family (sizes and checks burnStack) ---------------
// testStackUse(family, engine) -> { touched, residue } in bytes below the measuring frame.
// Raw primitives (no burn: what they use) and whole operations (with their burn: what
// they leave). Inputs are fixed public test bytes; state goes to the arena's scratch.
struct StackCase {
  const HashSet* hashes;
  const AesGcmEngine* aes;
  Hash hash;
  uint8_t* scratch;
  uint8_t out[1024 + 64];
};

alignas(16) const uint8_t kTestKey[64] = {7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1};
alignas(16) const uint8_t kTestMsg[1024] = {1, 2, 3};
const uint8_t kTestNonce[24] = {9};

void rawHash(void* p) {
  auto* c = static_cast<StackCase*>(p);
  const HashImpl& H = c->hash == Hash::Sha256 ? *c->hashes->sha256 : *c->hashes->sha512;
  H.init(c->scratch);
  H.update(c->scratch, kTestMsg, sizeof kTestMsg);
  H.final(c->scratch, c->out);
  sodium_memzero(c->scratch, kHashCtxBytes);
}
void rawChaCha(void* p) {
  auto* c = static_cast<StackCase*>(p);
  unsigned long long n = 0;
  crypto_core_hchacha20(c->scratch, kTestNonce, kTestKey, nullptr);
  crypto_aead_chacha20poly1305_ietf_encrypt(c->out, &n, kTestMsg, sizeof kTestMsg, nullptr, 0, nullptr, kTestNonce, c->scratch);
  sodium_memzero(c->scratch, 32);
}
void opExtract(void* p) {
  auto* c = static_cast<StackCase*>(p);
  Err e;
  In ikm{kTestKey, 64};
  hkdfExtract(*c->hashes, c->hash, In{kTestMsg, 23}, &ikm, 1, c->out, c->scratch, &e);
}
void opExpandMany(void* p) {
  auto* c = static_cast<StackCase*>(p);
  Err e;
  In infos[4] = {{kTestMsg, 20}, {kTestMsg, 21}, {kTestMsg, 22}, {kTestMsg, 23}};
  uint8_t* outs[4] = {c->out, c->out + 64, c->out + 128, c->out + 192};
  hkdfExpandMany(*c->hashes, c->hash, kTestKey, 64, infos, 4, outs, 32, c->scratch, &e);
}
void opHmac(void* p) {
  auto* c = static_cast<StackCase*>(p);
  Err e;
  hmacSign(*c->hashes, c->hash, In{kTestKey, 32}, In{kTestMsg, sizeof kTestMsg}, c->out, 32, c->scratch, &e);
}
void opSeal(void* p) {
  auto* c = static_cast<StackCase*>(p);
  Err e;
  aeadSeal(Aead::XChaCha20Poly1305, *c->aes, kTestKey, In{kTestNonce, 24}, In{kTestMsg, sizeof kTestMsg}, In{}, c->out, c->scratch, &e);
}

void opSealGcm(void* p) {
  auto* c = static_cast<StackCase*>(p);
  Err e;
  aeadSeal(Aead::Aes256Gcm, *c->aes, kTestKey, In{kTestNonce, 12}, In{kTestMsg, sizeof kTestMsg}, In{}, c->out, c->scratch, &e);
}

Napi::Value TestStackUse(Context& cx, const Args& info) {
  Napi::Env env = info.Env();
  Err err;
  StackCase c{};
  if (!cx.Scratch(&c.scratch, &err)) return cx.Throw(env, err);
  std::string family = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::string engine = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "host";
  c.hashes = engine == "libsodium" ? &sodiumOnly() : &hostOrSodium();
  c.aes = cx.aes;
  c.hash = Hash::Sha256;
  void (*fn)(void*) = nullptr;
  if (family == "sha256" || family == "sha512") {
    fn = rawHash;
    c.hash = family == "sha256" ? Hash::Sha256 : Hash::Sha512;
  } else if (family == "chacha") {
    fn = rawChaCha;
  } else if (family == "hkdfExtract" || family == "hkdfExtract512") {
    fn = opExtract;
    c.hash = family == "hkdfExtract" ? Hash::Sha256 : Hash::Sha512;
  } else if (family == "hkdfExpandMany" || family == "hkdfExpandMany512") {
    fn = opExpandMany;
    c.hash = family == "hkdfExpandMany" ? Hash::Sha256 : Hash::Sha512;
  } else if (family == "hmacSign" || family == "hmacSign512") {
    fn = opHmac;
    c.hash = family == "hmacSign" ? Hash::Sha256 : Hash::Sha512;
  } else if (family == "aeadSeal") {
    fn = opSeal;
  } else if (family == "aesGcmSeal") {
    fn = opSealGcm;
  } else {
    return cx.Bad(env, "unknown stack-use family");
  }
  StackUse u = stackUseOf(fn, &c, 16 * 1024);
  sodium_memzero(c.scratch, kScratchAfterHmac);
  Napi::Object o = Napi::Object::New(env);
  o.Set("touched", Napi::Number::New(env, static_cast<double>(u.touched)));
  o.Set("residue", Napi::Number::New(env, static_cast<double>(u.residue)));
  o.Set("hashEngine", Napi::String::New(env, (c.hash == Hash::Sha256 ? c.hashes->sha256 : c.hashes->sha512)->engine));
  o.Set("burnHash", Napi::Number::New(env, static_cast<double>(c.hashes->burn(c.hash == Hash::Sha256))));
  o.Set("burnChaCha", Napi::Number::New(env, static_cast<double>(chachaBurn())));
  return o;
}

}  // namespace

SS_BINDING_FAMILY(testing) {
  static const Binding kBindings[] = {
    {"testCorrupt", bind<TestCorrupt>},
    {"testBytesToRegionEnd", bind<TestBytesToRegionEnd>},
    {"testSlotAddress", bind<TestSlotAddress>},
    {"testStackUse", bind<TestStackUse>},
  };
  registry.add(kBindings);
}

}  // namespace ss
