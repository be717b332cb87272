#include "../../shared/origin.h"

#include <stdarg.h>
#include <stdlib.h>

#include "test.h"

/* A default config with some options set ("key", "value", ..., NULL). */
static void conf(struct config *c, ...) {
  config_init(c);
  va_list ap;
  va_start(ap, c);
  const char *k;
  while ((k = va_arg(ap, const char *))) {
    const char *v = va_arg(ap, const char *);
    char err[CONFIG_ERR_MAX];
    if (config_set(c, k, v, err, sizeof err) != 0)
      test_fail(__FILE__, __LINE__, "config_set %s: %s", k, err);
  }
  va_end(ap);
}

/* origin_check's verdict: 0, 421 or 403 (and the code that goes with it). */
static int verdict(const struct config *c, const char *host, const char *origin) {
  struct oai_error e;
  memset(&e, 0, sizeof e);
  if (origin_check(c, host, origin, &e) == 0)
    return 0;
  if (!((e.status == 421 && strcmp(e.code, "host_not_allowed") == 0) ||
        (e.status == 403 && strcmp(e.code, "origin_not_allowed") == 0)) ||
      strcmp(e.type, "invalid_request_error") != 0 || e.param[0] || !e.message[0])
    return -1;
  return e.status;
}

static const char *header(const struct origin_header *h, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(h[i].name, name) == 0)
      return h[i].value;
  return NULL;
}

static void test_origins(void) {
  struct config c;

  TEST("default: no origin allowed; no Origin is served");
  conf(&c, NULL);
  CHECK_INT(verdict(&c, "127.0.0.1:8080", NULL), 0);
  CHECK_INT(verdict(&c, "127.0.0.1:8080", "http://evil.example"), 403);
  CHECK_INT(verdict(&c, "127.0.0.1:8080", "null"), 403);
  CHECK_INT(verdict(&c, "127.0.0.1:8080", ""), 403);
  config_free(&c);

  TEST("only exactly listed origins");
  conf(&c, "cors_origins", "https://app.example, http://localhost:3000", NULL);
  CHECK_INT(verdict(&c, "127.0.0.1", "https://app.example"), 0);
  CHECK_INT(verdict(&c, "127.0.0.1", "http://localhost:3000"), 0);
  CHECK_INT(verdict(&c, "127.0.0.1", "http://localhost:3001"), 403);
  CHECK_INT(verdict(&c, "127.0.0.1", "https://app.example/"), 403);
  CHECK_INT(verdict(&c, "127.0.0.1", "https://APP.example"), 403);
  CHECK_INT(verdict(&c, "127.0.0.1", "https://app.example.evil"), 403);
  config_free(&c);

  TEST("* allows any origin");
  conf(&c, "cors_origins", "*", NULL);
  CHECK_INT(verdict(&c, "127.0.0.1", "https://anything.example"), 0);
  config_free(&c);
}

