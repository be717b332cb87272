#include "oai_error.h"

#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void copy_field(char *dst, size_t cap, const char *src) {
  if (!src) {
    dst[0] = '\0';
    return;
  }
  size_t n = strlen(src);
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void oai_error_set(struct oai_error *e, int status, const char *type,
                   const char *code, const char *param, const char *fmt, ...) {
  e->status = status;
  copy_field(e->type, sizeof e->type, type);
  copy_field(e->code, sizeof e->code, code);
  copy_field(e->param, sizeof e->param, param);
  e->retry_after[0] = '\0';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

static int add_nullable(cJSON *obj, const char *key, const char *value) {
  cJSON *item = value && value[0] ? cJSON_CreateString(value) : cJSON_CreateNull();
  if (!item)
    return -1;
  cJSON_AddItemToObject(obj, key, item);
  return 0;
}

char *oai_error_json(const struct oai_error *e) {
  cJSON *root = cJSON_CreateObject();
  cJSON *err = cJSON_AddObjectToObject(root, "error");
  char *out = NULL;
  if (err && cJSON_AddStringToObject(err, "message", e->message) &&
      cJSON_AddStringToObject(err, "type", e->type[0] ? e->type : "server_error") &&
      add_nullable(err, "param", e->param) == 0 &&
      add_nullable(err, "code", e->code) == 0)
    out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return out;
}

char *oai_error_sse(const struct oai_error *e) {
  char *json = oai_error_json(e);
  if (!json)
    return NULL;
  struct buf b = BUF_INIT;
  int rc = buf_printf(&b, "data: %s\n\n", json);
  free(json);
  if (rc != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}
