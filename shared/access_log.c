#include "access_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json_plain.h"
#include "num_text.h"

int access_log_request_id_ok(const char *s) {
  if (!s)
    return 0;
  size_t n = 0;
  for (; s[n]; n++) {
    unsigned char c = (unsigned char)s[n];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    if (!ok || n >= REQUEST_ID_MAX)
      return 0;
  }
  return n > 0;
}

void access_log_new_request_id(char out[REQUEST_ID_MAX + 1],
                               const unsigned char rnd[REQUEST_ID_RANDOM]) {
  static const char ALNUM[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  memcpy(out, "req_", 4);
  for (size_t i = 0; i < REQUEST_ID_RANDOM; i++)
    out[4 + i] = ALNUM[rnd[i] % 62];
  out[4 + REQUEST_ID_RANDOM] = '\0';
}

/* The JSON line is written with a cursor into room reserved once (its size
 * bounded first): a line is written for every request, and per-token
 * appends, or printf, made most of its cost. */

static char *put_lit(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}
#define PUT(o, lit) put_lit((o), (lit), sizeof(lit) - 1)

/* Bytes json_str may write for s, its length measured into *n: each byte
 * as \u00XX, and the quotes. */
static size_t str_bound(const char *s, size_t *n) {
  *n = s ? strlen(s) : 0;
  return s ? 6 * *n + 2 : 4;
}

/* A JSON string (n bytes): quotes, backslash and every control byte
 * escaped, so one request is always one line whatever a client put in its
 * path; bytes >= 0x7f too: the line stays valid JSON whatever the path's
 * encoding. */
static char *json_str(char *o, const char *s, size_t n) {
  if (!s)
    return PUT(o, "null");
  return json_quote_n(o, s, n, JQ_ASCII);
}

static char *put_digits(char *o, unsigned v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10)
    o[i] = (char)('0' + v % 10);
  return o + width;
}

