/* HTTP/1.1 request heads and chunked bodies, parsed from byte buffers.
 * Pure: no I/O, no allocation; results point into the caller's buffer.
 * Strict on purpose (RFC 9112): whatever could be read two ways by two
 * servers (CL+TE, repeated lengths, obs-fold, bare CR) is rejected, so no
 * request can be smuggled through a front that reads it differently. */
#ifndef RP_HTTP1_H
#define RP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS 100
#define HTTP1_METHOD_MAX 31

enum { HTTP1_ERROR = -1, HTTP1_NEED_MORE = 0, HTTP1_DONE = 1 };

/* Why a head was refused: the status to answer and an OpenAI error code. */
struct http1_error {
  int status;          /* 400, 414, 431, 501, 505 */
  const char *code;    /* e.g. "headers_too_large" */
  const char *message; /* static text, safe to show */
};

struct http1_header {
  const char *name, *value;
  size_t name_len, value_len; /* value without surrounding whitespace */
};

struct http1_request {
  /* The request line; method/target are set as soon as the line is read,
   * even when a later check fails (for the access log). */
  const char *method, *target;
  size_t method_len, target_len;
  int minor_version; /* 0 or 1 */
  struct http1_header headers[HTTP1_MAX_HEADERS];
  size_t n_headers;
  size_t head_len; /* bytes of the head, final empty line included */
  /* What the headers mean for framing and the connection. */
  int chunked;                 /* Transfer-Encoding: chunked */
  int has_length;              /* Content-Length present */
  uint64_t content_length;
  int keep_alive;              /* the version's default, then Connection */
  int expect_continue;         /* Expect: 100-continue */
  const char *host;            /* NULL when absent */
  size_t host_len;
};

struct http1_limits {
  size_t max_head;   /* request line + headers; above: 431 */
  size_t max_target; /* request target; above: 414 */
};

/* Parse a request head at the start of buf[0..len). Returns HTTP1_DONE
 * (req filled, req->head_len bytes used), HTTP1_NEED_MORE (nothing complete
 * yet and nothing wrong so far), or HTTP1_ERROR (err filled). Call again with
 * the same buffer, grown, after more bytes arrive. */
int http1_parse_head(const char *buf, size_t len, const struct http1_limits *lim,
                     struct http1_request *req, struct http1_error *err);

/* A header by case-insensitive name (the first one), or NULL. */
const struct http1_header *http1_find_header(const struct http1_request *req,
                                             const char *name);

/* Split a target into path and query ("?" excluded) and percent-decode the
 * path into out (NUL-terminated). A decoded NUL or control character, a bad
 * escape or a target not starting with "/" → 400; a decoded path of
 * outlen bytes or more → 414. Returns 0 or -1 (err filled). */
int http1_decode_path(const char *target, size_t target_len, char *out,
                      size_t outlen, const char **query, size_t *query_len,
                      struct http1_error *err);

/* Look name up in a raw query string (a=1&b=x%20y); decodes the value
 * ('+' is a space) into out. Returns the decoded length, or -1 when absent,
 * badly escaped, or not fitting (with its NUL) in outlen. */
long http1_query_get(const char *query, size_t query_len, const char *name,
                     char *out, size_t outlen);

/* ------------------------------------------------------- chunked bodies */

struct http1_chunked {
  int state;
  uint64_t remaining; /* data bytes left in the current chunk */
  size_t line_len;    /* bytes of the current size/trailer line so far */
  size_t trailer_len; /* all trailer bytes so far */
};

enum { HTTP1_CHUNKED_ERROR = -1, HTTP1_CHUNKED_MORE = -2 };

/* Lines of a chunked body (size + extensions, each trailer) are capped at
 * this, trailers in all at 4 times it. */
#define HTTP1_CHUNK_LINE_MAX 1024

void http1_chunked_init(struct http1_chunked *c);
/* Decode buf[0..len) in place: the chunk data found is moved to the start
 * of buf and its length stored in *out_len. Returns HTTP1_CHUNKED_MORE (all
 * input used, the body goes on), HTTP1_CHUNKED_ERROR (malformed), or the
 * count of input bytes the body took: what follows (a pipelined request)
 * starts at buf + that count. Chunk extensions are ignored, trailers
 * skipped. */
long http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len,
                          size_t *out_len);

#endif
