/* Random bytes for ids and seeds (request ids, tool call ids, retry jitter)
 * from a per-thread pool that one getrandom call refills: two getrandom
 * syscalls per request were ~2 of the ~13 a non-streamed request cost. */
#ifndef RP_RAND_POOL_H
#define RP_RAND_POOL_H

#include <stddef.h>

/* Fill out with n bytes. 0, or -1 when the kernel has no entropy yet (early
 * boot; out is then untouched and the caller falls back). */
int rand_pool_fill(void *out, size_t n);

#endif
