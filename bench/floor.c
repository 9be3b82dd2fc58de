/*
 * The compute floor of one invocation's crypto: the same libsodium calls the
 * addon makes (HMAC-SHA256 for HKDF-Extract/Expand and for the 1 KiB tag,
 * XChaCha20-Poly1305 for the 1 KiB seal, sodium_memzero for the wipe), on
 * static buffers: no allocation, no JavaScript, no N-API, no system call.
 *
 * Built at bench time by bench/floor.mjs, in two variants:
 *   cc -O2 bench/floor.c -o floor /usr/lib/<triplet>/libsodium.a
 *       the historical floor: libsodium's portable HMAC-SHA256 (crypto_auth_hmacsha256_*)
 *   cc -O2 -DFLOOR_SHANI bench/floor.c -o floor-shani /usr/lib/<triplet>/libsodium.a -lcrypto
 *       the floor of the primitives the addon calls today: SHA-256 from OpenSSL's
 *       SHA256_* (SHA-NI / ARMv8 SHA2, what the host Node exports to the addon), HMAC
 *       built on it with the inner and outer pads keyed once per key (ops/hkdf.cc does
 *       the same), libsodium's XChaCha20-Poly1305 and sodium_memzero.
 *
 * Modes:
 *   floor check              prints the HMAC tag and the sealed bytes (hex) for cross-checking
 *   floor bench [samples] [iterations]
 *                            prints "median_ns_per_iter <ns>" (and min/max)
 *   floor parts [samples] [iterations]
 *                            prints the median ns of each step alone (extract, expand, hmac1k,
 *                            seal1k, wipe) as "<step> <ns>" lines
 *   floor serve              reads one iteration count per line on stdin, runs that many
 *                            iterations and answers "<elapsed ns>" on stdout, so that
 *                            the JavaScript harness can interleave the floor with the other
 *                            contenders in rounds; at EOF it prints its own
 *                            "median_ns_per_iter <ns>" over the samples it ran.
 *
 * The inputs are the ones bench/inputs.mjs defines; keep them in step.
 */
#include <sodium.h>
#ifdef FLOOR_SHANI
#include <openssl/sha.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_LEN 1024
#define KEYS 4

static unsigned char entropy_src[64]; /* what the harness hands in per invocation */
static unsigned char inbox[64];       /* the per-invocation input buffer */
static unsigned char ikm[64];
static unsigned char prk[32];
static unsigned char keys[KEYS][32];
static unsigned char msg[MSG_LEN];
static unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
static unsigned char tag[32];
static unsigned char sealed[MSG_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
#ifdef FLOOR_SHANI
/* HMAC-SHA256 on OpenSSL's SHA256_CTX: keyed once (inner and outer states), run per message. */
typedef struct {
  SHA256_CTX i, o;
} hmac_keyed;
static SHA256_CTX work;
static unsigned char pad[64], inner[32];
static hmac_keyed keyed, kx;

static void hmac_key(hmac_keyed *k, const unsigned char *key, size_t key_len) {
  memset(pad, 0, sizeof pad);
  memcpy(pad, key, key_len); /* every key here is <= 64 bytes */
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36;
  SHA256_Init(&k->i);
  SHA256_Update(&k->i, pad, 64);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  SHA256_Init(&k->o);
  SHA256_Update(&k->o, pad, 64);
  sodium_memzero(pad, sizeof pad);
}

static void hmac_run(const hmac_keyed *k, const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len,
                     unsigned char *out) {
  work = k->i;
  SHA256_Update(&work, a, a_len);
  if (b_len) SHA256_Update(&work, b, b_len);
  SHA256_Final(inner, &work);
  work = k->o;
  SHA256_Update(&work, inner, sizeof inner);
  SHA256_Final(out, &work);
}

static void hmac(const unsigned char *key, size_t key_len, const unsigned char *a, size_t a_len,
                 const unsigned char *b, size_t b_len, unsigned char *out) {
  hmac_key(&kx, key, key_len);
  hmac_run(&kx, a, a_len, b, b_len, out);
}

#define FLOOR_NAME "OpenSSL SHA256 (host-like SHA-NI) + libsodium"
#else
static crypto_auth_hmacsha256_state st, keyed;
#define FLOOR_NAME "libsodium"
#endif
static const char salt[] = "secret-scope/bench/salt";
static char info[KEYS][32];
static size_t info_len[KEYS];

static void setup(void) {
  for (int i = 0; i < 64; i++) entropy_src[i] = (unsigned char)(i * 7 + 3);
  for (int i = 0; i < MSG_LEN; i++) msg[i] = (unsigned char)(i & 0xff);
  for (int i = 0; i < (int)sizeof nonce; i++) nonce[i] = (unsigned char)(0xa0 + i);
  for (int k = 0; k < KEYS; k++) {
    snprintf(info[k], sizeof info[k], "secret-scope/bench/key/%d", k);
    info_len[k] = strlen(info[k]);
  }
}

#ifndef FLOOR_SHANI
static void hmac(const unsigned char *key, size_t key_len, const unsigned char *a, size_t a_len,
                 const unsigned char *b, size_t b_len, unsigned char *out) {
  crypto_auth_hmacsha256_init(&st, key, key_len);
  crypto_auth_hmacsha256_update(&st, a, a_len);
  if (b_len) crypto_auth_hmacsha256_update(&st, b, b_len);
  crypto_auth_hmacsha256_final(&st, out);
}
#endif

/* One invocation. */
static void invocation(void) {
  static const unsigned char one = 1;
  memcpy(inbox, entropy_src, sizeof inbox); /* the harness refills the input (every contender does) */
  memcpy(ikm, inbox, sizeof ikm);           /* take the entropy ... */
  sodium_memzero(inbox, sizeof inbox);      /* ... and wipe the input */
  hmac((const unsigned char *)salt, sizeof salt - 1, ikm, sizeof ikm, NULL, 0, prk); /* HKDF-Extract */
  /* HKDF-Expand, 32 bytes each: HMAC keyed with the PRK once, its state copied per key
     (what the addon's hkdfExpandMany does). */
#ifdef FLOOR_SHANI
  hmac_key(&keyed, prk, sizeof prk);
  for (int k = 0; k < KEYS; k++) hmac_run(&keyed, (const unsigned char *)info[k], info_len[k], &one, 1, keys[k]);
#else
  crypto_auth_hmacsha256_init(&keyed, prk, sizeof prk);
  for (int k = 0; k < KEYS; k++) {
    st = keyed;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)info[k], info_len[k]);
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, keys[k]);
  }
