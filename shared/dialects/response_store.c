#include "response_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  char scope[RESPONSE_SCOPE_MAX];
  char *id;
  char *json;
  size_t len;
};

/* A ring: next is where the next entry goes (the oldest one is evicted). */
static struct {
  pthread_mutex_t lock;
  struct entry e[RESPONSE_STORE_MAX];
  size_t next;
  size_t bytes;
} store = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void drop(struct entry *e) {
  store.bytes -= e->len;
  free(e->id);
  free(e->json);
  memset(e, 0, sizeof *e);
}

int response_store_put(const char *scope, const char *id, const char *json, size_t len) {
  size_t sl = strlen(scope);
  if (len > RESPONSE_STORE_MAX_BYTES || sl >= RESPONSE_SCOPE_MAX)
    return -1;
  char *id_copy = strdup(id), *copy = malloc(len + 1);
  if (!id_copy || !copy) {
    free(id_copy);
    free(copy);
    return -1;
  }
  memcpy(copy, json, len);
  copy[len] = '\0';
  pthread_mutex_lock(&store.lock);
  drop(&store.e[store.next]);
  /* Over the byte budget: evict from the oldest on. */
  for (size_t k = 1; k < RESPONSE_STORE_MAX && store.bytes + len > RESPONSE_STORE_MAX_BYTES; k++)
    drop(&store.e[(store.next + k) % RESPONSE_STORE_MAX]);
  struct entry *e = &store.e[store.next];
  memcpy(e->scope, scope, sl + 1);
  e->id = id_copy;
  e->json = copy;
  e->len = len;
  store.bytes += len;
  store.next = (store.next + 1) % RESPONSE_STORE_MAX;
  pthread_mutex_unlock(&store.lock);
  return 0;
}

char *response_store_get(const char *scope, const char *id, int *oom) {
  char *out = NULL;
  *oom = 0;
  pthread_mutex_lock(&store.lock);
  for (size_t i = 0; i < RESPONSE_STORE_MAX; i++) {
    const struct entry *e = &store.e[i];
    if (e->id && strcmp(e->id, id) == 0 && strcmp(e->scope, scope) == 0) {
      out = malloc(e->len + 1);
      if (out)
        memcpy(out, e->json, e->len + 1);
      else
        *oom = 1;
      break;
    }
  }
  pthread_mutex_unlock(&store.lock);
  return out;
}

void response_store_clear(void) {
  pthread_mutex_lock(&store.lock);
  for (size_t i = 0; i < RESPONSE_STORE_MAX; i++)
    drop(&store.e[i]);
  store.next = 0;
  pthread_mutex_unlock(&store.lock);
}
