/*
 * Link-time glibc compatibility for the committed prebuilds.
 *
 * The prebuilds are built on Debian 12 (glibc 2.36) but must load on Amazon
 * Linux 2023 (glibc 2.34). GCC 12's static unwinder (libgcc_eh.a, pulled in by
 * -static-libgcc through libstdc++'s exception paths) calls _dl_find_object,
 * which glibc added in 2.35, so the addon would carry a GLIBC_2.35 version
 * requirement and fail to dlopen on glibc 2.34.
 *
 * Defining the function here (hidden, so it is not exported) makes the static
 * link resolve the unwinder's reference to this copy instead of libc's. It does
 * what older unwinders did: walk the loaded objects with dl_iterate_phdr
 * (GLIBC_2.2.5 / GLIBC_2.17) and report the object containing `pc` and its
 * PT_GNU_EH_FRAME segment. Not async-signal-safe (glibc's is), which matches
 * unwinding before glibc 2.35.
 *
 * layer/prebuild.mjs compiles this with the target's C compiler and adds the
 * object to the link (LDFLAGS), together with -Wl,--gc-sections, which drops
 * libstdc++'s unused std::random_device code and with it arc4random@GLIBC_2.36.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

struct find_ctx {
  uintptr_t pc;
  struct dl_find_object *out;
  int found;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
  struct find_ctx *c = (struct find_ctx *)data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  const void *eh = NULL;
  int hit = 0;
  (void)size;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t start = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
    if (ph->p_type == PT_LOAD) {
      uintptr_t end = start + (uintptr_t)ph->p_memsz;
      if (start < lo) lo = start;
      if (end > hi) hi = end;
      if (c->pc >= start && c->pc < end) hit = 1;
    } else if (ph->p_type == PT_GNU_EH_FRAME) {
      eh = (const void *)start;
    }
  }
  if (!hit) return 0;
  memset(c->out, 0, sizeof *c->out);
  c->out->dlfo_map_start = (void *)lo;
  c->out->dlfo_map_end = (void *)hi;
  c->out->dlfo_link_map = NULL;
  c->out->dlfo_eh_frame = (void *)eh;
  c->found = 1;
  return 1;
}

__attribute__((visibility("hidden"))) int _dl_find_object(void *pc, struct dl_find_object *result) {
  struct find_ctx c = {(uintptr_t)pc, result, 0};
  dl_iterate_phdr(find_cb, &c);
  return c.found ? 0 : -1;
}
