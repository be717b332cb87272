#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

enum opt_type {
  OPT_HOSTPORT,
  OPT_URL,
  OPT_STRING,
  OPT_MODEL,
  OPT_INT,
  OPT_DURATION,
  OPT_SIZE,
  OPT_PROMPT_FORMAT,
  OPT_LOG_LEVEL,
  OPT_BOOL,
  OPT_LIST,
  OPT_PRICE,
  OPT_RATIO,
  OPT_LOG_FORMAT,
  OPT_FAILURE_MODE,
  OPT_OTLP_PROTOCOL,
};

/* Row flags. */
#define OPT_SECRET 1u  /* value never printed: not in errors, diffs or --help */
#define OPT_RESTART 2u /* a change takes a restart (SIGHUP cannot apply it) */

struct option_row {
  const char *name;
  enum opt_type type;
  size_t offset; /* of the main field in struct config */
  const char *def;
  long long min, max; /* for numbers, durations (ms) and sizes */
  unsigned flags;
  const char *help;
};

#define OFF(field) offsetof(struct config, field)

/* The one table of options. */
static const struct option_row OPTIONS[] = {
    {"listen", OPT_HOSTPORT, OFF(listen_host), "127.0.0.1:8080", 0, 0, OPT_RESTART,
     "HOST:PORT to serve the OpenAI API on ([::1]:8080 for IPv6; port 0 picks one)"},
    {"reuse_port", OPT_BOOL, OFF(reuse_port), "false", 0, 0, OPT_RESTART,
     "share the port with another process already listening on it (SO_REUSEPORT); "
     "off, a busy port is an error"},
    {"upstream", OPT_URL, OFF(upstream), "https://api.replicate.com", 0, 0, OPT_RESTART,
     "Replicate API base URL"},
    {"replicate_api_token", OPT_STRING, OFF(replicate_api_token), "", 0, 0, OPT_SECRET,
     "token used upstream; empty = pass each client's Bearer key through "
     "(also env REPLICATE_API_TOKEN)"},
    {"model", OPT_MODEL, OFF(model), "deepseek-ai/deepseek-v3.1", 0, 0, 0,
     "Replicate model (owner/name) every alias routes to"},
    {"prompt_format", OPT_PROMPT_FORMAT, OFF(prompt_format), "plain", 0, 0, 0,
     "how a conversation becomes the prompt: plain|deepseek"},
    {"workers", OPT_INT, OFF(workers), "1", 0, 256, OPT_RESTART,
     "event-loop threads; 0 = one per CPU the process may use"},
    {"connect_timeout", OPT_DURATION, OFF(connect_timeout_ms), "10s", 1, 600000, 0,
     "upstream connect timeout"},
    {"request_timeout", OPT_DURATION, OFF(request_timeout_ms), "10m", 1, 86400000, 0,
     "longest wait for a whole prediction (504 after it)"},
    {"poll_interval", OPT_DURATION, OFF(poll_interval_ms), "500ms", 1, 60000, 0,
     "longest gap between the starts of two polls of an unfinished prediction"},
    {"keepalive_interval", OPT_DURATION, OFF(keepalive_interval_ms), "5s", 1, 600000, 0,
     "SSE keep-alive comment period while a stream is idle"},
    {"shutdown_grace", OPT_DURATION, OFF(shutdown_grace_ms), "5s", 0, 3600000, 0,
     "on SIGTERM, how long running requests may take to finish"},
    {"drain_delay", OPT_DURATION, OFF(drain_delay_ms), "0s", 0, 600000, 0,
     "on SIGTERM, how long /ready fails while new requests are still served"},
    {"max_body_size", OPT_SIZE, OFF(max_body_size), "8MiB", 1, 1LL << 30, 0,
     "largest request body accepted (413 above)"},
    {"connection_memory", OPT_SIZE, OFF(connection_memory), "8KiB", 4096, 1 << 20, OPT_RESTART,
     "ignored; kept so old files load (headers: max_header_size)"},
    {"max_header_size", OPT_SIZE, OFF(max_header_size), "8KiB", 1024, 1 << 20, 0,
     "largest request line plus headers (414/431 above)"},
    {"max_connections", OPT_INT, OFF(max_connections), "16384", 1, 1000000, OPT_RESTART,
     "client connections in all, divided among the workers"},
    {"client_header_timeout", OPT_DURATION, OFF(client_header_timeout_ms), "30s", 1, 3600000, 0,
     "time to send the whole request header (not restarted by each byte)"},
    {"client_body_timeout", OPT_DURATION, OFF(client_body_timeout_ms), "60s", 1, 3600000, 0,
     "time to send the whole request body once the header is in"},
    {"client_send_timeout", OPT_DURATION, OFF(client_send_timeout_ms), "60s", 1, 3600000, 0,
     "a client that reads nothing of its answer for this long is cut off"},
    {"keepalive_timeout", OPT_DURATION, OFF(keepalive_timeout_ms), "75s", 1, 3600000, 0,
     "idle keep-alive connection lifetime"},
    {"client_output_buffer", OPT_SIZE, OFF(client_output_buffer), "256KiB", 4096, 1LL << 30, 0,
     "answer bytes held per connection before the upstream transfer is paused"},
    {"max_upstream_reply", OPT_SIZE, OFF(max_upstream_reply), "16MiB", 65536, 1LL << 30, 0,
     "largest Replicate JSON reply read (502 above)"},
    {"max_n", OPT_INT, OFF(max_n), "8", 1, 128, 0,
     "largest `n` (choices per request, one prediction each)"},
    {"cors_origins", OPT_LIST, OFF(cors_origins), "", 0, 0, 0,
     "comma-separated browser origins allowed to call (https://app.example); "
     "empty = none, * = any"},
    {"server_names", OPT_LIST, OFF(server_names), "", 0, 0, 0,
     "comma-separated Host names served besides the listen address and localhost"},
    {"master_key", OPT_STRING, OFF(master_key), "", 0, 0, OPT_SECRET | OPT_RESTART,
     "gateway mode: clients need a virtual key or this key (also env "
     "REPLICATE_PROXY_MASTER_KEY)"},
    {"database", OPT_STRING, OFF(database), "", 0, 0, OPT_RESTART,
     "SQLite file for keys and the ledger; empty = replicate-proxy.db beside the config file"},
    {"open_gateway", OPT_BOOL, OFF(open_gateway), "false", 0, 0, 0,
     "allow a server-side token on a non-loopback listen address without master_key"},
    {"input_price_per_mtok", OPT_PRICE, OFF(input_price_per_mtok), "0.672", 0, 0, 0,
     "USD per million prompt tokens"},
    {"output_price_per_mtok", OPT_PRICE, OFF(output_price_per_mtok), "2.016", 0, 0, 0,
     "USD per million completion tokens"},
    {"log_level", OPT_LOG_LEVEL, OFF(log_level), "info", 0, 0, 0,
     "error|warn|info|debug"},
    {"extra_models", OPT_LIST, OFF(extra_models), "", 0, 0, 0,
     "comma-separated further model names or globs (claude-*) that /v1/messages and "
     "/v1/responses serve with the configured model; empty = none"},
    {"upstream_ca_file", OPT_STRING, OFF(upstream_ca_file), "", 0, 0, OPT_RESTART,
     "PEM file of CA certificates trusted for Replicate's hosts instead of the system's "
     "(for a private or test upstream; never needed for api.replicate.com)"},
    {"log_format", OPT_LOG_FORMAT, OFF(log_format), "text", 0, 0, 0,
     "access log: text, or json (one object per request, with its X-Request-Id)"},
    {"upstream_max_retries", OPT_INT, OFF(upstream_max_retries), "2", 0, 10, 0,
     "times a create that failed without creating anything (connect error, 429, 5xx) "
     "is sent again, with full-jitter backoff, before the client sees an error"},
    {"circuit_cooldown", OPT_DURATION, OFF(circuit_cooldown_ms), "30s", 0, 3600000, OPT_RESTART,
     "after Replicate kept failing (5 creates in a row, or half of the last 20 within a "
     "minute), creates are refused with 503 this long, then one probe goes through; "
     "0 = no circuit breaker"},
    {"metrics_listen", OPT_STRING, OFF(metrics_listen), "", 0, 0, OPT_RESTART,
     "HOST:PORT to serve /metrics on alone, with no key asked (for a private interface); "
     "when set, the main port no longer serves /metrics; empty = /metrics on the main "
     "port (behind master_key in gateway mode)"},
    {"log_bodies", OPT_BOOL, OFF(log_bodies), "false", 0, 0, 0,
     "log_format = json: the access line also carries the request body and the answer "
     "text (each cut at 4 KiB, marked); keys and tokens are redacted"},
    {"database_url", OPT_STRING, OFF(database_url), "", 0, 0, OPT_SECRET | OPT_RESTART,
     "postgresql://user:pass@host/db: keys and the ledger in PostgreSQL, shared by "
     "several replicas (instead of the database file)"},
    {"redis_url", OPT_STRING, OFF(redis_url), "", 0, 0, OPT_SECRET | OPT_RESTART,
     "redis://[:password@]host[:port][/db]: rpm, tpm, parallel and budget limits "
     "shared by several replicas"},
    {"redis_failure", OPT_FAILURE_MODE, OFF(redis_fail_closed), "open", 0, 0, 0,
     "while Redis is down: open = serve, counting limits per replica; closed = 503"},
    {"otlp_endpoint", OPT_URL, OFF(otlp_endpoint), "", 0, 0, OPT_RESTART,
     "OpenTelemetry collector (http://host:4318): traces go to its /v1/traces as OTLP/HTTP "
     "(otlp_protocol), batched; dropped and counted while it is down; empty = no tracing"},
    {"otlp_protocol", OPT_OTLP_PROTOCOL, OFF(otlp_protocol), "http/protobuf", 0, 0, OPT_RESTART,
     "the export's encoding: http/protobuf (the OpenTelemetry default: half the bytes of JSON, "
     "about half the instructions to write) "
     "or http/json; also env OTEL_EXPORTER_OTLP_PROTOCOL"},
    {"otlp_service_name", OPT_STRING, OFF(otlp_service_name), "replicate-proxy", 0, 0,
     OPT_RESTART, "service.name of the exported traces"},
    {"otlp_headers", OPT_STRING, OFF(otlp_headers), "", 0, 0, OPT_SECRET | OPT_RESTART,
     "headers sent with every trace export, name=value pairs separated by commas "
     "(Authorization=Bearer x,X-Tenant=y), values %-decoded; for hosted collectors "
     "(also env OTEL_EXPORTER_OTLP_HEADERS); never logged"},
    {"otlp_sample_ratio", OPT_RATIO, OFF(otlp_sample_ratio), "1", 0, 0, OPT_RESTART,
     "share of traces started here that are recorded and exported, 0 to 1 (by trace id, "
     "as OpenTelemetry's traceidratio sampler); a client's traceparent decides for its own "
     "trace; also env OTEL_TRACES_SAMPLER_ARG"},
    {"otlp_propagate", OPT_BOOL, OFF(otlp_propagate), "false", 0, 0, OPT_RESTART,
     "calls to Replicate carry a traceparent naming their span; off by default: Replicate "
     "joins no trace of yours, and libcurl spends ~4% of a call's CPU on the header"},
};