char *access_log_iso_time(char *o, time_t sec, unsigned ms) {
  /* The second's text is kept per thread: the lines of one second share it
   * (gmtime_r was ~300 instructions a line). */
  static _Thread_local time_t last_sec = -1;
  static _Thread_local char last[19]; /* 2024-01-02T03:04:05 */
  if (sec != last_sec) {
    struct tm tm;
    if (!gmtime_r(&sec, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
      return o;
    char *p = put_digits(last, (unsigned)(tm.tm_year + 1900), 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    put_digits(p, (unsigned)tm.tm_sec, 2);
    last_sec = sec;
  }
  o = put_lit(o, last, sizeof last);
  *o++ = '.';
  o = put_digits(o, ms > 999 ? 999 : ms, 3);
  *o++ = 'Z';
  return o;
}

static char *iso_time(char *o, double t) {
  time_t sec = (time_t)t;
  int ms = (int)((t - (double)sec) * 1000);
  return access_log_iso_time(o, sec, (unsigned)(ms < 0 ? 0 : ms));
}

/* ,"key":v, or null when unknown (negative); key is a literal. */
#define JSON_LONG(o, key, v) ((v) < 0 ? PUT(PUT(o, ",\"" key "\":"), "null") \
                                      : num_i64(PUT(o, ",\"" key "\":"), (v)))
#define JSON_BOOL(o, key, v) ((v) ? PUT(o, ",\"" key "\":true") : PUT(o, ",\"" key "\":false"))

/* Everything but the strings and the cost: keys, numbers (24 bytes each),
 * the time, booleans. */
#define LINE_FIXED 1024

size_t access_log_json_bound(const struct access_log_entry *e, struct access_log_lens *l) {
  return LINE_FIXED + NUM_G_MAX + str_bound(e->request_id, &l->request_id) +
         str_bound(e->client, &l->client) + str_bound(e->method, &l->method) +
         str_bound(e->path, &l->path) + str_bound(e->route, &l->route) +
         str_bound(e->key_alias, &l->key_alias) + str_bound(e->model, &l->model) +
         str_bound(e->finish_reason, &l->finish_reason) +
         str_bound(e->prediction_id, &l->prediction_id) +
         str_bound(e->error_code, &l->error_code) +
         (e->request_body ? str_bound(e->request_body, &l->request_body) +
                                str_bound(e->answer, &l->answer)
                          : 0);
}

size_t access_log_json_to(char *out, const struct access_log_entry *e,
                          const struct access_log_lens *l) {
  char cost[NUM_G_MAX];
  size_t nc = num_g(cost, e->cost_usd, 9); /* %.9g's text */
  char *o = out;
  o = json_str(PUT(o, "{\"request_id\":"), e->request_id, l->request_id);
  o = iso_time(PUT(o, ",\"time\":\""), e->time_unix);
  o = json_str(PUT(o, "\",\"client\":"), e->client, l->client);
  o = json_str(PUT(o, ",\"method\":"), e->method, l->method);
  o = json_str(PUT(o, ",\"path\":"), e->path, l->path);
  o = json_str(PUT(o, ",\"route\":"), e->route, l->route);
  o = json_str(PUT(o, ",\"key_alias\":"), e->key_alias, l->key_alias);
  o = json_str(PUT(o, ",\"model\":"), e->model, l->model);
  o = JSON_BOOL(o, "stream", e->stream);
  o = JSON_LONG(o, "status", (long)e->status);
  o = JSON_BOOL(o, "client_gone", e->client_gone);
  o = JSON_LONG(o, "prompt_tokens", e->prompt_tokens);
  o = JSON_LONG(o, "completion_tokens", e->completion_tokens);
  o = nc ? put_lit(PUT(o, ",\"cost_usd\":"), cost, nc) : PUT(o, ",\"cost_usd\":null");
  o = JSON_LONG(o, "ttfb_ms", e->ttfb_ms);
  o = JSON_LONG(o, "duration_ms", e->duration_ms < 0 ? 0 : e->duration_ms);
  o = JSON_LONG(o, "retries", (long)e->retries);
  o = json_str(PUT(o, ",\"finish_reason\":"), e->finish_reason, l->finish_reason);
  o = json_str(PUT(o, ",\"prediction_id\":"), e->prediction_id, l->prediction_id);
  o = json_str(PUT(o, ",\"error_code\":"), e->error_code, l->error_code);
  o = JSON_LONG(o, "upstream_ms", e->upstream_ms);
  if (e->request_body) {
    o = json_str(PUT(o, ",\"request_body\":"), e->request_body, l->request_body);
    o = JSON_BOOL(o, "request_body_truncated", e->request_body_cut);
    o = json_str(PUT(o, ",\"answer\":"), e->answer, l->answer);
    o = JSON_BOOL(o, "answer_truncated", e->answer_cut);
  }
  o = PUT(o, "}\n");
  *o = '\0';
  return (size_t)(o - out);
}

int access_log_json(struct buf *out, const struct access_log_entry *e) {
  struct access_log_lens l;
  if (buf_reserve(out, access_log_json_bound(e, &l)) != 0)
    return -1; /* no half line: nothing written */
  out->len += access_log_json_to(out->data + out->len, e, &l);
  return 0;
}


/* Shortest secret worth redacting: anything shorter would match by chance. */
#define SECRET_MIN 8

int access_log_clip(struct buf *out, const char *s, size_t len, size_t max,
                    const char *const *secrets, size_t n_secrets, int *cut) {
  static const char MARK[] = "[redacted]";
  *cut = 0;
  size_t i = 0;
  while (i < len) {
    size_t hit = 0;
    for (size_t k = 0; k < n_secrets && !hit; k++) {
      size_t sl = secrets[k] ? strlen(secrets[k]) : 0;
      if (sl >= SECRET_MIN && sl <= len - i && memcmp(s + i, secrets[k], sl) == 0)
        hit = sl;
    }
    const char *piece = hit ? MARK : s + i;
    size_t plen = hit ? sizeof MARK - 1 : 1;
    if (out->len + plen > max) {
      *cut = 1;
      break;
    }
    /* NUL bytes (a body may hold them) would end the string early. */
    if (buf_append(out, piece, plen) != 0)
      return -1;
    if (!hit && out->data[out->len - 1] == '\0')
      out->data[out->len - 1] = ' ';
    i += hit ? hit : 1;
  }
  if (!out->data && buf_append(out, "", 0) != 0)
    return -1;
  return 0;
}

/* Text keeps the historical "METHOD PATH STATUS Nms" and adds key=value;
 * the path is escaped the same way, so it cannot start a new line. Written
 * with a cursor like the JSON line: at the default log_format this line is
 * on every request, and its six printf calls (and log_msg's) cost ~19k
 * instructions a request, 12% of a request's work. */

static size_t len_or(const char *s, size_t none) { return s ? strlen(s) : none; }

/* Plain path bytes: 0x21..0x7e but the backslash (the rest as \xNN). */
static int text_plain(unsigned char c) { return c >= 0x21 && c < 0x7f && c != '\\'; }

static char *text_path(char *o, const char *path, size_t n) {
  static const char HEX[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)path;
  size_t i = 0;
  while (i < n) {
    /* The plain run, eight bytes at a time (json_plain.h's tests): no
     * control byte or space, nothing >= 0x7f, no backslash. */
    size_t run = i;
    for (; run + 8 <= n; run += 8) {
      uint64_t w;
      memcpy(&w, p + run, 8);
      if (jp_has_less(w, 0x21) | (w & JP_HIGHS) | jp_has_zero(w ^ (JP_ONES * '\\')) |
          jp_has_zero(w ^ (JP_ONES * 0x7f)))
        break;
    }
    while (run < n && text_plain(p[run]))
      run++;
    memcpy(o, p + i, run - i);
    o += run - i;
    i = run;
    if (i < n) {
      memcpy(o, "\\x", 2);
      o[2] = HEX[p[i] >> 4];
      o[3] = HEX[p[i] & 15];
      o += 4;
      i++;
    }
  }
  return o;
}

size_t access_log_text_bound(const struct access_log_entry *e) {
  return 256 + len_or(e->method, 1) + 4 * len_or(e->path, 0) + len_or(e->request_id, 1) +
         (e->model ? strlen(e->model) + len_or(e->prediction_id, 1) : 0) +
         len_or(e->error_code, 0);
}

static char *put_str(char *o, const char *s, const char *none) {
  const char *v = s ? s : none;
  size_t n = strlen(v);
  memcpy(o, v, n);
  return o + n;
}

size_t access_log_text_to(char *out, const struct access_log_entry *e) {
  char *o = put_str(out, e->method, "-");
  *o++ = ' ';
  o = text_path(o, e->path ? e->path : "", len_or(e->path, 0));
  *o++ = ' ';
  o = num_i64(o, e->status);
  *o++ = ' ';
  o = PUT(num_i64(o, e->duration_ms), "ms");
  if (e->client_gone)
    o = PUT(o, " (client gone)");
  o = put_str(PUT(o, " rid="), e->request_id, "-");
  if (e->model) {
    o = put_str(PUT(o, " model="), e->model, "");
    o = num_i64(PUT(o, " stream="), e->stream);
    o = num_i64(PUT(o, " tokens="), e->prompt_tokens);
    o = num_i64(PUT(o, "/"), e->completion_tokens);
    o = num_i64(PUT(o, " retries="), e->retries);
    o = put_str(PUT(o, " pred="), e->prediction_id, "-");
  }
  if (e->error_code)
    o = put_str(PUT(o, " error="), e->error_code, "");
  *o++ = '\n';
  *o = '\0';
  return (size_t)(o - out);
}

int access_log_text(struct buf *out, const struct access_log_entry *e) {
  if (buf_reserve(out, access_log_text_bound(e)) != 0)
    return -1; /* no half line: nothing written */
  out->len += access_log_text_to(out->data + out->len, e);
  return 0;
}
