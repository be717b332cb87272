#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
};

struct option_row {
  const char *name;
  enum opt_type type;
  size_t offset; /* of the main field in struct config */
  const char *def;
  long long min, max; /* for numbers, durations (ms) and sizes */
  const char *help;
};

#define OFF(field) offsetof(struct config, field)

/* The one table of options. */
static const struct option_row OPTIONS[] = {
    {"listen", OPT_HOSTPORT, OFF(listen_host), "127.0.0.1:8080", 0, 0,
     "HOST:PORT to serve the OpenAI API on ([::1]:8080 for IPv6; port 0 picks one)"},
    {"upstream", OPT_URL, OFF(upstream), "https://api.replicate.com", 0, 0,
     "Replicate API base URL"},
    {"replicate_api_token", OPT_STRING, OFF(replicate_api_token), "", 0, 0,
     "token used upstream; empty = pass each client's Bearer key through "
     "(also env REPLICATE_API_TOKEN)"},
    {"model", OPT_MODEL, OFF(model), "deepseek-ai/deepseek-v3.1", 0, 0,
     "Replicate model (owner/name) every alias routes to"},
    {"prompt_format", OPT_PROMPT_FORMAT, OFF(prompt_format), "plain", 0, 0,
     "how a conversation becomes the prompt: plain|deepseek"},
    {"workers", OPT_INT, OFF(workers), "1", 0, 256,
     "event-loop threads; 0 = one per CPU core"},
    {"connect_timeout", OPT_DURATION, OFF(connect_timeout_ms), "10s", 1, 600000,
     "upstream connect timeout"},
    {"request_timeout", OPT_DURATION, OFF(request_timeout_ms), "10m", 1, 86400000,
     "longest wait for a whole prediction (504 after it)"},
    {"poll_interval", OPT_DURATION, OFF(poll_interval_ms), "500ms", 1, 60000,
     "delay between polls of an unfinished prediction"},
    {"keepalive_interval", OPT_DURATION, OFF(keepalive_interval_ms), "5s", 1, 600000,
     "SSE keep-alive comment period while a stream is idle"},
    {"shutdown_grace", OPT_DURATION, OFF(shutdown_grace_ms), "30s", 0, 3600000,
     "on SIGTERM, how long running requests may take to finish"},
    {"max_body_size", OPT_SIZE, OFF(max_body_size), "8MiB", 1, 1LL << 30,
     "largest request body accepted (413 above)"},
    {"connection_memory", OPT_SIZE, OFF(connection_memory), "8KiB", 4096, 1 << 20,
     "buffer per client connection; request headers must fit in it (431 above)"},
    {"max_connections", OPT_INT, OFF(max_connections), "16384", 1, 1000000,
     "client connections per worker"},
    {"log_level", OPT_LOG_LEVEL, OFF(log_level), "info", 0, 0,
     "error|warn|info|debug"},
};

#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static const char *const LOG_LEVELS[] = {"error", "warn", "info", "debug"};

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

static int set_value(struct config *c, const struct option_row *o,
                     const char *v, char *err, size_t errlen) {
  char *field = (char *)c + o->offset;
  long long n;
  long ms;
  switch (o->type) {
  case OPT_HOSTPORT:
    return set_hostport(c, v, err, errlen);
  case OPT_URL: {
    size_t len = strlen(v);
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
      set_err(err, errlen, "expected an http:// or https:// URL, got '%s'", v);
      return -1;
    }
    while (len > 8 && v[len - 1] == '/')
      len--;
    return replace_string((char **)(void *)field, v, len);
  }
  case OPT_MODEL: {
    const char *slash = strchr(v, '/');
    if (!slash || slash == v || !slash[1] || strchr(slash + 1, '/') ||
        strpbrk(v, " \t?#")) {
      set_err(err, errlen, "expected a Replicate model as owner/name, got '%s'", v);
      return -1;
    }
    return replace_string((char **)(void *)field, v, strlen(v));
  }
  case OPT_STRING:
    return replace_string((char **)(void *)field, v, strlen(v));
  case OPT_INT: {
    const char *end;
    if (parse_ll(v, &end, &n) != 0 || *end || n < o->min || n > o->max) {
      set_err(err, errlen, "expected a whole number from %lld to %lld, got '%s'",
              o->min, o->max, v);
      return -1;
    }
    *(long *)(void *)field = (long)n;
    return 0;
  }
  case OPT_DURATION:
    if (config_parse_duration_ms(v, &ms) != 0 || ms < o->min || ms > o->max) {
      set_err(err, errlen,
              "expected a duration such as 500ms, 10s, 5m (%lldms to %lldms), got '%s'",
              o->min, o->max, v);
      return -1;
    }
    *(long *)(void *)field = ms;
    return 0;
  case OPT_SIZE:
    if (config_parse_size(v, &n) != 0 || n < o->min || n > o->max) {
      set_err(err, errlen, "expected a size such as 8MiB or 512KiB (at most 1GiB), got '%s'", v);
      return -1;
    }
    *(long long *)(void *)field = n;
    return 0;
  case OPT_PROMPT_FORMAT:
    if (prompt_format_parse(v, (enum prompt_format *)(void *)field) != 0) {
      set_err(err, errlen, "expected one of %s, got '%s'", prompt_format_names(), v);
      return -1;
    }
    return 0;
  case OPT_LOG_LEVEL:
    for (size_t i = 0; i < sizeof LOG_LEVELS / sizeof LOG_LEVELS[0]; i++) {
      if (strcmp(v, LOG_LEVELS[i]) == 0) {
        *(enum log_level *)(void *)field = (enum log_level)i;
        return 0;
      }
    }
    set_err(err, errlen, "expected error|warn|info|debug, got '%s'", v);
    return -1;
  }
  return -1;
}

int config_set(struct config *c, const char *key, const char *value, char *err,
               size_t errlen) {
  const struct option_row *o = find_option(key);
  if (!o) {
    set_err(err, errlen, "unknown option '%s' (see --help)", key);
    return -1;
  }
  char detail[CONFIG_ERR_MAX];
  detail[0] = '\0';
  if (set_value(c, o, value, detail, sizeof detail) != 0) {
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
  free(c->listen_host);
  free(c->upstream);
  free(c->replicate_api_token);
  free(c->model);
  memset(c, 0, sizeof *c);
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
      set_err(err, errlen, "%s:%d: expected 'key = value', got '%s'", path, lineno, s);
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
               "  --help                 show this help\n"
               "  --version              show the version\n");
}
