// HPKE (RFC 9180) steps that touch secrets beyond plain HKDF: the per-message
// nonce (base_nonce XOR sequence number) and DHKEM(P-256)'s DeriveKeyPair. The
// labeled HKDF steps themselves are ops/hkdf.h with a public label prefix as the
// first input part (bindings/hpke.cc). Secrets stay in the slot, the scratch
// area or a local this code wipes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/common.h"
#include "ops/hkdf.h"

namespace ss {

constexpr size_t kHpkeNonceLen = 12;  // Nn of every AEAD HPKE defines
constexpr size_t kHpkeMaxLabel = 96;  // a LabeledExpand info prefix (public) plus the counter byte

// nonce = base_nonce XOR I2OSP(seq, Nn) (RFC 9180 5.2, ComputeNonce).
void hpkeNonce(const uint8_t* baseNonce, uint64_t seq, uint8_t* nonce);

// DeriveKeyPair of DHKEM(P-256, HKDF-SHA256) (RFC 9180 7.1.3): candidate k =
// LabeledExpand(dkp_prk, "candidate", I2OSP(k, 1), 32) for k = 0, 1, ... with the
// bitmask 0xff, until 1 <= sk <= n - 1. `candidatePrefix` is the public info up to
// the counter byte. The candidate lives at `work` (arena scratch), wiped after.
bool hpkeDeriveP256(const HashSet& hs, const uint8_t* prk, size_t prkLen, In candidatePrefix, uint8_t* sk,
                    uint8_t* work, uint8_t* scratch, Err* err);

}  // namespace ss
