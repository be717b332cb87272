#include "buf.h"

#include "num_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void buf_free(struct buf *b) {
  free(b->data);
  buf_init(b);
}

void buf_reset(struct buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra) {
  if (extra > ((size_t)-1) / 2 - b->len)
    return -1;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    return -1;
  if (!b->data)
    p[0] = '\0';
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append_grow(struct buf *b, const void *data, size_t len) {
  if (buf_reserve(b, len) != 0)
    return -1;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int buf_append_u64(struct buf *b, uint64_t v) {
  char digits[NUM_DEC_MAX];
  return buf_append(b, digits, (size_t)(num_u64(digits, v) - digits));
}

int buf_append_strs(struct buf *b, const char *first, ...) {
  size_t total = 0;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *))
    total += strlen(s);
  va_end(ap);
  if (buf_reserve(b, total) != 0) /* one growth, so failing leaves b as it was */
    return -1;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) {
    size_t n = strlen(s);
    memcpy(b->data + b->len, s, n);
    b->len += n;
  }
  va_end(ap);
  b->data[b->len] = '\0';
  return 0;
}

/* One formatting pass into the room left when it fits (the usual case: a
 * measuring pass first doubled the cost of every call), a second after
 * growing when it does not. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) {
  if (!b->data && buf_reserve(b, 0) != 0)
    return -1;
  size_t room = b->cap - b->len; /* the NUL's byte included */
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(b->data + b->len, room, fmt, copy);
  va_end(copy);
  if (n >= 0 && (size_t)n < room) {
    b->len += (size_t)n;
    return 0;
  }
  b->data[b->len] = '\0'; /* a cut attempt leaves the contents as they were */
  if (n < 0 || buf_reserve(b, (size_t)n) != 0)
    return -1;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

char *buf_take(struct buf *b) {
  if (!b->data && buf_reserve(b, 0) != 0)
    return NULL;
  char *p = b->data;
  buf_init(b);
  return p;
}
