/* What the client receives. Built with buffer appends and our own string
 * escaper rather than cJSON trees: chunks are on the streaming hot path, and
 * content is (ptr, len) that may hold NULs or bytes cJSON would pass through
 * as invalid UTF-8. Key order follows OpenAI's own replies. */
#include "response.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "json_plain.h"
#include "num_text.h"

/* 256-entry byte classes: 0 = copy as is, 1 = escape, 2 = start of a
 * multi-byte (or invalid) UTF-8 sequence. */
static unsigned char byte_class(unsigned char c) {
  if (c >= 0x80)
    return 2;
  return (c < 0x20 || c == '"' || c == '\\') ? 1 : 0;
}

/* Length of the valid UTF-8 sequence at p, or 0 when invalid; then *bad is
 * the length of its maximal ill-formed prefix (at least 1), which becomes
 * one U+FFFD, as the WHATWG/Unicode decoders do. */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad) {
  static const struct {
    unsigned char lead_lo, lead_hi; /* lead byte range */
    unsigned char cont;             /* continuation bytes */
    unsigned char lo, hi;           /* allowed range of the second byte */
  } rows[] = {
      {0xC2, 0xDF, 1, 0x80, 0xBF}, {0xE0, 0xE0, 2, 0xA0, 0xBF},
      {0xE1, 0xEC, 2, 0x80, 0xBF}, {0xED, 0xED, 2, 0x80, 0x9F},
      {0xEE, 0xEF, 2, 0x80, 0xBF}, {0xF0, 0xF0, 3, 0x90, 0xBF},
      {0xF1, 0xF3, 3, 0x80, 0xBF}, {0xF4, 0xF4, 3, 0x80, 0x8F},
  };
  size_t r = 0;
  while (r < sizeof rows / sizeof rows[0] &&
         (p[0] < rows[r].lead_lo || p[0] > rows[r].lead_hi))
    r++;
  *bad = 1;
  if (r == sizeof rows / sizeof rows[0])
    return 0;
  for (size_t k = 1; k <= rows[r].cont; k++) {
    unsigned char lo = k == 1 ? rows[r].lo : 0x80;
    unsigned char hi = k == 1 ? rows[r].hi : 0xBF;
    if (k >= n || p[k] < lo || p[k] > hi) {
      *bad = k;
      return 0;
    }
  }
  return (size_t)rows[r].cont + 1;
}

/* Characters with a short JSON escape; other control bytes get \u00XX. */
static const char short_escape[128] = {
    ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
    ['\n'] = 'n', ['\r'] = 'r',   ['\t'] = 't',
};

static int escape_byte(struct buf *out, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  char e[6] = {'\\', short_escape[c], 0, 0, 0, 0};
  if (e[1])
    return buf_append(out, e, 2);
  e[1] = 'u';
  e[2] = '0';
  e[3] = '0';
  e[4] = hex[c >> 4];
  e[5] = hex[c & 0xF];
  return buf_append(out, e, 6);
}

static int escape_body(struct buf *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, run = 0, n, bad;
  while (i < len) {
    /* Plain ASCII a word or sixteen bytes at a time (json_plain.h; it also
     * stops at 0x7f, which the byte loop copies): ~13 instructions a byte
     * one by one. */
    i += json_plain_len(s + i, len - i, 1);
    if (i == len)
      break;
    unsigned char cls = byte_class(p[i]);
    if (cls == 0) {
      i++;
      continue;
    }
    if (cls == 2 && (n = utf8_seq(p + i, len - i, &bad)) != 0) {
      i += n;
      continue;
    }
    if (buf_append(out, s + run, i - run) != 0)
      return -1;
    if (cls == 1) {
      if (escape_byte(out, p[i]) != 0)
        return -1;
      i++;
    } else {
      if (buf_append(out, "\xEF\xBF\xBD", 3) != 0)
        return -1;
      i += bad;
    }
    run = i;
  }
  return buf_append(out, s + run, i - run);
}

