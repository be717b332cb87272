/* Configuration: one table of options (config.c) drives parsing of the
 * config file, environment variables, command-line flags, validation,
 * defaults and --help. Precedence: defaults < file < env < flags. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "prompt.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct config {
  char *listen_host; /* from `listen` */
  int listen_port;
  char *upstream;    /* base URL without trailing slash */
  char *replicate_api_token; /* "" = pass the client's key through */
  char *model;       /* owner/name */
  enum prompt_format prompt_format;
  long workers;      /* 0 = one per CPU core */
  long connect_timeout_ms;
  long request_timeout_ms;
  long poll_interval_ms;
  long keepalive_interval_ms;
  long shutdown_grace_ms;
  long long max_body_size;
  long long connection_memory; /* libmicrohttpd's per-connection pool */
  long max_connections;
  enum log_level log_level;
};

#define CONFIG_ERR_MAX 256

/* Fill every option with its default. Returns 0 or -1 (OOM). */
int config_init(struct config *c);
void config_free(struct config *c);

/* Set one option from text. Returns 0, or -1 with a message in err. */
int config_set(struct config *c, const char *key, const char *value,
               char *err, size_t errlen);

/* Read a `key = value` file (`#` comments, blank lines). Errors name the
 * file and line. Returns 0 or -1. */
int config_load_file(struct config *c, const char *path, char *err,
                     size_t errlen);

/* Apply REPLICATE_PROXY_<KEY> variables, then REPLICATE_API_TOKEN when no
 * token was configured. getenv_fn is getenv in production. */
int config_load_env(struct config *c, char *(*getenv_fn)(const char *),
                    char *err, size_t errlen);

/* Is `name` an option (so `--name value` is a flag)? */
int config_has_option(const char *name);

void config_print_help(FILE *out);

/* Parse helpers shared with tests: "500ms", "10s", "5m", "2h", bare
 * number = seconds; "8MiB", "512KiB", "1GiB", "100k", bare = bytes. */
int config_parse_duration_ms(const char *s, long *out);
int config_parse_size(const char *s, long long *out);

#endif
