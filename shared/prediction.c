/* Replicate prediction objects.
 *
 * A small streaming JSON reader instead of cJSON: cJSON stores strings NUL-
 * terminated, so an output containing \u0000 would be cut short, and building
 * a tree of thousands of output chunks only to join them wastes memory. The
 * reader checks the full JSON grammar (garbage is rejected) but only decodes
 * the fields the proxy needs; everything else is skipped.
 *
 * Leniency rules (documented in one place):
 *  - unknown fields and fields of an unexpected type are ignored;
 *  - `output`: array -> its string items joined with "" (non-string items are
 *    skipped: LLM output is list<string>, anything else is not text); string ->
 *    itself; null/absent -> "" with has_output = 0; any other value -> its
 *    JSON text (compacted), has_output = 1;
 *  - `error`: string -> itself; null -> NULL; other -> its JSON text;
 *  - metrics: integers, or non-negative numbers truncated toward zero;
 *    negative, out-of-range or over-long numbers count as absent (-1);
 *  - duplicate keys: the last one wins;
 *  - strings: bytes pass through as sent (invalid UTF-8 is repaired when the
 *    client's JSON is built); lone \u surrogates become U+FFFD; raw control
 *    characters inside strings are tolerated. */
#include "prediction.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Nesting deeper than this is rejected rather than risk the stack. */
#define MAX_DEPTH 128

struct reader {
  const char *s;
  size_t len;
  size_t pos;
  int depth;
};

static void skip_ws_run(struct reader *r) {
  while (r->pos < r->len) {
    char c = r->s[r->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return;
    r->pos++;
  }
}

/* Inline for the usual case, no whitespace at all (Replicate's JSON is
 * compact): it runs ~6 times a member, and the call was most of its cost. */
static inline void skip_ws(struct reader *r) {
  if (r->pos < r->len && (unsigned char)r->s[r->pos] > ' ')
    return;
  skip_ws_run(r);
}

/* The next significant byte (after whitespace), or 0 at end of input. */
static char peek(struct reader *r) {
  skip_ws(r);
  return r->pos < r->len ? r->s[r->pos] : '\0';
}

static int expect(struct reader *r, char c) {
  if (peek(r) != c)
    return -1;
  r->pos++;
  return 0;
}

static int literal(struct reader *r, const char *word) {
  size_t n = strlen(word);
  if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
    return -1;
  r->pos += n;
  return 0;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static int put_utf8(struct buf *out, unsigned cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xC0 | cp >> 6);
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | cp >> 12);
    b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | cp >> 18);
    b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return buf_append(out, b, n);
}

/* Decode the string at the cursor, appending its bytes to out (NULL: just
 * skip it). Plain runs are copied in one append: outputs can be megabytes. */
static int read_string(struct reader *r, struct buf *out) {
  if (expect(r, '"') != 0)
    return -1;
  const char *s = r->s;
  size_t i = r->pos, run = i;
  for (;;) {
    /* The run up to the next quote or backslash, found by memchr: a byte at
     * a time cost ~10 instructions a byte of the reply. */
    const char *q = memchr(s + i, '"', r->len - i);
    if (!q)
      return -1;
    const char *bs = memchr(s + i, '\\', (size_t)(q - (s + i)));
    i = (size_t)((bs ? bs : q) - s);
    if (out && buf_append(out, s + run, i - run) != 0)
      return -1;
    if (s[i] == '"')
      break;
    /* A backslash escape. */
    if (i + 1 >= r->len)
      return -1;
    char e = s[i + 1];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = e ? strchr(from, e) : NULL;
    if (hit) {
      if (out && buf_append_char(out, to[hit - from]) != 0)
        return -1;
      i += 2;
    } else if (e == 'u') {
      unsigned cp, lo;
      if (r->len - i < 6 || hex4(s + i + 2, &cp) != 0)
        return -1;
      i += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF && r->len - i >= 6 && s[i] == '\\' &&
          s[i + 1] == 'u' && hex4(s + i + 2, &lo) == 0 && lo >= 0xDC00 &&
          lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
      }
      if (out && put_utf8(out, cp) != 0)
        return -1;
    } else {
      return -1;
    }
    run = i;
  }
  r->pos = i + 1;
  return 0;
}

/* Validate a JSON number at the cursor; report where it lies. */
static int read_number(struct reader *r, size_t *start, size_t *end) {
  const char *s = r->s;
  size_t i = r->pos, n = r->len;
  *start = i;
  if (i < n && s[i] == '-')
    i++;
  if (i < n && s[i] == '0') {
    i++;
  } else if (i < n && s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return -1;
  }
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return -1;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return -1;
  }
  *end = i;
  r->pos = i;
  return 0;
}

