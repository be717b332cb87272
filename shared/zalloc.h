/* Zeroed allocation for the per-request path. glibc (2.36) serves calloc
 * from the arena every call, bypassing the per-thread cache malloc uses:
 * ~250 instructions a block where malloc and memset of a small one take
 * ~60, and the blocks freed refill a cache calloc never draws from. */
#ifndef RP_ZALLOC_H
#define RP_ZALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* memset called through a volatile pointer: GCC fuses a malloc and the
 * memset zeroing it back into calloc, the call this is here to avoid. */
static void *(*const volatile zalloc_memset)(void *, int, size_t) = memset;

/* calloc(n, size): NULL when out of memory or n * size overflows. */
static inline void *zalloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  size_t bytes = n * size;
  void *p = malloc(bytes > 0 ? bytes : 1);
  if (p)
    zalloc_memset(p, 0, bytes);
  return p;
}

#endif