#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static const struct option_row *find_option(const char *name) {
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strcmp(OPTIONS[i].name, name) == 0)
      return &OPTIONS[i];
  return NULL;
}

int config_has_option(const char *name) { return find_option(name) != NULL; }

/* Whole-string signed integer; no atoi (it cannot report errors). */
static int parse_ll(const char *s, const char **end, long long *out) {
  if (!isdigit((unsigned char)*s) && !(*s == '-' && isdigit((unsigned char)s[1])))
    return -1;
  errno = 0;
  char *e;
  long long v = strtoll(s, &e, 10);
  if (errno)
    return -1;
  *end = e;
  *out = v;
  return 0;
}

struct unit {
  const char *suffix;
  long long mult;
};

static int parse_with_units(const char *s, const struct unit *units,
                            long long *out) {
  const char *end;
  long long v;
  if (parse_ll(s, &end, &v) != 0 || v < 0)
    return -1;
  for (const struct unit *u = units; u->suffix; u++) {
    if (strcmp(end, u->suffix) == 0) {
      if (v > LLONG_MAX / u->mult)
        return -1;
      *out = v * u->mult;
      return 0;
    }
  }
  return -1;
}

static const struct unit DURATION_UNITS[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
static const struct unit SIZE_UNITS[] = {
    {"", 1},          {"B", 1},           {"k", 1000},        {"K", 1000},
    {"KB", 1000},     {"KiB", 1024},      {"M", 1000000},     {"MB", 1000000},
    {"MiB", 1 << 20}, {"G", 1000000000},  {"GB", 1000000000}, {"GiB", 1 << 30},
    {NULL, 0}};

int config_parse_duration_ms(const char *s, long *out) {
  long long v;
  if (parse_with_units(s, DURATION_UNITS, &v) != 0 || v > LONG_MAX)
    return -1;
  *out = (long)v;
  return 0;
}

int config_parse_size(const char *s, long long *out) {
  return parse_with_units(s, SIZE_UNITS, out);
}

static int replace_string(char **slot, const char *value, size_t len) {
  char *copy = strndup(value, len);
  if (!copy)
    return -1;
  free(*slot);
  *slot = copy;
  return 0;
}

static int set_hostport(struct config *c, const char *v, char *err, size_t errlen) {
  const char *colon = strrchr(v, ':');
  const char *host = v;
  size_t host_len = colon ? (size_t)(colon - v) : 0;
  if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
    host++;
    host_len -= 2;
  }
  const char *end;
  long long port;
  if (!colon || host_len == 0 || parse_ll(colon + 1, &end, &port) != 0 ||
      *end || port < 0 || port > 65535) {
    set_err(err, errlen, "expected HOST:PORT, got '%s'", v);
    return -1;
  }
  if (replace_string(&c->listen_host, host, host_len) != 0)
    return -1;
  c->listen_port = (int)port;
  return 0;
}