/* An object member's key: s..s+n, in the input itself when it has no
 * escapes (no copy: most keys are skipped members'), else decoded in dec. */
struct key {
  const char *s;
  size_t n;
  struct buf dec;
};

/* The string at the cursor when it has no escapes: its bytes are the input's
 * own, at *s for *n, and the cursor moves past it; 0 otherwise (the cursor
 * stays, for read_string to decode it). */
static int plain_string(struct reader *r, const char **s, size_t *n) {
  if (peek(r) != '"')
    return 0;
  const char *start = r->s + r->pos + 1;
  const char *q = memchr(start, '"', r->len - r->pos - 1);
  if (!q || memchr(start, '\\', (size_t)(q - start)))
    return 0;
  *s = start;
  *n = (size_t)(q - start);
  r->pos = (size_t)(q - r->s) + 1;
  return 1;
}

static int read_key(struct reader *r, struct key *key) {
  if (plain_string(r, &key->s, &key->n))
    return 0;
  if (peek(r) != '"')
    return -1;
  buf_reset(&key->dec);
  if (read_string(r, &key->dec) != 0)
    return -1;
  key->s = key->dec.data ? key->dec.data : "";
  key->n = key->dec.len;
  return 0;
}

/* Object iteration: call obj_open, then obj_next until it returns 0. Each 1
 * leaves the key in `key` (NULL: just skip it) and the cursor on the
 * member's value, which the caller must consume. */
static int obj_open(struct reader *r) {
  if (expect(r, '{') != 0 || ++r->depth > MAX_DEPTH)
    return -1;
  return 0;
}

static int obj_next(struct reader *r, struct key *key, int *first) {
  char c = peek(r);
  if (c == '}') {
    r->pos++;
    r->depth--;
    return 0;
  }
  if (!*first) {
    if (c != ',')
      return -1;
    r->pos++;
  }
  *first = 0;
  if ((key ? read_key(r, key) : read_string(r, NULL)) != 0 || expect(r, ':') != 0)
    return -1;
  skip_ws(r);
  return 1;
}

static int arr_open(struct reader *r) {
  if (expect(r, '[') != 0 || ++r->depth > MAX_DEPTH)
    return -1;
  return 0;
}

/* 1: an element follows (cursor on it), 0: the array ended, -1: error. */
static int arr_next(struct reader *r, int *first) {
  char c = peek(r);
  if (c == ']') {
    r->pos++;
    r->depth--;
    return 0;
  }
  if (!*first) {
    if (c != ',')
      return -1;
    r->pos++;
  }
  *first = 0;
  skip_ws(r);
  return 1;
}

static int skip_value(struct reader *r) {
  size_t a, b;
  int first = 1, rc;
  switch (peek(r)) {
  case '"':
    return read_string(r, NULL);
  case '{':
    if (obj_open(r) != 0)
      return -1;
    while ((rc = obj_next(r, NULL, &first)) == 1 && skip_value(r) == 0)
      ;
    return rc == 0 ? 0 : -1;
  case '[':
    if (arr_open(r) != 0)
      return -1;
    while ((rc = arr_next(r, &first)) == 1 && skip_value(r) == 0)
      ;
    return rc == 0 ? 0 : -1;
  case 't':
    return literal(r, "true");
  case 'f':
    return literal(r, "false");
  case 'n':
    return literal(r, "null");
  default:
    return read_number(r, &a, &b);
  }
}

/* Skip the value at the cursor and append its JSON text without the
 * whitespace between tokens (used for an `error` or `output` that is not a
 * string: the client still gets to see it). */
static int raw_value(struct reader *r, struct buf *out) {
  skip_ws(r);
  size_t start = r->pos;
  if (skip_value(r) != 0)
    return -1;
  int in_str = 0;
  for (size_t i = start; i < r->pos; i++) {
    char c = r->s[i];
    if (in_str) {
      if (c == '\\' && i + 1 < r->pos) {
        if (buf_append(out, r->s + i, 2) != 0)
          return -1;
        i++;
        continue;
      }
      if (c == '"')
        in_str = 0;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      continue;
    } else if (c == '"') {
      in_str = 1;
    }
    if (buf_append_char(out, c) != 0)
      return -1;
  }
  return 0;
}

static int is_null(struct reader *r) {
  if (peek(r) != 'n')
    return 0;
  return literal(r, "null") == 0 ? 1 : -1;
}

