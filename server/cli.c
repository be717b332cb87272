#include "cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/config.h"
#include "admin.h"
#include "gateway.h"
#include "store/store.h"

/* Subcommand → admin operation. */
static const struct {
  const char *cmd, *sub, *op;
} COMMANDS[] = {
    {"keys", "generate", "key/generate"},     {"keys", "list", "key/list"},
    {"keys", "info", "key/info"},             {"keys", "update", "key/update"},
    {"keys", "delete", "key/delete"},         {"keys", "block", "key/block"},
    {"keys", "unblock", "key/unblock"},       {"keys", "regenerate", "key/regenerate"},
    {"spend", "logs", "spend/logs"},          {"spend", NULL, "global/spend/report"},
};

/* How a flag's text becomes a JSON value. */
enum arg_kind { ARG_STRING, ARG_NUMBER, ARG_LIST, ARG_JSON, ARG_BOOL };
static const struct {
  const char *name;
  enum arg_kind kind;
} ARG_KINDS[] = {
    {"max_budget", ARG_NUMBER}, {"rpm_limit", ARG_NUMBER}, {"tpm_limit", ARG_NUMBER},
    {"max_parallel_requests", ARG_NUMBER}, {"models", ARG_LIST}, {"keys", ARG_LIST},
    {"metadata", ARG_JSON}, {"blocked", ARG_BOOL}, {"return_full_object", ARG_BOOL},
};

int cli_is_command(const char *arg) {
  return strcmp(arg, "keys") == 0 || strcmp(arg, "spend") == 0;
}

static int usage(const char *msg, const char *arg) {
  fprintf(stderr, "replicate-proxy: %s%s\n", msg, arg ? arg : "");
  fprintf(stderr,
          "usage: replicate-proxy keys generate|list|info|update|delete|block|unblock|regenerate"
          " [--config FILE] [--database FILE] [--key K] [--key_alias A] [--models m1,m2]\n"
          "         [--max_budget USD] [--budget_duration D] [--duration D] [--rpm_limit N]"
          " [--tpm_limit N] [--max_parallel_requests N] [--metadata JSON] [--blocked true]\n"
          "       replicate-proxy spend [logs] [--group_by api_key|model] [--start_date D]"
          " [--end_date D] [--api_key K]\n");
  return 2;
}

static cJSON *arg_value(const char *name, const char *text) {
  enum arg_kind kind = ARG_STRING;
  for (size_t i = 0; i < sizeof ARG_KINDS / sizeof ARG_KINDS[0]; i++)
    if (strcmp(ARG_KINDS[i].name, name) == 0)
      kind = ARG_KINDS[i].kind;
  char *end;
  switch (kind) {
  case ARG_NUMBER: {
    double v = strtod(text, &end);
    /* Not a number: passed on as text, so the answer names the field. */
    return *text && !*end && isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateString(text);
  }
  case ARG_LIST: {
    cJSON *arr = cJSON_CreateArray();
    const char *p = text;
    while (arr && *p) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char *item = strndup(p, len);
      if (item && len)
        cJSON_AddItemToArray(arr, cJSON_CreateString(item));
      free(item);
      p += len + (comma != NULL);
    }
    return arr;
  }
  case ARG_JSON: {
    cJSON *v = cJSON_Parse(text);
    return v ? v : cJSON_CreateString(text);
  }
  case ARG_BOOL:
    return strcmp(text, "true") == 0    ? cJSON_CreateTrue()
           : strcmp(text, "false") == 0 ? cJSON_CreateFalse()
                                        : cJSON_CreateString(text);
  case ARG_STRING:
    break;
  }
  return cJSON_CreateString(text);
}

int cli_main(int argc, char **argv) {
  const char *cmd = argv[1], *sub = argc > 2 && strncmp(argv[2], "--", 2) != 0 ? argv[2] : NULL;
  const char *op = NULL;
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (strcmp(COMMANDS[i].cmd, cmd) == 0 &&
        (COMMANDS[i].sub ? sub && strcmp(COMMANDS[i].sub, sub) == 0 : !sub))
      op = COMMANDS[i].op;
  if (!op)
    return usage("unknown command: ", sub ? sub : cmd);
  const char *config_path = NULL, *database = NULL;
  cJSON *args = cJSON_CreateObject();
  int status = args ? -1 : 1;
  for (int i = sub ? 3 : 2; status < 0 && i < argc; i += 2) {
    if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
      status = usage("expected --name value, got ", argv[i]);
      break;
    }
    const char *name = argv[i] + 2, *value = argv[i + 1];
    if (strcmp(name, "config") == 0) {
      config_path = value;
    } else if (strcmp(name, "database") == 0) {
      database = value;
    } else if (strcmp(name, "key") == 0 && strcmp(op, "key/delete") == 0) {
      cJSON *keys = cJSON_GetObjectItemCaseSensitive(args, "keys");
      if (!keys)
        keys = cJSON_AddArrayToObject(args, "keys");
      cJSON_AddItemToArray(keys, cJSON_CreateString(value));
    } else {
      cJSON *v = arg_value(name, value);
      if (!v)
        status = 1;
      else
        cJSON_AddItemToObject(args, name, v);
    }
  }
  struct config cfg;
  char err[CONFIG_ERR_MAX + 64];
  if (status < 0 && config_init(&cfg) != 0)
    status = 1;
  else if (status < 0) {
    if ((config_path && config_load_file(&cfg, config_path, err, sizeof err) != 0) ||
        config_load_env(&cfg, getenv, err, sizeof err) != 0 ||
        (database && config_set(&cfg, "database", database, err, sizeof err) != 0)) {
      fprintf(stderr, "replicate-proxy: %s\n", err);
      status = 2;
    }
    char *path = status < 0 ? gateway_db_path(&cfg, config_path) : NULL;
    struct store *st = path ? store_open(path, 5000, err, sizeof err) : NULL;
    unsigned char secret[KEYS_SECRET_BYTES];
    if (status < 0 && (!st || store_secret(st, secret) != 0)) {
      fprintf(stderr, "replicate-proxy: %s\n", st ? "cannot read the database secret" : err);
      status = 1;
    }
    if (status < 0) {
      struct admin_ctx c = {st, secret, NULL};
      char *out = NULL;
      int changed;
      struct oai_error e;
      if (admin_run(&c, op, args, &out, &changed, &e) == 0) {
        printf("%s\n", out);
        status = 0;
      } else {
        char *json = oai_error_json(&e);
        fprintf(stderr, "%s\n", json ? json : e.message);
        free(json);
        status = 1;
      }
      free(out);
    }
    memset(secret, 0, sizeof secret);
    store_close(st);
    free(path);
    config_free(&cfg);
  }
  cJSON_Delete(args);
  return status;
}