/* On failure the buffer is put back as it was: callers never see half an
 * escaped string or half an event. */
int json_escape_append(struct buf *out, const char *s, size_t len) {
  size_t mark = out->len;
  if (buf_reserve(out, len + 2) != 0 ||
      (len && escape_body(out, s, len) != 0)) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    return -1;
  }
  return 0;
}

int json_quote_append(struct buf *out, const char *s, size_t len) {
  size_t mark = out->len;
  if (buf_append_char(out, '"') != 0 || json_escape_append(out, s, len) != 0 ||
      buf_append_char(out, '"') != 0) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    return -1;
  }
  return 0;
}

/* Small building blocks that chain with `||` and report failure as -1. */
/* Always inline: a literal's strlen is then a constant and its append a
 * move (out of line, each of a response's ~30 cost ~60 instructions). */
static inline __attribute__((always_inline)) int put_lit(struct buf *b, const char *s) {
  return buf_append(b, s, strlen(s));
}

static int put_long(struct buf *b, long v) {
  char tmp[NUM_DEC_MAX];
  return buf_append(b, tmp, (size_t)(num_i64(tmp, v) - tmp));
}

static int put_str(struct buf *b, const char *s) {
  return json_quote_append(b, s ? s : "", s ? strlen(s) : 0);
}

static long nonneg(long v) { return v < 0 ? 0 : v; }

/* Negative counts (an "unknown" that slipped through) print as 0 so the
 * client never sees a negative usage; the sum saturates. */
static int put_usage(struct buf *b, const struct usage *u) {
  long p = nonneg(u->prompt_tokens), c = nonneg(u->completion_tokens);
  long t = c > LONG_MAX - p ? LONG_MAX : p + c;
  if (put_lit(b, "{\"prompt_tokens\":") || put_long(b, p) ||
      put_lit(b, ",\"completion_tokens\":") || put_long(b, c) ||
      put_lit(b, ",\"total_tokens\":") || put_long(b, t))
    return -1;
  if (u->reasoning_tokens >= 0 &&
      (put_lit(b, ",\"completion_tokens_details\":{\"reasoning_tokens\":") ||
       put_long(b, u->reasoning_tokens) || put_lit(b, "}")))
    return -1;
  if (u->has_cost) {
    char num[NUM_G_MAX];
    size_t n = num_g(num, u->cost >= 0 ? u->cost : 0.0, 12); /* %.12g's text */
    if (put_lit(b, ",\"cost\":") || buf_append(b, num, n) != 0)
      return -1;
  }
  return put_lit(b, "}");
}

/* {"id":..,"object":OBJECT,"created":..,"model":..,"choices":[ */
static int put_head(struct buf *b, const struct response_meta *m,
                    const char *object) {
  if (put_lit(b, "{\"id\":") || put_str(b, m->id) ||
      put_lit(b, ",\"object\":\"") || put_lit(b, object) ||
      put_lit(b, "\",\"created\":") || put_long(b, m->created) ||
      put_lit(b, ",\"model\":") || put_str(b, m->model) ||
      put_lit(b, ",\"choices\":["))
    return -1;
  return 0;
}

/* (ptr, len) as a JSON string; NULL is "". */
static int put_text(struct buf *b, const char *s, size_t len) {
  return json_quote_append(b, s ? s : "", s ? len : 0);
}

/* {"name":"..","arguments":".."} */
static int put_function(struct buf *b, const struct tool_call *t) {
  if (put_lit(b, "{\"name\":") || put_text(b, t->name, t->name_len) ||
      put_lit(b, ",\"arguments\":") ||
      put_text(b, t->arguments, t->arguments_len) || put_lit(b, "}"))
    return -1;
  return 0;
}

static int has_calls(const struct choice_result *c) {
  return c->tool_calls && c->n_tool_calls > 0;
}

/* "message":{role, content, reasoning_content?, refusal, tool_calls? |
 * function_call?} */