static int parse_url(struct config *c, const struct option_row *o, void *field,
                     const char *v, char *err, size_t errlen) {
  (void)c;
  size_t len = strlen(v);
  if (!len && !o->def[0]) /* an optional URL (empty default): empty turns it off */
    return replace_string(field, v, 0);
  if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
    set_err(err, errlen, "expected an http:// or https:// URL, got '%s'", v);
    return -1;
  }
  while (len > 8 && v[len - 1] == '/')
    len--;
  return replace_string(field, v, len);
}

static int parse_model(struct config *c, const struct option_row *o, void *field,
                       const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  const char *slash = strchr(v, '/');
  if (!slash || slash == v || !slash[1] || strchr(slash + 1, '/') ||
      strpbrk(v, " \t?#")) {
    set_err(err, errlen, "expected a Replicate model as owner/name, got '%s'", v);
    return -1;
  }
  return replace_string(field, v, strlen(v));
}

static int parse_string(struct config *c, const struct option_row *o, void *field,
                        const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  (void)err;
  (void)errlen;
  return replace_string(field, v, strlen(v));
}

static int parse_int(struct config *c, const struct option_row *o, void *field,
                     const char *v, char *err, size_t errlen) {
  (void)c;
  const char *end;
  long long n;
  if (parse_ll(v, &end, &n) != 0 || *end || n < o->min || n > o->max) {
    set_err(err, errlen, "expected a whole number from %lld to %lld, got '%s'",
            o->min, o->max, v);
    return -1;
  }
  *(long *)field = (long)n;
  return 0;
}

