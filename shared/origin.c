#include "origin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Response headers a page may read: the SDKs look at these. */
#define EXPOSED_HEADERS                                                        \
  "x-request-id, retry-after, x-ratelimit-limit-requests, "                   \
  "x-ratelimit-limit-tokens, x-ratelimit-remaining-requests, "                \
  "x-ratelimit-remaining-tokens, x-ratelimit-reset-requests, "                \
  "x-ratelimit-reset-tokens, openai-organization, openai-processing-ms, "     \
  "openai-version"
#define DEFAULT_ALLOWED_HEADERS "authorization, content-type, x-api-key"
#define PREFLIGHT_MAX_AGE "600"

int origin_host_check_applies(const struct config *cfg) {
  int server_token = cfg->replicate_api_token && cfg->replicate_api_token[0];
  int gateway = cfg->master_key && cfg->master_key[0];
  return (server_token && !gateway) || cfg->server_names.n > 0;
}

static int name_is(const char *name, size_t len, const char *want) {
  return want && strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* An IPv4 literal, or the inside of [IPv6]: never something DNS answers. */
static int ip_literal(const char *name, size_t len, int v6) {
  char text[INET6_ADDRSTRLEN + 1];
  unsigned char addr[sizeof(struct in6_addr)];
  if (len == 0 || len >= sizeof text)
    return 0;
  memcpy(text, name, len);
  text[len] = '\0';
  return inet_pton(v6 ? AF_INET6 : AF_INET, text, addr) == 1;
}

/* A port after the name: empty, or ':' and digits. */
static int port_ok(const char *p) {
  if (!*p)
    return 1;
  if (*p++ != ':' || !*p)
    return 0;
  for (; *p; p++)
    if (!isdigit((unsigned char)*p))
      return 0;
  return 1;
}

int origin_host_allowed(const struct config *cfg, const char *host) {
  const char *name = host, *rest;
  size_t len;
  if (host[0] == '[') {
    const char *close = strchr(host, ']');
    if (!close)
      return 0;
    name = host + 1;
    len = (size_t)(close - name);
    return port_ok(close + 1) && ip_literal(name, len, 1);
  }
  rest = strchr(host, ':');
  len = rest ? (size_t)(rest - host) : strlen(host);
  if (!port_ok(host + len) || len == 0)
    return 0;
  if (ip_literal(name, len, 0) || name_is(name, len, "localhost") ||
      name_is(name, len, cfg->listen_host))
    return 1;
  for (size_t i = 0; i < cfg->server_names.n; i++)
    if (name_is(name, len, cfg->server_names.items[i]))
      return 1;
  return 0;
}

int origin_allowed(const struct config *cfg, const char *origin) {
  return str_list_has(&cfg->cors_origins, "*", 1) ||
         str_list_has(&cfg->cors_origins, origin, strlen(origin));
}

int origin_check(const struct config *cfg, const char *host, const char *origin,
                 struct oai_error *err) {
  if (host && origin_host_check_applies(cfg) && !origin_host_allowed(cfg, host)) {
    oai_error_set(err, 421, "invalid_request_error", "host_not_allowed", NULL,
                  "This proxy does not serve that Host name. Use its address, "
                  "localhost, or a name listed in server_names.");
    return -1;
  }
  if (origin && !origin_allowed(cfg, origin)) {
    oai_error_set(err, 403, "invalid_request_error", "origin_not_allowed", NULL,
                  "Requests from web pages of this origin are not allowed. To let "
                  "a page call the proxy, list its origin in cors_origins.");
    return -1;
  }
  return 0;
}

size_t origin_reply_headers(const char *origin, struct origin_header *out) {
  size_t n = 0;
  out[n++] = (struct origin_header){"Access-Control-Allow-Origin", origin};
  out[n++] = (struct origin_header){"Vary", "Origin"};
  out[n++] = (struct origin_header){"Access-Control-Expose-Headers", EXPOSED_HEADERS};
  return n;
}

/* A comma-separated list of header names (what browsers send), so echoing
 * it cannot inject anything. */
static int header_list_ok(const char *s) {
  if (!s[0] || strlen(s) > 512)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("-_, ", *s))
      return 0;
  return 1;
}

size_t origin_preflight_headers(const char *origin, const char *requested_headers,
                                struct origin_header *out) {
  size_t n = 0;
  int echo = requested_headers && header_list_ok(requested_headers);
  out[n++] = (struct origin_header){"Access-Control-Allow-Origin", origin};
  out[n++] = (struct origin_header){"Access-Control-Allow-Methods", ORIGIN_ALLOWED_METHODS};
  out[n++] = (struct origin_header){"Access-Control-Allow-Headers",
                                    echo ? requested_headers : DEFAULT_ALLOWED_HEADERS};
  out[n++] = (struct origin_header){"Access-Control-Max-Age", PREFLIGHT_MAX_AGE};
  out[n++] = (struct origin_header){"Vary", "Origin, Access-Control-Request-Headers"};
  return n;
}