#endif
  hmac(keys[0], sizeof keys[0], msg, sizeof msg, NULL, 0, tag); /* HMAC-SHA256 of 1 KiB */
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, NULL, msg, sizeof msg, NULL, 0, NULL, nonce, keys[1]);
  sodium_memzero(ikm, sizeof ikm); /* wipe */
  sodium_memzero(prk, sizeof prk);
  sodium_memzero(keys, sizeof keys);
#ifdef FLOOR_SHANI
  sodium_memzero(&work, sizeof work);
  sodium_memzero(inner, sizeof inner);
  sodium_memzero(&keyed, sizeof keyed);
  sodium_memzero(&kx, sizeof kx);
#else
  sodium_memzero(&st, sizeof st);
  sodium_memzero(&keyed, sizeof keyed);
#endif
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void hex(const char *name, const unsigned char *p, size_t n) {
  printf("%s ", name);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) {
    fprintf(stderr, "floor: sodium_init failed\n");
    return 1;
  }
  setup();
  const char *mode = argc > 1 ? argv[1] : "bench";
  if (strcmp(mode, "check") == 0) {
    invocation();
    hex("tag", tag, sizeof tag);
    hex("sealed", sealed, sizeof sealed);
    printf("libsodium %s\n", sodium_version_string());
    printf("floor %s\n", FLOOR_NAME);
    return 0;
  }
  if (strcmp(mode, "parts") == 0) {
    static const unsigned char one = 1;
    long S = argc > 2 ? strtol(argv[2], NULL, 10) : 31;
    long N = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
    if (S < 1 || S > 1000 || N < 1) return 2;
    double v[1000];
    const char *names[] = {"extract", "expand", "hmac1k", "seal1k", "wipe"};
    for (int step = 0; step < 5; step++) {
      for (long s = -3; s < S; s++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < N; i++) {
          switch (step) {
            case 0: hmac((const unsigned char *)salt, sizeof salt - 1, ikm, sizeof ikm, NULL, 0, prk); break;
            case 1: hmac(prk, sizeof prk, (const unsigned char *)info[0], info_len[0], &one, 1, keys[0]); break;
            case 2: hmac(keys[0], sizeof keys[0], msg, sizeof msg, NULL, 0, tag); break;
            case 3:
              crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, NULL, msg, sizeof msg, NULL, 0, NULL, nonce, keys[1]);
              break;
            default:
              sodium_memzero(ikm, sizeof ikm);
              sodium_memzero(prk, sizeof prk);
              sodium_memzero(keys, sizeof keys);
              sodium_memzero(&keyed, sizeof keyed);
          }
        }
        if (s >= 0) v[s] = (double)(now_ns() - t0) / N;
      }
      printf("%s %.1f\n", names[step], median(v, (size_t)S));
    }
    return 0;
  }
  if (strcmp(mode, "serve") == 0) {
    static double samples[1 << 16];
    size_t n = 0;
    char line[64];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
      long iters = strtol(line, NULL, 10);
      if (iters <= 0) break;
      uint64_t t0 = now_ns();
      for (long i = 0; i < iters; i++) invocation();
      uint64_t dt = now_ns() - t0;
      if (n < sizeof samples / sizeof samples[0]) samples[n++] = (double)dt / (double)iters;
      printf("%llu\n", (unsigned long long)dt);
    }
    if (n) printf("median_ns_per_iter %.1f samples %zu\n", median(samples, n), n);
    return 0;
  }
  if (strcmp(mode, "bench") == 0) {
    long nsamples = argc > 2 ? strtol(argv[2], NULL, 10) : 31;
    long iters = argc > 3 ? strtol(argv[3], NULL, 10) : 2000;
    if (nsamples < 1 || nsamples > 100000 || iters < 1) {
      fprintf(stderr, "usage: floor bench [samples] [iterations]\n");
      return 2;
    }
    double *v = calloc((size_t)nsamples, sizeof *v);
    if (!v) return 1;
    for (long i = 0; i < iters; i++) invocation(); /* warm-up */
    for (long s = 0; s < nsamples; s++) {
      uint64_t t0 = now_ns();
      for (long i = 0; i < iters; i++) invocation();
      v[s] = (double)(now_ns() - t0) / (double)iters;
    }
    double lo = v[0], hi = v[0];
    for (long s = 1; s < nsamples; s++) {
      if (v[s] < lo) lo = v[s];
      if (v[s] > hi) hi = v[s];
    }
    printf("median_ns_per_iter %.1f min %.1f max %.1f samples %ld iterations %ld\n", median(v, (size_t)nsamples), lo, hi,
           nsamples, iters);
    free(v);
    return 0;
  }
  fprintf(stderr, "usage: floor check | parts | bench [samples] [iterations] | serve\n");
  return 2;
}