static int parse_duration(struct config *c, const struct option_row *o, void *field,
                          const char *v, char *err, size_t errlen) {
  (void)c;
  long ms;
  if (config_parse_duration_ms(v, &ms) != 0 || ms < o->min || ms > o->max) {
    set_err(err, errlen,
            "expected a duration such as 500ms, 10s, 5m (%lldms to %lldms), got '%s'",
            o->min, o->max, v);
    return -1;
  }
  *(long *)field = ms;
  return 0;
}

static int parse_size(struct config *c, const struct option_row *o, void *field,
                      const char *v, char *err, size_t errlen) {
  (void)c;
  long long n;
  if (config_parse_size(v, &n) != 0 || n < o->min || n > o->max) {
    set_err(err, errlen, "expected a size such as 8MiB or 512KiB (%lld to %lld bytes), got '%s'",
            o->min, o->max, v);
    return -1;
  }
  *(long long *)field = n;
  return 0;
}

static int parse_prompt_format(struct config *c, const struct option_row *o, void *field,
                               const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  if (prompt_format_parse(v, field) != 0) {
    set_err(err, errlen, "expected one of %s, got '%s'", prompt_format_names(), v);
    return -1;
  }
  return 0;
}

/* The index of v among names (an enum's values in order), or -1 with
 * "expected a|b|c, got 'v'". */
