/* Configuration: one table of options (config.c) drives parsing of the
 * config file, environment variables, command-line flags, validation,
 * defaults and --help. Precedence: defaults < file < env < flags. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "prompt.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum otlp_protocol { OTLP_HTTP_PROTOBUF, OTLP_HTTP_JSON };

/* A comma-separated option value, split and trimmed ("" = empty list). */
struct str_list {
  char **items;
  size_t n;
};

/* Is s (length len) one of the list's items? Exact, case-sensitive. */
int str_list_has(const struct str_list *l, const char *s, size_t len);

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
  long long connection_memory; /* ignored (was libmicrohttpd's pool); old files load */
  long max_connections;
  enum log_level log_level;

  /* Slow and hostile clients (hardening). */
  long client_header_timeout_ms; /* whole header, not restarted per byte */
  long client_body_timeout_ms;   /* whole body, from the end of the header */
  long client_send_timeout_ms;   /* a client that reads nothing for this long */
  long keepalive_timeout_ms;     /* idle keep-alive connection */
  long long max_header_size;     /* request line + headers (431/414 above) */
  long long client_output_buffer; /* per connection; upstream paused above */
  long long max_upstream_reply;  /* one Replicate JSON reply (502 above) */
  long max_n;                    /* upper bound of `n` */
  int reuse_port;                /* share the port with another process */

  /* Browser safety. */
  struct str_list cors_origins;  /* origins allowed to call; "*" = any */
  struct str_list server_names;  /* Host values accepted besides the listen address */

  /* Team gateway. */
  char *master_key;              /* "" = no gateway; clients pass tokens through */
  char *database;                /* SQLite file for keys and the ledger */
  char *database_url;            /* postgresql://...: shared store, wins over database */
  char *redis_url;               /* redis://...: limits shared by replicas */
  int redis_fail_closed;         /* redis_failure: 0 open (serve, count locally), 1 closed (503) */
  int open_gateway;              /* a server token on a public address without master_key */
  double input_price_per_mtok;   /* USD per million prompt tokens */
  double output_price_per_mtok;  /* USD per million completion tokens */

  /* Deployment. */
  long drain_delay_ms;           /* on SIGTERM: /ready fails, still serving */

  /* Client dialects. */
  struct str_list extra_models;  /* names/globs /v1/messages and /v1/responses map to `model` */

  /* Upstream TLS. */
  char *upstream_ca_file;        /* PEM CA bundle to trust instead of the system's; "" = system */

  /* Operations. */
  enum log_format log_format;    /* access log lines: text or JSON */
  long upstream_max_retries;     /* create retries before the client sees an error */
  long circuit_cooldown_ms;      /* open circuit: refuse creates this long */
  char *otlp_endpoint;           /* OTLP/HTTP collector base URL; "" = no traces */
  enum otlp_protocol otlp_protocol; /* the export's encoding */
  char *otlp_service_name;       /* service.name of the spans */
  char *otlp_headers;            /* "name=value,...": sent with every export (secret) */
  double otlp_sample_ratio;      /* share of new traces recorded, 0..1 */
  int otlp_propagate;            /* calls to Replicate carry traceparent */
  char *metrics_listen;          /* "host:port": /metrics alone there, not on the main port */
  int log_bodies;                /* the JSON access line carries the body and the answer */
};

#define CONFIG_ERR_MAX 256

/* Fill every option with its default. Returns 0 or -1 (OOM). */
int config_init(struct config *c);
void config_free(struct config *c);

/* Set one option from text. Returns 0, or -1 with a message in err; the
 * message never repeats the value of a secret option. */
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

/* Is the option secret (its value never printed)? 0 for unknown names. */
int config_is_secret(const char *name);

/* Names of the options whose values differ between a and b, comma-separated
 * into out (secret values are not shown, only names). *needs_restart is set
 * when one of them cannot change without a restart. Returns the count. */
int config_diff(const struct config *a, const struct config *b, char *out,
                size_t outlen, int *needs_restart);

/* Copy from's values of the options that need a restart into `to` (a
 * reloaded config keeps the running values of those). Returns 0 or -1 (OOM). */
int config_keep_restart(struct config *to, const struct config *from);

/* Parse helpers shared with tests: "500ms", "10s", "5m", "2h", bare
 * number = seconds; "8MiB", "512KiB", "1GiB", "100k", bare = bytes. */
int config_parse_duration_ms(const char *s, long *out);
int config_parse_size(const char *s, long long *out);

#endif
