/*
 * seccomp-exec: run a program with selected memory-protection syscalls made
 * to fail, so tests can exercise the arena's fallback paths.
 *
 *   seccomp-exec [--deny-memfd-secret] [--deny-mlock] [--errno NAME|NUMBER]
 *                [--quiet] -- program [args...]
 *
 *   --deny-memfd-secret  memfd_secret(2) fails (default errno ENOSYS, as on a
 *                        kernel built without CONFIG_SECRETMEM)
 *   --deny-mlock         mlock(2), mlock2(2) and mlockall(2) fail (default
 *                        errno EPERM)
 *   --errno E            use errno E for every denied syscall instead of the
 *                        defaults; E is ENOSYS, EPERM, ENOMEM, EAGAIN, EACCES,
 *                        EINVAL or a decimal number
 *
 * The filter is plain classic BPF installed with prctl(PR_SET_NO_NEW_PRIVS)
 * and prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER); no libseccomp. It checks
 * the audit architecture: x86_64 (including the x32 ABI numbers) and aarch64
 * are filtered, every other architecture is let through unchanged. The
 * filter survives execve and is inherited by children.
 *
 * Builds with `cc -O2 -o seccomp-exec seccomp-exec.c` and with
 * `aarch64-linux-gnu-gcc -O2 -static -o seccomp-exec seccomp-exec.c`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eU
#endif
#ifndef AUDIT_ARCH_AARCH64
#define AUDIT_ARCH_AARCH64 0xc00000b7U
#endif
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#endif

/* Syscall numbers, fixed per ABI (asm/unistd tables), spelled out so the
 * filter is the same whichever architecture this file is compiled for. */
#define X32_BIT 0x40000000U

#define NR_MEMFD_SECRET 447U /* same on x86_64 and the generic table */

#define X86_64_MLOCK 149U
#define X86_64_MLOCKALL 151U
#define X86_64_MLOCK2 325U

#define AARCH64_MLOCK 228U
#define AARCH64_MLOCKALL 230U
#define AARCH64_MLOCK2 284U

#define MAX_INSNS 64

struct prog {
  struct sock_filter insn[MAX_INSNS];
  unsigned n;
};

static void emit(struct prog *p, unsigned short code, unsigned char jt,
                 unsigned char jf, unsigned int k) {
  if (p->n >= MAX_INSNS) {
    fprintf(stderr, "seccomp-exec: filter too long\n");
    exit(126);
  }
  struct sock_filter f = {code, jt, jf, k};
  p->insn[p->n++] = f;
}

/* if (nr == k) return ERRNO(err); */
static void deny(struct prog *p, unsigned int nr, int err) {
  emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, nr);
  emit(p, BPF_RET | BPF_K, 0, 0,
       SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
}

struct deny_set {
  unsigned nr[16];
  int err[16];
  unsigned n;
};

static void add(struct deny_set *d, unsigned nr, int err) {
  d->nr[d->n] = nr;
  d->err[d->n] = err;
  d->n++;
}

/* One architecture block: if (arch == a) { load nr; deny...; allow } */
static void arch_block(struct prog *p, unsigned int audit_arch,
                       const struct deny_set *d) {
  unsigned body = 1 /* load nr */ + 2 * d->n + 1 /* allow */;
  emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
       (unsigned)offsetof(struct seccomp_data, arch));
  emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (unsigned char)body, audit_arch);
  emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
       (unsigned)offsetof(struct seccomp_data, nr));
  for (unsigned i = 0; i < d->n; i++) deny(p, d->nr[i], d->err[i]);
  emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}

static int parse_errno(const char *s) {
  static const struct {
    const char *name;
    int value;
  } names[] = {{"ENOSYS", ENOSYS}, {"EPERM", EPERM},   {"ENOMEM", ENOMEM},
               {"EAGAIN", EAGAIN}, {"EACCES", EACCES}, {"EINVAL", EINVAL}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) return names[i].value;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end != s && *end == '\0' && v > 0 && v < 4096) return (int)v;
  return -1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: seccomp-exec [--deny-memfd-secret] [--deny-mlock] "
          "[--errno ENOSYS|EPERM|ENOMEM|EAGAIN|EACCES|EINVAL|N] "
          "-- program [args...]\n");
  exit(125);
}

int main(int argc, char **argv) {
  int deny_memfd = 0, deny_mlock = 0, err_override = -1;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--deny-memfd-secret") == 0) {
      deny_memfd = 1;
    } else if (strcmp(a, "--deny-mlock") == 0) {
      deny_mlock = 1;
    } else if (strcmp(a, "--errno") == 0) {
      if (i + 1 >= argc) usage();
      err_override = parse_errno(argv[++i]);
      if (err_override < 0) {
        fprintf(stderr, "seccomp-exec: unknown errno '%s'\n", argv[i]);
        exit(125);
      }
    } else if (strncmp(a, "--errno=", 8) == 0) {
      err_override = parse_errno(a + 8);
      if (err_override < 0) {
        fprintf(stderr, "seccomp-exec: unknown errno '%s'\n", a + 8);
        exit(125);
      }
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
    } else if (a[0] == '-') {
      fprintf(stderr, "seccomp-exec: unknown option '%s'\n", a);
      usage();
    } else {
      break; /* program without a preceding "--" */
    }
  }
  if (i >= argc) usage();

  int memfd_err = err_override > 0 ? err_override : ENOSYS;
  int mlock_err = err_override > 0 ? err_override : EPERM;

  struct deny_set x86 = {{0}, {0}, 0}, arm = {{0}, {0}, 0};
  if (deny_memfd) {
    add(&x86, NR_MEMFD_SECRET, memfd_err);
    add(&x86, NR_MEMFD_SECRET | X32_BIT, memfd_err);
    add(&arm, NR_MEMFD_SECRET, memfd_err);
  }
  if (deny_mlock) {
    static const unsigned x86_nrs[] = {X86_64_MLOCK, X86_64_MLOCK2,
                                       X86_64_MLOCKALL};
    static const unsigned arm_nrs[] = {AARCH64_MLOCK, AARCH64_MLOCK2,
                                       AARCH64_MLOCKALL};
    for (int k = 0; k < 3; k++) {
      add(&x86, x86_nrs[k], mlock_err);
      add(&x86, x86_nrs[k] | X32_BIT, mlock_err);
      add(&arm, arm_nrs[k], mlock_err);
    }
  }

  if (deny_memfd || deny_mlock) {
    struct prog p;
    p.n = 0;
    arch_block(&p, AUDIT_ARCH_X86_64, &x86);
    arch_block(&p, AUDIT_ARCH_AARCH64, &arm);
    emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW); /* other arches */

    struct sock_fprog fprog = {(unsigned short)p.n, p.insn};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      perror("seccomp-exec: prctl(PR_SET_NO_NEW_PRIVS)");
      return 126;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0) {
      perror("seccomp-exec: prctl(PR_SET_SECCOMP)");
      return 126;
    }
  }

  execvp(argv[i], &argv[i]);
  fprintf(stderr, "seccomp-exec: execvp %s: %s\n", argv[i], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