static void test_hosts(void) {
  struct config c;

  TEST("server token, no master_key: Host must be ours");
  conf(&c, "replicate_api_token", "r8_x", NULL);
  CHECK_INT(origin_host_check_applies(&c), 1);
  static const char *const ok[] = {
      "127.0.0.1",       "127.0.0.1:8080", "10.1.2.3:1",   "[::1]",
      "[::1]:8080",      "[2001:db8::1]:80", "localhost", "localhost:8080",
      "LocalHost:8080",  NULL};
  for (size_t i = 0; ok[i]; i++)
    CHECK_INT(verdict(&c, ok[i], NULL), 0);
  static const char *const bad[] = {
      "attacker.example", "attacker.example:8080", "localhost.attacker.example",
      "localhost.",       "127.0.0.1.nip.io",      "[::1",
      "[not-an-ip]:80",   "::1",                   "127.0.0.1:80x",
      "localhost:",       "",                      ":8080",
      "[::1]x",           NULL};
  for (size_t i = 0; bad[i]; i++)
    if (verdict(&c, bad[i], NULL) != 421)
      test_fail(__FILE__, __LINE__, "Host '%s' should be refused", bad[i]);
    else
      test_passed++;
  TEST("no Host header: left to HTTP parsing");
  CHECK_INT(verdict(&c, NULL, NULL), 0);
  TEST("Host is checked before Origin");
  CHECK_INT(verdict(&c, "attacker.example", "http://attacker.example"), 421);
  CHECK_INT(verdict(&c, "127.0.0.1", "http://attacker.example"), 403);
  config_free(&c);

  TEST("the listen host and server_names are ours");
  conf(&c, "replicate_api_token", "r8_x", "listen", "myhost.lan:8080",
       "server_names", "proxy.example, Other.Example", NULL);
  CHECK_INT(verdict(&c, "myhost.lan:8080", NULL), 0);
  CHECK_INT(verdict(&c, "MYHOST.LAN", NULL), 0);
  CHECK_INT(verdict(&c, "proxy.example", NULL), 0);
  CHECK_INT(verdict(&c, "other.example:443", NULL), 0);
  CHECK_INT(verdict(&c, "proxy.example.evil", NULL), 421);
  CHECK_INT(verdict(&c, "127.0.0.1", NULL), 0);
  config_free(&c);

  TEST("master_key set: any Host");
  conf(&c, "replicate_api_token", "r8_x", "master_key", "mk", NULL);
  CHECK_INT(origin_host_check_applies(&c), 0);
  CHECK_INT(verdict(&c, "attacker.example", NULL), 0);
  config_free(&c);

  TEST("master_key and server_names: Host must match");
  conf(&c, "replicate_api_token", "r8_x", "master_key", "mk", "server_names",
       "proxy.example", NULL);
  CHECK_INT(origin_host_check_applies(&c), 1);
  CHECK_INT(verdict(&c, "proxy.example", NULL), 0);
  CHECK_INT(verdict(&c, "attacker.example", NULL), 421);
  config_free(&c);

  TEST("pass-through (no server token): no Host check");
  conf(&c, NULL);
  CHECK_INT(origin_host_check_applies(&c), 0);
  CHECK_INT(verdict(&c, "attacker.example", NULL), 0);
  TEST("pass-through still refuses a foreign Origin");
  CHECK_INT(verdict(&c, "attacker.example", "http://attacker.example"), 403);
  config_free(&c);
}

static void test_headers(void) {
  struct origin_header h[ORIGIN_HEADERS_MAX];
  size_t n;

  TEST("reply headers for an allowed origin");
  n = origin_reply_headers("https://app.example", h);
  CHECK(n <= ORIGIN_HEADERS_MAX);
  CHECK_STR(header(h, n, "Access-Control-Allow-Origin"), "https://app.example");
  CHECK_STR(header(h, n, "Vary"), "Origin");
  const char *exp = header(h, n, "Access-Control-Expose-Headers");
  CHECK(exp && strstr(exp, "x-request-id") && strstr(exp, "retry-after") &&
        strstr(exp, "x-ratelimit-remaining-requests") && strstr(exp, "openai-processing-ms"));

  TEST("preflight: requested headers echoed");
  n = origin_preflight_headers("https://app.example", "authorization, content-type, x-stainless-os", h);
  CHECK(n <= ORIGIN_HEADERS_MAX);
  CHECK_STR(header(h, n, "Access-Control-Allow-Origin"), "https://app.example");
  CHECK_STR(header(h, n, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
  CHECK_STR(header(h, n, "Access-Control-Allow-Headers"), "authorization, content-type, x-stainless-os");
  CHECK_STR(header(h, n, "Access-Control-Max-Age"), "600");
  CHECK(header(h, n, "Vary") && strstr(header(h, n, "Vary"), "Origin"));

  TEST("preflight: defaults when none or odd ones are requested");
  n = origin_preflight_headers("https://app.example", NULL, h);
  CHECK_STR(header(h, n, "Access-Control-Allow-Headers"), "authorization, content-type, x-api-key");
  n = origin_preflight_headers("https://app.example", "x;y=\"1\"", h);
  CHECK_STR(header(h, n, "Access-Control-Allow-Headers"), "authorization, content-type, x-api-key");
}

void suite_origin(void) {
  test_origins();
  test_hosts();
  test_headers();
}