static int parse_choice(const char *const *names, size_t n, const char *v, char *err,
                        size_t errlen) {
  char expected[128] = "";
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(v, names[i]) == 0)
      return (int)i;
    int w = snprintf(expected + used, sizeof expected - used, "%s%s", i ? "|" : "", names[i]);
    if (w > 0 && (size_t)w < sizeof expected - used)
      used += (size_t)w;
  }
  set_err(err, errlen, "expected %s, got '%s'", expected, v);
  return -1;
}

static const char *const LOG_LEVELS[] = {"error", "warn", "info", "debug"};

static int parse_log_level(struct config *c, const struct option_row *o, void *field,
                           const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  int i = parse_choice(LOG_LEVELS, sizeof LOG_LEVELS / sizeof LOG_LEVELS[0], v, err, errlen);
  if (i < 0)
    return -1;
  *(enum log_level *)field = (enum log_level)i;
  return 0;
}

static const char *const LOG_FORMATS[] = {"text", "json"};

static int parse_log_format(struct config *c, const struct option_row *o, void *field,
                            const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  int i = parse_choice(LOG_FORMATS, sizeof LOG_FORMATS / sizeof LOG_FORMATS[0], v, err, errlen);
  if (i < 0)
    return -1;
  *(enum log_format *)field = (enum log_format)i;
  return 0;
}

static const char *const OTLP_PROTOCOLS[] = {"http/protobuf", "http/json"};

static int parse_otlp_protocol(struct config *c, const struct option_row *o, void *field,
                               const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  int i = parse_choice(OTLP_PROTOCOLS, sizeof OTLP_PROTOCOLS / sizeof OTLP_PROTOCOLS[0], v, err,
                       errlen);
  if (i < 0)
    return -1;
  *(enum otlp_protocol *)field = (enum otlp_protocol)i;
  return 0;
}

static int parse_bool(struct config *c, const struct option_row *o, void *field,
                      const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
      *(int *)field = strcasecmp(v, yes[i]) == 0;
      return 0;
    }
  }
  set_err(err, errlen, "expected true or false, got '%s'", v);
  return -1;
}

/* What a shared engine being down means: "open" (0, serve) or "closed" (1). */
static int parse_failure_mode(struct config *c, const struct option_row *o, void *field,
                              const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  if (strcmp(v, "open") != 0 && strcmp(v, "closed") != 0) {
    set_err(err, errlen, "expected open or closed, got '%s'", v);
    return -1;
  }
  *(int *)field = strcmp(v, "closed") == 0;
  return 0;
}

static void free_list(void *field) {
  struct str_list *l = field;
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

static int parse_list(struct config *c, const struct option_row *o, void *field,
                      const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  (void)err;
  (void)errlen;
  struct str_list l = {0};
  size_t cap = 1;
  for (const char *p = v; *p; p++)
    cap += *p == ',';
  l.items = calloc(cap, sizeof *l.items);
  if (!l.items)
    return -1;
  for (const char *p = v;;) {
    const char *comma = strchr(p, ',');
    const char *e = comma ? comma : p + strlen(p);
    const char *b = p;
    while (b < e && isspace((unsigned char)*b))
      b++;
    while (e > b && isspace((unsigned char)e[-1]))
      e--;
    if (e > b && !(l.items[l.n++] = strndup(b, (size_t)(e - b)))) {
      free_list(&l);
      return -1;
    }
    if (!comma)
      break;
    p = comma + 1;
  }
  free_list(field);
  *(struct str_list *)field = l;
  return 0;
}

/* A whole decimal number within [0, max] into *(double *)field, or -1 with
 * what was expected. */
static int parse_real(void *field, const char *v, double max, const char *expected, char *err,
                      size_t errlen) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= 0) || d > max) {
    set_err(err, errlen, "expected %s, got '%s'", expected, v);
    return -1;
  }
  *(double *)field = d;
  return 0;
}

