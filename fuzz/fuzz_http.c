/* libFuzzer target for shared/http1.c: request heads, paths, queries and
 * chunked bodies as a client could send them. Byte 0 picks small limits
 * (bit 0) and whether the rest is a chunked body (bit 1) or a head.
 * Heads: parsing every prefix gives NEED_MORE until the first prefix that is
 * done or refused, and every longer prefix then gives the same answer (the
 * same head length, or the same status); slices stay inside the input and
 * never hold CR/LF/NUL; the decoded path holds no control character.
 * Chunked: the decoded body and the end offset are the same whole, at
 * pseudo-random cuts and one byte at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/http1.h"

static void check_slice(const char *base, size_t len, const char *p, size_t n) {
  if (n && (p < base || p + n > base + len))
    abort();
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
      abort();
}

static void fuzz_head(const char *data, size_t size, const struct http1_limits *lim) {
  static struct http1_request req;
  struct http1_error err;
  int first = HTTP1_NEED_MORE, first_status = 0;
  size_t first_head = 0;
  /* Prefixes at a stride keep this linear-ish; the whole input always. */
  size_t stride = size / 64 + 1;
  for (size_t n = 0; n <= size; n += (n + stride <= size || n == size) ? stride : size - n) {
    int rc = http1_parse_head(data, n, lim, &req, &err);
    if (first == HTTP1_NEED_MORE) {
      first = rc;
      if (rc == HTTP1_ERROR)
        first_status = err.status;
      if (rc == HTTP1_DONE)
        first_head = req.head_len;
    } else if (rc != first || (rc == HTTP1_ERROR && err.status != first_status) ||
               (rc == HTTP1_DONE && req.head_len != first_head)) {
      abort();
    }
    if (rc == HTTP1_DONE) {
      if (req.head_len > n || req.head_len > lim->max_head)
        abort();
      check_slice(data, n, req.method, req.method_len);
      check_slice(data, n, req.target, req.target_len);
      for (size_t i = 0; i < req.n_headers; i++) {
        check_slice(data, n, req.headers[i].name, req.headers[i].name_len);
        check_slice(data, n, req.headers[i].value, req.headers[i].value_len);
      }
      if (req.chunked && req.has_length)
        abort();
      char path[64];
      const char *q;
      size_t ql;
      if (http1_decode_path(req.target, req.target_len, path, sizeof path, &q, &ql, &err) == 0) {
        for (const char *p = path; *p; p++)
          if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
        char v[32];
        long vl = http1_query_get(q, ql, "a", v, sizeof v);
        if (vl >= (long)sizeof v || (vl >= 0 && v[vl] != '\0'))
          abort();
      } else if (err.status != 400 && err.status != 414) {
        abort();
      }
    } else if (rc == HTTP1_ERROR) {
      static const int statuses[] = {400, 414, 431, 501, 505};
      int ok = 0;
      for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
        ok |= err.status == statuses[i];
      if (!ok || !err.code || !err.message)
        abort();
    }
    if (n == size)
      break;
  }
}

/* Decode data in pieces of sizes drawn from seed (0 = one byte each).
 * Writes the body to out; returns the end offset or -1 (error) / -2 (more). */
static long dechunk(const char *data, size_t size, unsigned seed, char *out, size_t *out_len) {
  struct http1_chunked c;
  http1_chunked_init(&c);
  char *piece = malloc(size + 1);
  if (!piece)
    abort();
  *out_len = 0;
  long result = HTTP1_CHUNKED_MORE;
  for (size_t off = 0; off < size;) {
    size_t n = seed ? (seed = seed * 1103515245u + 12345u) >> 16 & 31 : 1;
    if (n == 0)
      n = 1;
    if (n > size - off)
      n = size - off;
    memcpy(piece, data + off, n);
    size_t got;
    long rc = http1_chunked_decode(&c, piece, n, &got);
    if (rc == HTTP1_CHUNKED_ERROR) {
      result = rc;
      break;
    }
    if (got > n)
      abort();
    memcpy(out + *out_len, piece, got);
    *out_len += got;
    if (rc >= 0) {
      if ((size_t)rc > n || got > (size_t)rc)
        abort();
      result = (long)(off + (size_t)rc);
      break;
    }
    off += n;
  }
  free(piece);
  return result;
}

static void fuzz_chunked(const char *data, size_t size) {
  char *whole = malloc(size + 1), *cut = malloc(size + 1), *bytes = malloc(size + 1);
  if (!whole || !cut || !bytes)
    abort();
  struct http1_chunked c;
  http1_chunked_init(&c);
  memcpy(whole, data, size);
  size_t wl = 0;
  long w = http1_chunked_decode(&c, whole, size, &wl);
  size_t cl, bl;
  long rc_cut = dechunk(data, size, (unsigned)size | 1u, cut, &cl);
  long rc_bytes = dechunk(data, size, 0, bytes, &bl);
  if (w != rc_cut || w != rc_bytes)
    abort();
  if (w != HTTP1_CHUNKED_ERROR && (wl != cl || wl != bl || memcmp(whole, cut, wl) != 0 ||
                                   memcmp(whole, bytes, wl) != 0))
    abort();
  free(whole);
  free(cut);
  free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  struct http1_limits lim = {8192, 4096};
  if (data[0] & 1) {
    lim.max_head = 64;
    lim.max_target = 24;
  }
  if (data[0] & 2)
    fuzz_chunked((const char *)data + 1, size - 1);
  else
    fuzz_head((const char *)data + 1, size - 1, &lim);
  return 0;
}
