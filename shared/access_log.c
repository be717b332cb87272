#include "access_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* A JSON string: quotes, backslash and every control byte escaped, so one
 * request is always one line whatever a client put in its path. */
static int json_str(struct buf *out, const char *s) {
  if (!s)
    return buf_append_str(out, "null");
  if (buf_append_char(out, '"') != 0)
    return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int rc;
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      rc = buf_append(out, esc, 2);
    } else if (*p < 0x20 || *p >= 0x7f) { /* bytes >= 0x80 too: the line stays valid JSON
                                           * whatever the path's encoding */
      static const char HEX[] = "0123456789abcdef";
      char esc[6] = {'\\', 'u', '0', '0', HEX[*p >> 4], HEX[*p & 15]};
      rc = buf_append(out, esc, 6);
    } else
      rc = buf_append_char(out, (char)*p);
    if (rc != 0)
      return -1;
  }
  return buf_append_char(out, '"');
}

static int iso_time(char *out, size_t len, double t) {
  time_t sec = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&sec, &tm))
    return -1;
  int ms = (int)((t - (double)sec) * 1000);
  return snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  ms < 0 ? 0 : ms > 999 ? 999 : ms) > 0
             ? 0
             : -1;
}

/* Decimal digits of v, appended without printf (a line has a dozen numbers). */
static int append_long(struct buf *out, long v) {
  char text[24], *p = text + sizeof text;
  unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
  do
    *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0)
    *--p = '-';
  return buf_append(out, p, (size_t)(text + sizeof text - p));
}

/* ,"key":v, or null when unknown (negative). */
static int json_long(struct buf *out, const char *key, long v) {
  return buf_append(out, ",\"", 2) != 0 || buf_append_str(out, key) != 0 ||
                 buf_append(out, "\":", 2) != 0 ||
                 (v < 0 ? buf_append(out, "null", 4) : append_long(out, v)) != 0
             ? -1
             : 0;
}

static int json_bool(struct buf *out, const char *key, int v) {
  return buf_append(out, ",\"", 2) != 0 || buf_append_str(out, key) != 0 ||
                 buf_append_str(out, v ? "\":true" : "\":false") != 0
             ? -1
             : 0;
}

int access_log_json(struct buf *out, const struct access_log_entry *e) {
  size_t start = out->len;
  char when[80] = "";
  iso_time(when, sizeof when, e->time_unix);
  int rc = buf_append_str(out, "{\"request_id\":") != 0 || json_str(out, e->request_id) != 0 ||
           buf_append_str(out, ",\"time\":\"") != 0 || buf_append_str(out, when) != 0 ||
           buf_append_str(out, "\",\"client\":") != 0 ||
           json_str(out, e->client) != 0 || buf_append_str(out, ",\"method\":") != 0 ||
           json_str(out, e->method) != 0 || buf_append_str(out, ",\"path\":") != 0 ||
           json_str(out, e->path) != 0 || buf_append_str(out, ",\"route\":") != 0 ||
           json_str(out, e->route) != 0 || buf_append_str(out, ",\"key_alias\":") != 0 ||
           json_str(out, e->key_alias) != 0 || buf_append_str(out, ",\"model\":") != 0 ||
           json_str(out, e->model) != 0 ||
           json_bool(out, "stream", e->stream) != 0 || json_long(out, "status", e->status) != 0 ||
           json_bool(out, "client_gone", e->client_gone) != 0 ||
           json_long(out, "prompt_tokens", e->prompt_tokens) != 0 ||
           json_long(out, "completion_tokens", e->completion_tokens) != 0 ||
           buf_printf(out, ",\"cost_usd\":%.9g", e->cost_usd) != 0 ||
           json_long(out, "ttfb_ms", e->ttfb_ms) != 0 ||
           json_long(out, "duration_ms", e->duration_ms < 0 ? 0 : e->duration_ms) != 0 ||
           json_long(out, "retries", e->retries) != 0 ||
           buf_append_str(out, ",\"finish_reason\":") != 0 ||
           json_str(out, e->finish_reason) != 0 ||
           buf_append_str(out, ",\"prediction_id\":") != 0 ||
           json_str(out, e->prediction_id) != 0 ||
           buf_append_str(out, ",\"error_code\":") != 0 || json_str(out, e->error_code) != 0 ||
           json_long(out, "upstream_ms", e->upstream_ms) != 0 ||
           (e->request_body &&
            (buf_append_str(out, ",\"request_body\":") != 0 ||
             json_str(out, e->request_body) != 0 ||
             buf_printf(out, ",\"request_body_truncated\":%s,\"answer\":",
                        e->request_body_cut ? "true" : "false") != 0 ||
             json_str(out, e->answer) != 0 ||
             buf_printf(out, ",\"answer_truncated\":%s", e->answer_cut ? "true" : "false") != 0)) ||
           buf_append_str(out, "}\n") != 0;
  if (rc) {
    out->len = start; /* no half line */
    if (out->data)
      out->data[start] = '\0';
    return -1;
  }
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
 * the path is escaped the same way, so it cannot start a new line. */
int access_log_text(struct buf *out, const struct access_log_entry *e) {
  size_t start = out->len;
  int rc = buf_printf(out, "%s ", e->method ? e->method : "-") != 0;
  for (const unsigned char *p = (const unsigned char *)(e->path ? e->path : ""); !rc && *p; p++)
    rc = *p < 0x21 || *p >= 0x7f || *p == '\\' ? buf_printf(out, "\\x%02x", *p)
                                                : buf_append_char(out, (char)*p);
  rc = rc || buf_printf(out, " %d %ldms%s rid=%s", e->status, e->duration_ms,
                        e->client_gone ? " (client gone)" : "",
                        e->request_id ? e->request_id : "-") != 0;
  if (!rc && e->model)
    rc = buf_printf(out, " model=%s stream=%d tokens=%ld/%ld retries=%d pred=%s", e->model,
                    e->stream, e->prompt_tokens, e->completion_tokens, e->retries,
                    e->prediction_id ? e->prediction_id : "-") != 0;
  if (!rc && e->error_code)
    rc = buf_printf(out, " error=%s", e->error_code) != 0;
  rc = rc || buf_append_char(out, '\n') != 0;
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
    return -1;
  }
  return 0;
}