static int put_message(struct buf *b, const struct choice_result *c) {
  if (put_lit(b, "{\"role\":\"assistant\",\"content\":") ||
      (c->content_null ? put_lit(b, "null")
                       : put_text(b, c->content, c->content_len)))
    return -1;
  if (c->has_reasoning && (put_lit(b, ",\"reasoning_content\":") ||
                           put_text(b, c->reasoning, c->reasoning_len)))
    return -1;
  if (put_lit(b, ",\"refusal\":null"))
    return -1;
  if (has_calls(c) && c->legacy_function_call) {
    if (put_lit(b, ",\"function_call\":") || put_function(b, &c->tool_calls[0]))
      return -1;
  } else if (has_calls(c)) {
    if (put_lit(b, ",\"tool_calls\":["))
      return -1;
    for (size_t k = 0; k < c->n_tool_calls; k++)
      if ((k && put_lit(b, ",")) || put_lit(b, "{\"id\":") ||
          put_str(b, c->tool_calls[k].id) ||
          put_lit(b, ",\"type\":\"function\",\"function\":") ||
          put_function(b, &c->tool_calls[k]) || put_lit(b, "}"))
        return -1;
    if (put_lit(b, "]"))
      return -1;
  }
  return put_lit(b, "}");
}

/* A size hint for one choice, so big responses grow the buffer once. */
static size_t choice_guess(const struct choice_result *c) {
  size_t g = c->content_len + 160;
  if (c->has_reasoning)
    g += c->reasoning_len + 24;
  if (has_calls(c))
    for (size_t k = 0; k < c->n_tool_calls; k++)
      g += c->tool_calls[k].name_len + c->tool_calls[k].arguments_len + 96;
  return g;
}

/* ]  ,"usage":{..}?  } and hand the text over. */
static char *finish_whole(struct buf *b, const struct usage *u) {
  if (put_lit(b, "]") || (u && (put_lit(b, ",\"usage\":") || put_usage(b, u))) ||
      put_lit(b, "}")) {
    buf_free(b);
    return NULL;
  }
  return buf_take(b);
}

char *response_chat_completion(const struct response_meta *m,
                               const struct choice_result *choices, size_t n,
                               const struct usage *u) {
  struct buf b = BUF_INIT;
  size_t guess = 256;
  for (size_t i = 0; i < n; i++)
    guess += choice_guess(&choices[i]);
  if (buf_reserve(&b, guess) != 0 || put_head(&b, m, "chat.completion"))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    const struct choice_result *c = &choices[i];
    const char *fr = c->finish_reason ? c->finish_reason : "stop";
    if ((i && put_lit(&b, ",")) || put_lit(&b, "{\"index\":") ||
        put_long(&b, (long)i) || put_lit(&b, ",\"message\":") ||
        put_message(&b, c) ||
        put_lit(&b, ",\"logprobs\":null,\"finish_reason\":") ||
        put_str(&b, fr) || put_lit(&b, "}"))
      goto fail;
  }
  return finish_whole(&b, u);
fail:
  buf_free(&b);
  return NULL;
}

char *response_text_completion(const struct response_meta *m,
                               const struct choice_result *choices, size_t n,
                               const struct usage *u) {
  struct buf b = BUF_INIT;
  size_t guess = 256;
  for (size_t i = 0; i < n; i++)
    guess += choices[i].content_len + 80;
  if (buf_reserve(&b, guess) != 0 || put_head(&b, m, "text_completion"))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    const struct choice_result *c = &choices[i];
    const char *fr = c->finish_reason ? c->finish_reason : "stop";
    if ((i && put_lit(&b, ",")) || put_lit(&b, "{\"text\":") ||
        put_text(&b, c->content, c->content_len) ||
        put_lit(&b, ",\"index\":") || put_long(&b, (long)i) ||
        put_lit(&b, ",\"logprobs\":null,\"finish_reason\":") ||
        put_str(&b, fr) || put_lit(&b, "}"))
      goto fail;
  }
  return finish_whole(&b, u);