/* A string field: NULL when null or not a string (the value is skipped). */
static int string_field(struct reader *r, char **dst) {
  free(*dst);
  *dst = NULL;
  if (peek(r) != '"')
    return skip_value(r);
  const char *s;
  size_t n;
  if (plain_string(r, &s, &n)) /* the usual case: one exact allocation */
    return (*dst = strndup(s, n)) ? 0 : -1;
  struct buf b = BUF_INIT;
  if (read_string(r, &b) != 0 || !(*dst = buf_take(&b))) {
    buf_free(&b);
    return -1;
  }
  return 0;
}

static int count_field(struct reader *r, long *dst) {
  size_t a, b;
  *dst = -1;
  char c = peek(r);
  if (c != '-' && (c < '0' || c > '9'))
    return skip_value(r);
  if (read_number(r, &a, &b) != 0)
    return -1;
  /* Plain digits short enough to be exact in a double (below 2^53): what
   * strtod would give, without its ~400 instructions. Anything else (a
   * sign, a fraction, an exponent, more digits) goes through strtod. */
  if (b - a <= 15) {
    long v = 0;
    size_t i = a;
    while (i < b && r->s[i] >= '0' && r->s[i] <= '9')
      v = v * 10 + (r->s[i++] - '0');
    if (i == b) {
      *dst = v;
      return 0;
    }
  }
  char num[64];
  if (b - a >= sizeof num)
    return 0;
  memcpy(num, r->s + a, b - a);
  num[b - a] = '\0';
  double d = strtod(num, NULL);
  /* (double)LONG_MAX rounds up to 2^63, so "<" keeps the cast defined. */
  if (d >= 0 && d < (double)LONG_MAX)
    *dst = (long)d;
  return 0;
}

static int key_is_n(const struct key *key, const char *name, size_t n) {
  return key->n == n && memcmp(key->s, name, n) == 0;
}
/* name is a string literal: its length is known (no strlen per compare). */
#define key_is(key, name) key_is_n(key, name, sizeof name - 1)

struct parse_state {
  struct prediction *p;
  struct key key;
  struct buf output;
  struct buf error;
  int has_error;
};

static int parse_output(struct reader *r, struct parse_state *st) {
  buf_reset(&st->output);
  st->p->has_output = 0;
  switch (peek(r)) {
  case '[': {
    int first = 1, rc;
    if (arr_open(r) != 0)
      return -1;
    while ((rc = arr_next(r, &first)) == 1) {
      if (peek(r) == '"' ? read_string(r, &st->output) : skip_value(r))
        return -1;
    }
    if (rc != 0)
      return -1;
    break;
  }
  case '"':
    if (read_string(r, &st->output) != 0)
      return -1;
    break;
  case 'n':
    return is_null(r) == 1 ? 0 : -1;
  default:
    if (raw_value(r, &st->output) != 0)
      return -1;
  }
  st->p->has_output = 1;
  return 0;
}

static int parse_error(struct reader *r, struct parse_state *st) {
  buf_reset(&st->error);
  st->has_error = 0;
  int n = is_null(r);
  if (n != 0)
    return n == 1 ? 0 : -1;
  st->has_error = 1;
  if (peek(r) == '"')
    return read_string(r, &st->error);
  return raw_value(r, &st->error);
}

static int parse_urls(struct reader *r, struct parse_state *st) {
  if (peek(r) != '{')
    return skip_value(r);
  struct prediction *p = st->p;
  int first = 1, rc;
  if (obj_open(r) != 0)
    return -1;
  while ((rc = obj_next(r, &st->key, &first)) == 1) {
    char **dst = key_is(&st->key, "get")      ? &p->url_get
                 : key_is(&st->key, "stream") ? &p->url_stream
                 : key_is(&st->key, "cancel") ? &p->url_cancel
                                              : NULL;
    if ((dst ? string_field(r, dst) : skip_value(r)) != 0)
      return -1;
  }
  return rc;
}

static int parse_metrics(struct reader *r, struct parse_state *st) {
  if (peek(r) != '{')
    return skip_value(r);
  struct prediction *p = st->p;
  int first = 1, rc;
  if (obj_open(r) != 0)
    return -1;
  while ((rc = obj_next(r, &st->key, &first)) == 1) {
    long *dst = key_is(&st->key, "input_token_count")    ? &p->input_tokens
                : key_is(&st->key, "output_token_count") ? &p->output_tokens
                                                         : NULL;
    if ((dst ? count_field(r, dst) : skip_value(r)) != 0)
      return -1;
  }
  return rc;
}

static const char *const status_names[] = {
    [PRED_UNKNOWN] = "unknown",      [PRED_STARTING] = "starting",
    [PRED_PROCESSING] = "processing", [PRED_SUCCEEDED] = "succeeded",
    [PRED_FAILED] = "failed",        [PRED_CANCELED] = "canceled",
    [PRED_ABORTED] = "aborted",
};
#define N_STATUS (sizeof status_names / sizeof status_names[0])