static int parse_price(struct config *c, const struct option_row *o, void *field,
                       const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  return parse_real(field, v, 1e6, "a price in USD such as 0.672", err, errlen);
}

static int parse_ratio(struct config *c, const struct option_row *o, void *field,
                       const char *v, char *err, size_t errlen) {
  (void)c;
  (void)o;
  return parse_real(field, v, 1, "a number from 0 to 1", err, errlen);
}

static void free_string(void *field) {
  free(*(char **)field);
  *(char **)field = NULL;
}

static int parse_hostport_row(struct config *c, const struct option_row *o, void *field,
                              const char *v, char *err, size_t errlen) {
  (void)o;
  (void)field;
  return set_hostport(c, v, err, errlen);
}

/* Per-type operations: how a value is parsed, freed and compared. */
struct opt_ops {
  int (*parse)(struct config *c, const struct option_row *o, void *field,
               const char *v, char *err, size_t errlen);
  void (*free)(void *field); /* NULL: nothing owned */
  size_t size;               /* bytes compared by config_diff (0: strings/lists) */
};

static const struct opt_ops OPS[] = {
    [OPT_HOSTPORT] = {parse_hostport_row, free_string, 0},
    [OPT_URL] = {parse_url, free_string, 0},
    [OPT_STRING] = {parse_string, free_string, 0},
    [OPT_MODEL] = {parse_model, free_string, 0},
    [OPT_INT] = {parse_int, NULL, sizeof(long)},
    [OPT_DURATION] = {parse_duration, NULL, sizeof(long)},
    [OPT_SIZE] = {parse_size, NULL, sizeof(long long)},
    [OPT_PROMPT_FORMAT] = {parse_prompt_format, NULL, sizeof(enum prompt_format)},
    [OPT_LOG_LEVEL] = {parse_log_level, NULL, sizeof(enum log_level)},
    [OPT_BOOL] = {parse_bool, NULL, sizeof(int)},
    [OPT_LIST] = {parse_list, free_list, 0},
    [OPT_PRICE] = {parse_price, NULL, sizeof(double)},
    [OPT_RATIO] = {parse_ratio, NULL, sizeof(double)},
    [OPT_LOG_FORMAT] = {parse_log_format, NULL, sizeof(enum log_format)},
    [OPT_FAILURE_MODE] = {parse_failure_mode, NULL, sizeof(int)},
    [OPT_OTLP_PROTOCOL] = {parse_otlp_protocol, NULL, sizeof(enum otlp_protocol)},
};

static int set_value(struct config *c, const struct option_row *o,
                     const char *v, char *err, size_t errlen) {
  return OPS[o->type].parse(c, o, (char *)c + o->offset, v, err, errlen);
}

int config_set(struct config *c, const char *key, const char *value, char *err,
               size_t errlen) {
  const struct option_row *o = find_option(key);
  if (!o) {
    set_err(err, errlen, "unknown option '%s'", key);
    return -1;
  }
  char detail[CONFIG_ERR_MAX];
  detail[0] = '\0';
  if (set_value(c, o, value, detail, sizeof detail) != 0) {
    if (o->flags & OPT_SECRET)
      set_err(err, errlen, "%s: %s", key, detail[0] ? "invalid value (not shown: secret)"
                                                   : "out of memory");
    else
      set_err(err, errlen, "%s: %s", key, detail[0] ? detail : "out of memory");
    return -1;
  }
  return 0;
}

int config_init(struct config *c) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (set_value(c, &OPTIONS[i], OPTIONS[i].def, NULL, 0) != 0)
      return -1;
  return 0;
}

