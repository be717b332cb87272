#include "rand_pool.h"

#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#define POOL_SIZE 512

/* Per thread: no lock, and each byte is handed out once. */
static _Thread_local unsigned char pool[POOL_SIZE];
static _Thread_local size_t pool_left;

int rand_pool_fill(void *out, size_t n) {
  unsigned char *o = out;
  while (n) {
    if (pool_left == 0) {
      if (getrandom(pool, sizeof pool, GRND_NONBLOCK) != (ssize_t)sizeof pool)
        return -1;
      pool_left = sizeof pool;
    }
    size_t take = n < pool_left ? n : pool_left;
    unsigned char *src = pool + (sizeof pool - pool_left);
    memcpy(o, src, take);
    memset(src, 0, take); /* handed out: not kept beside the next ones */
    pool_left -= take;
    o += take;
    n -= take;
  }
  return 0;
}
