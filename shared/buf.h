/* Growable byte buffer: the one string builder of the code base.
 * Every appending function returns 0 on success and -1 when memory runs out;
 * on failure the buffer keeps its previous contents. */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
  char *data; /* always NUL-terminated when non-NULL (NUL not counted in len) */
  size_t len;
  size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Keep the allocation, drop the contents. */
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
/* The growing path of buf_append. */
int buf_append_grow(struct buf *b, const void *data, size_t len);

/* Inline when the bytes fit (room for them and the NUL): a response is
 * built from dozens of short appends, and the call into buf_reserve was
 * most of each one's cost; with a literal's length the copy is a move. */
static inline int buf_append(struct buf *b, const void *data, size_t len) {
  if (len >= b->cap - b->len) /* an empty buffer has cap 0: it grows */
    return buf_append_grow(b, data, len);
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

static inline int buf_append_str(struct buf *b, const char *s) {
  return buf_append(b, s, strlen(s));
}

static inline int buf_append_char(struct buf *b, char c) {
  return buf_append(b, &c, 1);
}
/* Decimal digits of v. */
int buf_append_u64(struct buf *b, uint64_t v);
/* The strings up to the NULL, one after another: for hot paths where
 * buf_printf's vsnprintf costs ~1k instructions a call. */
int buf_append_strs(struct buf *b, const char *first, ...) __attribute__((sentinel));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Remove the first n bytes (n is clamped to len). */
void buf_consume(struct buf *b, size_t n);
/* Hand the contents to the caller (malloc'd, NUL-terminated, never NULL on
 * success) and leave the buffer empty. Returns NULL when out of memory. */
char *buf_take(struct buf *b);

#endif