void config_free(struct config *c) {
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (OPS[OPTIONS[i].type].free)
      OPS[OPTIONS[i].type].free((char *)c + OPTIONS[i].offset);
  memset(c, 0, sizeof *c);
}

int config_is_secret(const char *name) {
  const struct option_row *o = find_option(name);
  return o && (o->flags & OPT_SECRET);
}

int str_list_has(const struct str_list *l, const char *s, size_t len) {
  for (size_t i = 0; i < l->n; i++)
    if (strlen(l->items[i]) == len && memcmp(l->items[i], s, len) == 0)
      return 1;
  return 0;
}

static int same_value(const struct option_row *o, const struct config *a,
                      const struct config *b) {
  const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
  if (o->type == OPT_HOSTPORT)
    return strcmp(a->listen_host, b->listen_host) == 0 && a->listen_port == b->listen_port;
  if (o->type == OPT_LIST) {
    const struct str_list *la = (const void *)fa, *lb = (const void *)fb;
    if (la->n != lb->n)
      return 0;
    for (size_t i = 0; i < la->n; i++)
      if (strcmp(la->items[i], lb->items[i]) != 0)
        return 0;
    return 1;
  }
  if (OPS[o->type].size == 0) /* an owned string */
    return strcmp(*(char *const *)(const void *)fa, *(char *const *)(const void *)fb) == 0;
  return memcmp(fa, fb, OPS[o->type].size) == 0;
}

int config_diff(const struct config *a, const struct config *b, char *out,
                size_t outlen, int *needs_restart) {
  int count = 0;
  size_t used = 0;
  *needs_restart = 0;
  if (outlen)
    out[0] = '\0';
  for (size_t i = 0; i < N_OPTIONS; i++) {
    if (same_value(&OPTIONS[i], a, b))
      continue;
    count++;
    if (OPTIONS[i].flags & OPT_RESTART)
      *needs_restart = 1;
    if (used < outlen) {
      int n = snprintf(out + used, outlen - used, "%s%s%s", count > 1 ? ", " : "",
                       OPTIONS[i].name, OPTIONS[i].flags & OPT_RESTART ? " (needs a restart)" : "");
      if (n > 0)
        used += (size_t)n;
    }
  }
  return count;
}

static int copy_list(struct str_list *to, const struct str_list *from) {
  struct str_list l = {calloc(from->n ? from->n : 1, sizeof(char *)), 0};
  if (!l.items)
    return -1;
  for (; l.n < from->n; l.n++) {
    if (!(l.items[l.n] = strdup(from->items[l.n]))) {
      free_list(&l);
      return -1;
    }
  }
  free_list(to);
  *to = l;
  return 0;
}

int config_keep_restart(struct config *to, const struct config *from) {
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const struct option_row *o = &OPTIONS[i];
    if (!(o->flags & OPT_RESTART))
      continue;
    char *t = (char *)to + o->offset;
    const char *f = (const char *)from + o->offset;
    int rc = 0;
    if (o->type == OPT_HOSTPORT) {
      rc = replace_string(&to->listen_host, from->listen_host, strlen(from->listen_host));
      to->listen_port = from->listen_port;
    } else if (o->type == OPT_LIST) {
      rc = copy_list((void *)t, (const void *)f);
    } else if (OPS[o->type].size == 0) { /* an owned string */
      const char *v = *(char *const *)(const void *)f;
      rc = replace_string((char **)(void *)t, v, strlen(v));
    } else {
      memcpy(t, f, OPS[o->type].size);
    }
    if (rc != 0)
      return -1;
  }
  return 0;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

