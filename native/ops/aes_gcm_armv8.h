// The arm64 engine of ops/aes_gcm: AES-CTR with the ARMv8 Crypto Extensions
// (AESE/AESMC) and GHASH with PMULL, behind BearSSL's CTR-class and GHASH
// interfaces so that BearSSL's GCM driver runs it like its own engines.
// Internal to ops/aes_gcm*.cc.
#pragma once
#include <bearssl/bearssl_block.h>
#include <bearssl/bearssl_hash.h>

namespace ss {

// Null unless this is arm64 and getauxval(AT_HWCAP) has both AES and PMULL.
const br_block_ctr_class* armv8CtrClass();
br_ghash armv8Ghash();

}  // namespace ss