fail:
  buf_free(&b);
  return NULL;
}

/* Every chunk event: "data: " head {"index":i,"delta":DELTA,"logprobs":null,
 * "finish_reason":FR}]}"\n\n". Rolled back whole on failure. */
static int chunk_begin(struct buf *out, const struct response_meta *m,
                       int index) {
  if (put_lit(out, "data: ") || put_head(out, m, "chat.completion.chunk") ||
      put_lit(out, "{\"index\":") || put_long(out, index) ||
      put_lit(out, ",\"delta\":"))
    return -1;
  return 0;
}

static int rollback(struct buf *out, size_t mark) {
  out->len = mark;
  if (out->data)
    out->data[mark] = '\0';
  return -1;
}

#define CHUNK_NULL_END ",\"logprobs\":null,\"finish_reason\":null}]}\n\n"

int response_chunk_role(struct buf *out, const struct response_meta *m,
                        int index) {
  size_t mark = out->len;
  if (chunk_begin(out, m, index) ||
      put_lit(out, "{\"role\":\"assistant\",\"content\":\"\"}" CHUNK_NULL_END))
    return rollback(out, mark);
  return 0;
}

/* A delta of one string field: {"KEY":"<text>"} (KEY a literal with its
 * quotes and colon). */
static int chunk_text(struct buf *out, const struct response_meta *m,
                      int index, const char *key, const char *text,
                      size_t len) {
  size_t mark = out->len;
  if (buf_reserve(out, len + 200) != 0 || chunk_begin(out, m, index) ||
      put_lit(out, "{") || put_lit(out, key) || put_text(out, text, len) ||
      put_lit(out, "}" CHUNK_NULL_END))
    return rollback(out, mark);
  return 0;
}

int response_chunk_content(struct buf *out, const struct response_meta *m,
                           int index, const char *text, size_t len) {
  return chunk_text(out, m, index, "\"content\":", text, len);
}

const char RESPONSE_CHUNK_TEXT_SUFFIX[] = "\"}" CHUNK_NULL_END;

int response_chunk_text_prefix(struct buf *out, const struct response_meta *m, int index,
                               int reasoning) {
  size_t mark = out->len;
  if (chunk_begin(out, m, index) ||
      put_lit(out, reasoning ? "{\"reasoning_content\":\"" : "{\"content\":\""))
    return rollback(out, mark);
  return 0;
}

int response_chunk_reasoning(struct buf *out, const struct response_meta *m,
                             int index, const char *text, size_t len) {
  return chunk_text(out, m, index, "\"reasoning_content\":", text, len);
}

int response_chunk_tool_call(struct buf *out, const struct response_meta *m,
                             int index, const struct tool_call *call,
                             int call_index) {
  static const struct tool_call none;
  size_t mark = out->len;
  if (!call)
    call = &none;
  if (buf_reserve(out, call->name_len + 300) != 0 ||
      chunk_begin(out, m, index) ||
      put_lit(out, "{\"tool_calls\":[{\"index\":") ||
      put_long(out, call_index) || put_lit(out, ",\"id\":") ||
      put_str(out, call->id) ||
      put_lit(out, ",\"type\":\"function\",\"function\":{\"name\":") ||
      put_text(out, call->name, call->name_len) ||
      put_lit(out, ",\"arguments\":\"\"}}]}" CHUNK_NULL_END))
    return rollback(out, mark);
  return 0;
}

int response_chunk_tool_args(struct buf *out, const struct response_meta *m,
                             int index, int call_index, const char *frag,
                             size_t len) {
  size_t mark = out->len;
  if (buf_reserve(out, len + 260) != 0 || chunk_begin(out, m, index) ||
      put_lit(out, "{\"tool_calls\":[{\"index\":") ||
      put_long(out, call_index) ||
      put_lit(out, ",\"function\":{\"arguments\":") ||
      put_text(out, frag, len) || put_lit(out, "}}]}" CHUNK_NULL_END))
    return rollback(out, mark);
  return 0;
}