static int parse_status(struct reader *r, struct parse_state *st) {
  st->p->status = PRED_UNKNOWN;
  if (peek(r) != '"')
    return skip_value(r);
  /* Read as a key is: in place unless escaped, no copy to compare. */
  if (read_key(r, &st->key) != 0)
    return -1;
  for (size_t i = 1; i < N_STATUS; i++)
    if (key_is_n(&st->key, status_names[i], strlen(status_names[i])))
      st->p->status = (enum pred_status)i;
  return 0;
}

static int parse_id(struct reader *r, struct parse_state *st) {
  return string_field(r, &st->p->id);
}

/* Top-level fields the proxy reads; everything else is skipped. */
static const struct {
  const char *name;
  size_t len;
  int (*parse)(struct reader *r, struct parse_state *st);
} fields[] = {
#define FIELD(name, fn) {name, sizeof name - 1, fn}
    FIELD("id", parse_id),         FIELD("status", parse_status),
    FIELD("output", parse_output), FIELD("error", parse_error),
    FIELD("urls", parse_urls),     FIELD("metrics", parse_metrics),
#undef FIELD
};

static int parse_object(struct reader *r, struct parse_state *st) {
  int first = 1, rc;
  /* A UTF-8 byte order mark is not JSON, but harmless to accept. */
  if (r->len >= 3 && memcmp(r->s, "\xEF\xBB\xBF", 3) == 0)
    r->pos = 3;
  if (obj_open(r) != 0)
    return -1;
  while ((rc = obj_next(r, &st->key, &first)) == 1) {
    size_t i = 0;
    while (i < sizeof fields / sizeof fields[0] &&
           !key_is_n(&st->key, fields[i].name, fields[i].len))
      i++;
    if ((i < sizeof fields / sizeof fields[0] ? fields[i].parse(r, st)
                                               : skip_value(r)) != 0)
      return -1;
  }
  if (rc != 0)
    return -1;
  skip_ws(r);
  return r->pos == r->len ? 0 : -1; /* trailing garbage: not one object */
}

int prediction_parse(const char *json, size_t len, struct prediction *out) {
  struct reader r = {json, json ? len : 0, 0, 0};
  struct parse_state st = {out, {NULL, 0, BUF_INIT}, BUF_INIT, BUF_INIT, 0};
  memset(out, 0, sizeof *out);
  out->input_tokens = out->output_tokens = -1;
  int rc = parse_object(&r, &st);
  if (rc == 0 && (!out->id || !out->id[0]))
    rc = -1;
  if (rc == 0) {
    out->output_len = st.output.len;
    if (!(out->output = buf_take(&st.output)))
      rc = -1;
  }
  if (rc == 0 && st.has_error && !(out->error = buf_take(&st.error)))
    rc = -1;
  buf_free(&st.key.dec);
  buf_free(&st.output);
  buf_free(&st.error);
  if (rc != 0)
    prediction_free(out);
  return rc;
}

char *prediction_peek_id(const char *json, size_t len) {
  struct reader r = {json, json ? len : 0, 0, 0};
  struct key key = {NULL, 0, BUF_INIT};
  struct buf id = BUF_INIT;
  int first = 1, found = 0;
  if (r.len >= 3 && memcmp(r.s, "\xEF\xBB\xBF", 3) == 0)
    r.pos = 3;
  if (obj_open(&r) == 0) {
    while (!found && obj_next(&r, &key, &first) == 1) {
      if (key_is(&key, "id") && peek(&r) == '"')
        found = read_string(&r, &id) == 0;
      else if (skip_value(&r) != 0)
        break; /* the cut: the id did not come before it */
    }
  }
  buf_free(&key.dec);
  /* It goes into a URL path: only the characters ids are made of. */
  for (size_t i = 0; found && i < id.len; i++) {
    char c = id.data[i];
    found = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_';
  }
  if (!found || id.len == 0) {
    buf_free(&id);
    return NULL;
  }
  return buf_take(&id);
}

void prediction_free(struct prediction *p) {
  free(p->id);
  free(p->output);
  free(p->error);
  free(p->url_get);
  free(p->url_stream);
  free(p->url_cancel);
  memset(p, 0, sizeof *p);
}

int prediction_is_terminal(enum pred_status s) {
  return s == PRED_SUCCEEDED || s == PRED_FAILED || s == PRED_CANCELED ||
         s == PRED_ABORTED;
}

const char *prediction_status_name(enum pred_status s) {
  return (size_t)s < N_STATUS ? status_names[s] : "unknown";
}