int config_load_file(struct config *c, const char *path, char *err,
                     size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 0;
  while (getline(&line, &cap, f) != -1) {
    lineno++;
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      /* Never echo the line: it may be `replicate_api_token: r8_...`. */
      size_t klen = strcspn(s, " \t:");
      if (klen < 64) {
        char name[64];
        memcpy(name, s, klen);
        name[klen] = '\0';
        if (find_option(name)) {
          set_err(err, errlen, "%s:%d: expected '%s = value'", path, lineno, name);
          rc = -1;
          break;
        }
      }
      set_err(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    /* Values may be quoted so that they can hold '#' or edge spaces. */
    size_t vlen = strlen(value);
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
      value[vlen - 1] = '\0';
      value++;
    } else {
      /* A trailing comment needs a space before '#' so tokens may hold '#'. */
      char *hash = strstr(value, " #");
      if (hash) {
        *hash = '\0';
        value = trim(value);
      }
    }
    char detail[CONFIG_ERR_MAX];
    if (config_set(c, key, value, detail, sizeof detail) != 0) {
      set_err(err, errlen, "%s:%d: %s", path, lineno, detail);
      rc = -1;
      break;
    }
  }
  free(line);
  fclose(f);
  return rc;
}

int config_load_env(struct config *c, char *(*getenv_fn)(const char *),
                    char *err, size_t errlen) {
  for (size_t i = 0; i < N_OPTIONS; i++) {
    char name[96] = "REPLICATE_PROXY_";
    size_t n = strlen(name);
    for (const char *p = OPTIONS[i].name; *p && n + 1 < sizeof name; p++)
      name[n++] = (char)toupper((unsigned char)*p);
    name[n] = '\0';
    const char *v = getenv_fn(name);
    char detail[CONFIG_ERR_MAX];
    if (v && config_set(c, OPTIONS[i].name, v, detail, sizeof detail) != 0) {
      set_err(err, errlen, "%s: %s", name, detail);
      return -1;
    }
  }
  const char *token = getenv_fn("REPLICATE_API_TOKEN");
  if (token && !c->replicate_api_token[0] &&
      replace_string(&c->replicate_api_token, token, strlen(token)) != 0) {
    set_err(err, errlen, "out of memory");
    return -1;
  }
  /* OpenTelemetry's own variable, as its SDKs read it. */
  const char *otel = getenv_fn("OTEL_EXPORTER_OTLP_HEADERS");
  if (otel && !c->otlp_headers[0] && replace_string(&c->otlp_headers, otel, strlen(otel)) != 0) {
    set_err(err, errlen, "out of memory");
    return -1;
  }
  /* Like the headers above, only where nothing of ours set it. */
  const char *ratio = getenv_fn("OTEL_TRACES_SAMPLER_ARG");
  if (ratio && c->otlp_sample_ratio == 1.0 &&
      config_set(c, "otlp_sample_ratio", ratio, err, errlen) != 0)
    return -1;
  /* The traces' own variable first, as the SDKs read them. A value we do not
   * serve (grpc, or empty) is passed over, not an error: the variable is the
   * whole environment's, often set for other SDKs while tracing here is off. */
  const char *protocol = getenv_fn("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
  if (!protocol)
    protocol = getenv_fn("OTEL_EXPORTER_OTLP_PROTOCOL");
  char passed_over[CONFIG_ERR_MAX];
  if (protocol && c->otlp_protocol == OTLP_HTTP_PROTOBUF)
    (void)config_set(c, "otlp_protocol", protocol, passed_over, sizeof passed_over);
  return 0;
}

void config_print_help(FILE *out) {
  fprintf(out,
          "usage: replicate-proxy [--config FILE] [--KEY VALUE ...]\n\n"
          "An OpenAI-compatible API for DeepSeek V3.1 on Replicate.\n\n"
          "Every option can be set in the config file as `key = value`, in the\n"
          "environment as REPLICATE_PROXY_<KEY>, or as a flag --key VALUE\n"
          "(flags win over the environment, which wins over the file).\n\n"
          "options (default in brackets):\n");
  for (size_t i = 0; i < N_OPTIONS; i++)
    fprintf(out, "  --%-20s %s [%s]\n", OPTIONS[i].name, OPTIONS[i].help,
            OPTIONS[i].def[0] ? OPTIONS[i].def : "none");
  fprintf(out, "\n  --config FILE          read options from FILE\n"
               "  --healthcheck          GET /health on the configured listen address;\n"
               "                         exit 0 on 200, else 1 (for container HEALTHCHECKs)\n"
               "  --help                 show this help\n"
               "  --version              show the version\n");
}