int response_chunk_function_call(struct buf *out,
                                 const struct response_meta *m, int index,
                                 const char *name, size_t name_len,
                                 const char *args, size_t args_len) {
  size_t mark = out->len;
  if (buf_reserve(out, name_len + args_len + 240) != 0 ||
      chunk_begin(out, m, index) || put_lit(out, "{\"function_call\":{") ||
      (name && (put_lit(out, "\"name\":") ||
                put_text(out, name, name_len) || put_lit(out, ","))) ||
      put_lit(out, "\"arguments\":") || put_text(out, args, args_len) ||
      put_lit(out, "}}" CHUNK_NULL_END))
    return rollback(out, mark);
  return 0;
}

int response_chunk_finish(struct buf *out, const struct response_meta *m,
                          int index, const char *finish_reason) {
  size_t mark = out->len;
  if (chunk_begin(out, m, index) ||
      put_lit(out, "{},\"logprobs\":null,\"finish_reason\":") ||
      put_str(out, finish_reason ? finish_reason : "stop") ||
      put_lit(out, "}]}\n\n"))
    return rollback(out, mark);
  return 0;
}

/* data: {head,"choices":[],"usage":{..}}\n\n */
static int usage_event(struct buf *out, const struct response_meta *m,
                       const char *object, const struct usage *u) {
  size_t mark = out->len;
  if (put_lit(out, "data: ") || put_head(out, m, object) ||
      put_lit(out, "],\"usage\":") || put_usage(out, u) ||
      put_lit(out, "}\n\n"))
    return rollback(out, mark);
  return 0;
}

int response_chunk_usage(struct buf *out, const struct response_meta *m,
                         const struct usage *u) {
  return usage_event(out, m, "chat.completion.chunk", u);
}

int response_text_chunk(struct buf *out, const struct response_meta *m,
                        int index, const char *text, size_t len,
                        const char *finish_reason) {
  size_t mark = out->len;
  if (buf_reserve(out, len + 200) != 0 || put_lit(out, "data: ") ||
      put_head(out, m, "text_completion") || put_lit(out, "{\"text\":") ||
      put_text(out, text, len) || put_lit(out, ",\"index\":") ||
      put_long(out, index) ||
      put_lit(out, ",\"logprobs\":null,\"finish_reason\":") ||
      (finish_reason ? put_str(out, finish_reason) : put_lit(out, "null")) ||
      put_lit(out, "}]}\n\n"))
    return rollback(out, mark);
  return 0;
}

int response_text_usage(struct buf *out, const struct response_meta *m,
                        const struct usage *u) {
  return usage_event(out, m, "text_completion", u);
}

int response_done(struct buf *out) { return put_lit(out, "data: [DONE]\n\n"); }

double usage_cost(long prompt_tokens, long completion_tokens, double input_per_mtok,
                  double output_per_mtok) {
  return ((double)nonneg(prompt_tokens) * input_per_mtok +
          (double)nonneg(completion_tokens) * output_per_mtok) / 1e6;
}

long usage_estimate_tokens(const char *text, size_t len) {
  (void)text; /* a byte count is all the estimate uses */
  size_t t = len / 4 + (len % 4 != 0);
  return t > (size_t)LONG_MAX ? LONG_MAX : (long)t;
}

void response_make_id(char *out, size_t cap, const char *prefix,
                      const unsigned char *random_bytes, size_t n) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  size_t i = 0;
  if (!out || cap == 0)
    return;
  for (; prefix && *prefix && i + 1 < cap; prefix++)
    out[i++] = *prefix;
  for (size_t k = 0; random_bytes && k < n && i + 1 < cap; k++)
    out[i++] = alphabet[random_bytes[k] % (sizeof alphabet - 1)];
  out[i] = '\0';
}
