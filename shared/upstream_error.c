/* Replicate failures as OpenAI errors. Replicate answers errors with RFC 7807
 * problem+json ({"title","detail","status",...}); its `detail` is the useful,
 * human text and is passed on verbatim behind a "Replicate: " prefix so the
 * client can tell whose complaint it is. Bodies that are not JSON (an HTML
 * page from a load balancer) are never echoed. */
#include "upstream_error.h"

#include <cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* First matching row wins; client_status 0 means "same as upstream". */
static const struct http_row {
  int lo, hi;
  int client_status;
  const char *type;
  const char *code;
  int pass_retry_after; /* only a 429 makes Retry-After meaningful */
} http_rows[] = {
    {401, 401, 0, "invalid_request_error", "invalid_api_key", 0},
    {403, 403, 0, "invalid_request_error", "invalid_api_key", 0},
    {402, 402, 402, "insufficient_quota", "insufficient_quota", 0},
    {404, 404, 404, "invalid_request_error", "not_found", 0},
    {422, 422, 400, "invalid_request_error", "upstream_validation_error", 0},
    {429, 429, 429, "rate_limit_error", "rate_limit_exceeded", 1},
    {400, 499, 400, "invalid_request_error", "upstream_error", 0},
    {INT_MIN, INT_MAX, 502, "server_error", "upstream_error", 0},
};

#define PREFIX "Replicate: "

/* How many bytes of s (n bytes) fit in max without splitting a UTF-8
 * character: oai_error_set truncates blindly, which could leave half a
 * character at the end of the message. */
static int utf8_fit(const char *s, size_t n, size_t max) {
  if (n <= max)
    return (int)n;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
    max--;
  return (int)max;
}

/* Room for the variable part of a message after a prefix of plen bytes. */
static size_t room(const struct oai_error *out, size_t plen) {
  return sizeof out->message - 1 - plen;
}

/* Replicate's own words: `detail`, else `title`; a non-string detail (some
 * validation errors are lists) is shown as its JSON text. Malloc'd or NULL. */
static char *problem_text(const char *body, size_t len) {
  if (!body || len == 0)
    return NULL;
  cJSON *root = cJSON_ParseWithLength(body, len);
  char *text = NULL;
  if (cJSON_IsObject(root)) {
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(root, "title");
    if (cJSON_IsString(detail) && detail->valuestring[0])
      text = strdup(detail->valuestring);
    else if (detail && !cJSON_IsNull(detail) && !cJSON_IsString(detail))
      text = cJSON_PrintUnformatted(detail);
    else if (cJSON_IsString(title) && title->valuestring[0])
      text = strdup(title->valuestring);
  }
  cJSON_Delete(root);
  return text;
}

/* Retry-After goes back out as a header: only copy a value that fits whole
 * and is plain printable ASCII (no CR/LF smuggled into our reply). */
static void copy_retry_after(struct oai_error *out, const char *v) {
  if (!v)
    return;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (n == 0 || n >= sizeof out->retry_after)
    return;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x20 || v[i] > 0x7E)
      return;
  memcpy(out->retry_after, v, n);
  out->retry_after[n] = '\0';
}

void upstream_error_from_http(int status, const char *body, size_t len,
                              const char *retry_after, struct oai_error *out) {
  const struct http_row *row = http_rows;
  while (status < row->lo || status > row->hi)
    row++; /* the last row matches everything */
  int client = row->client_status ? row->client_status : status;
  char *text = problem_text(body, len);
  if (text) {
    size_t n = strlen(text);
    oai_error_set(out, client, row->type, row->code, NULL, PREFIX "%.*s",
                  utf8_fit(text, n, room(out, strlen(PREFIX))), text);
    free(text);
  } else {
    oai_error_set(out, client, row->type, row->code, NULL,
                  PREFIX "the request failed with HTTP status %d", status);
  }
  if (row->pass_retry_after)
    copy_retry_after(out, retry_after);
}

/* How a prediction ended, as the client hears it. */
static const struct pred_row {
  enum pred_status status;
  const char *code;
  const char *label;
} pred_rows[] = {
    {PRED_FAILED, "prediction_failed", "Prediction failed"},
    {PRED_CANCELED, "prediction_canceled", "Prediction canceled"},
    {PRED_ABORTED, "prediction_aborted", "Prediction aborted"},
};

void upstream_error_from_prediction(const struct prediction *p,
                                    struct oai_error *out) {
  const struct pred_row *row = NULL;
  for (size_t i = 0; i < sizeof pred_rows / sizeof pred_rows[0]; i++)
    if (pred_rows[i].status == p->status)
      row = &pred_rows[i];
  if (!row) {
    oai_error_set(out, 502, "server_error", "upstream_error", NULL,
                  "Prediction ended with status %s",
                  prediction_status_name(p->status));
    return;
  }
  if (p->error && p->error[0]) {
    size_t plen = strlen(row->label) + 2;
    oai_error_set(out, 502, "server_error", row->code, NULL, "%s: %.*s",
                  row->label,
                  utf8_fit(p->error, strlen(p->error), room(out, plen)),
                  p->error);
  } else {
    oai_error_set(out, 502, "server_error", row->code, NULL, "%s",
                  row->label);
  }
}
