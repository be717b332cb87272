#include "json_scan.h"

#include <stdio.h>
#include <string.h>

/* Containers whose position is tracked for `param`; deeper ones are only
 * counted (cJSON refuses nesting past 1000 anyway). */
#define SCAN_DEPTH 64

struct frame {
  char kind;        /* '{' or '[' */
  const char *key;  /* object: the current member's raw key, or NULL */
  size_t key_len;
  size_t index;     /* array: the current element */
};

struct scan {
  const unsigned char *start, *p, *end;
  struct frame frames[SCAN_DEPTH];
  size_t depth;   /* may exceed SCAN_DEPTH */
  int want_key;   /* in an object, before the member's key */
};

/* Length of the UTF-8 sequence at p, or 0 when it is not one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0], cp;
  size_t n;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
    return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))
    return 0;
  return n;
}

/* The OpenAI-style path of the first n_frames containers' current members:
 * messages[0].content[1].text. Truncated to fit. */
static void render_path(const struct scan *s, size_t n_frames, char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  if (n_frames > SCAN_DEPTH)
    n_frames = SCAN_DEPTH;
  for (size_t i = 0; i < n_frames && used < cap; i++) {
    const struct frame *f = &s->frames[i];
    int n;
    if (f->kind == '[')
      n = snprintf(out + used, cap - used, "[%zu]", f->index);
    else if (f->key)
      n = snprintf(out + used, cap - used, "%s%.*s", used ? "." : "", (int)f->key_len, f->key);
    else
      break;
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

static int fail_encoding(struct scan *s, size_t n_frames, struct oai_error *err) {
  char path[sizeof err->param];
  render_path(s, n_frames, path, sizeof path);
  size_t offset = (size_t)(s->p - s->start);
  if (path[0])
    oai_error_set(err, 400, "invalid_request_error", "invalid_encoding", path,
                  "Invalid '%s': the request body is not valid UTF-8 (byte 0x%02x at "
                  "offset %zu). Send text as UTF-8.", path, *s->p, offset);
  else
    oai_error_set(err, 400, "invalid_request_error", "invalid_encoding", NULL,
                  "The request body is not valid UTF-8 (byte 0x%02x at offset %zu). "
                  "Send text as UTF-8.", *s->p, offset);
  return -1;
}

static int fail_nul(struct scan *s, size_t n_frames, struct oai_error *err) {
  char path[sizeof err->param];
  render_path(s, n_frames, path, sizeof path);
  if (path[0])
    oai_error_set(err, 400, "invalid_request_error", "invalid_value", path,
                  "Invalid '%s': the string contains a NUL character (\\u0000), "
                  "which cannot be passed to the model. Remove it.", path);
  else
    oai_error_set(err, 400, "invalid_request_error", "invalid_value", NULL,
                  "The request body contains a NUL character (\\u0000) at offset %zu, "
                  "which cannot be passed to the model. Remove it.",
                  (size_t)(s->p - s->start));
  return -1;
}

static struct frame *top(struct scan *s) {
  return s->depth && s->depth <= SCAN_DEPTH ? &s->frames[s->depth - 1] : NULL;
}

/* From the opening quote to past the closing one. A key is named by its
 * object's path; a value by its own. */
static int scan_string(struct scan *s, struct oai_error *err) {
  struct frame *t = top(s);
  int is_key = s->depth && s->want_key;
  size_t where = is_key ? s->depth - 1 : s->depth;
  const unsigned char *begin = ++s->p;
  while (s->p < s->end && *s->p != '"') {
    unsigned char c = *s->p;
    if (c == '\\') {
      /* \u0000 is the one escape that becomes a NUL; any other escaped
       * byte is skipped (a non-ASCII one is checked as UTF-8 below). */
      if (s->end - s->p >= 6 && memcmp(s->p + 1, "u0000", 5) == 0)
        return fail_nul(s, where, err);
      s->p++;
      if (s->p < s->end && *s->p < 0x80)
        s->p++;
    } else if (c == 0) {
      return fail_nul(s, where, err);
    } else if (c >= 0x80) {
      size_t n = utf8_len(s->p, s->end);
      if (!n)
        return fail_encoding(s, where, err);
      s->p += n;
    } else {
      s->p++;
    }
  }
  if (is_key && t) {
    t->key = (const char *)begin;
    t->key_len = (size_t)(s->p - begin);
  }
  if (s->p < s->end)
    s->p++;
  return 0;
}

/* 1 when nothing in the body can fail the scan: no invalid UTF-8, no NUL
 * byte, no backslash before "u0000". Context-free, so it over-suspects
 * (an escaped backslash before "u0000", a NUL outside strings) and only a
 * suspect body pays for the full scan's path tracking, ~15 instructions a
 * byte against ~5 here. */
static int scan_clean(const unsigned char *p, const unsigned char *end) {
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x80) {
      size_t n = utf8_len(p, end);
      if (!n)
        return 0;
      p += n;
      continue;
    }
    if (c == 0 || (c == '\\' && end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0))
      return 0;
    p++;
  }
  return 1;
}

int json_scan(const char *body, size_t len, struct oai_error *err) {
  if (!body || scan_clean((const unsigned char *)body, (const unsigned char *)body + len))
    return 0;
  struct scan s;
  s.start = s.p = (const unsigned char *)body;
  s.end = s.p + len;
  s.depth = 0;
  s.want_key = 0;
  while (s.p < s.end) {
    unsigned char c = *s.p;
    if (c == '"') {
      if (scan_string(&s, err) != 0)
        return -1;
      continue;
    }
    if (c >= 0x80) {
      size_t n = utf8_len(s.p, s.end);
      if (!n)
        return fail_encoding(&s, s.depth, err);
      s.p += n;
      continue;
    }
    struct frame *t = top(&s);
    if (c == '{' || c == '[') {
      if (++s.depth <= SCAN_DEPTH)
        s.frames[s.depth - 1] = (struct frame){.kind = (char)c};
      s.want_key = c == '{';
    } else if ((c == '}' || c == ']') && s.depth) {
      s.depth--;
      s.want_key = 0;
    } else if (c == ',' && t) {
      if (t->kind == '{') {
        t->key = NULL;
        s.want_key = 1;
      } else {
        t->index++;
      }
    } else if (c == ':') {
      s.want_key = 0;
    }
    s.p++;
  }
  return 0;
}
