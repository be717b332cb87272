#include "../../shared/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static const char *fake_env[][2] = {
    {"REPLICATE_PROXY_WORKERS", "3"},
    {"REPLICATE_API_TOKEN", "r8_from_env"},
    {NULL, NULL},
};

static char *fake_getenv(const char *name) {
  for (int i = 0; fake_env[i][0]; i++)
    if (strcmp(fake_env[i][0], name) == 0)
      return (char *)fake_env[i][1];
  return NULL;
}

/* OpenTelemetry's protocol variables, set per check. */
static const char *otel_traces_protocol, *otel_protocol;

static char *otel_env(const char *name) {
  if (strcmp(name, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") == 0)
    return (char *)otel_traces_protocol;
  if (strcmp(name, "OTEL_EXPORTER_OTLP_PROTOCOL") == 0)
    return (char *)otel_protocol;
  return NULL;
}

static void check_otlp_protocol(void) {
  struct config c;
  char err[CONFIG_ERR_MAX];
  TEST("otlp_protocol: http/protobuf by default, http/json, nothing else");
  config_init(&c);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_PROTOBUF);
  CHECK_INT(config_set(&c, "otlp_protocol", "http/json", err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_JSON);
  CHECK_INT(config_set(&c, "otlp_protocol", "grpc", err, sizeof err), -1);
  CHECK_STR(err, "otlp_protocol: expected http/protobuf|http/json, got 'grpc'");
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_JSON);
  config_free(&c);

  TEST("otlp_protocol: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, the traces' own first");
  config_init(&c);
  otel_protocol = "http/json";
  CHECK_INT(config_load_env(&c, otel_env, err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_JSON);
  config_free(&c);
  config_init(&c);
  otel_traces_protocol = "http/protobuf";
  CHECK_INT(config_load_env(&c, otel_env, err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_PROTOBUF);
  config_free(&c);
  config_init(&c);
  otel_traces_protocol = "grpc"; /* not served here, and often set for other SDKs: passed over */
  CHECK_INT(config_load_env(&c, otel_env, err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_PROTOBUF);
  config_free(&c);
  config_init(&c);
  otel_traces_protocol = ""; /* empty: as unset */
  CHECK_INT(config_load_env(&c, otel_env, err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_PROTOBUF);
  config_free(&c);
  config_init(&c);
  otel_traces_protocol = NULL;
  otel_protocol = "http/protobuf"; /* ours, set to json, wins */
  CHECK_INT(config_set(&c, "otlp_protocol", "http/json", err, sizeof err), 0);
  CHECK_INT(config_load_env(&c, otel_env, err, sizeof err), 0);
  CHECK_INT(c.otlp_protocol, OTLP_HTTP_JSON);
  config_free(&c);
  otel_protocol = NULL;
}

static char *no_env(const char *name) {
  (void)name;
  return NULL;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs(text, f);
  fclose(f);
  return 0;
}

void suite_config(void) {
  struct config c;
  char err[CONFIG_ERR_MAX];
  long ms;
  long long size;

  TEST("defaults");
  CHECK_INT(config_init(&c), 0);
  CHECK_STR(c.listen_host, "127.0.0.1");
  CHECK_INT(c.listen_port, 8080);
  CHECK_STR(c.upstream, "https://api.replicate.com");
  CHECK_STR(c.model, "deepseek-ai/deepseek-v3.1");
  CHECK_STR(c.replicate_api_token, "");
  CHECK_INT(c.max_body_size, 8 << 20);
  CHECK_INT(c.poll_interval_ms, 500);
  CHECK_INT(c.request_timeout_ms, 600000);
  CHECK_INT(c.prompt_format, PROMPT_PLAIN);
  CHECK_INT(c.connection_memory, 8192);

  TEST("durations and sizes");
  CHECK(config_parse_duration_ms("250ms", &ms) == 0 && ms == 250);
  CHECK(config_parse_duration_ms("10", &ms) == 0 && ms == 10000);
  CHECK(config_parse_duration_ms("5m", &ms) == 0 && ms == 300000);
  CHECK(config_parse_duration_ms("2h", &ms) == 0 && ms == 7200000);
  CHECK_INT(config_parse_duration_ms("10x", &ms), -1);
  CHECK_INT(config_parse_duration_ms("-1s", &ms), -1);
  CHECK_INT(config_parse_duration_ms("", &ms), -1);
  CHECK(config_parse_size("8MiB", &size) == 0 && size == 8 << 20);
  CHECK(config_parse_size("512KiB", &size) == 0 && size == 512 << 10);
  CHECK(config_parse_size("100", &size) == 0 && size == 100);
  CHECK_INT(config_parse_size("1.5MiB", &size), -1);

  TEST("set validates");
  CHECK_INT(config_set(&c, "listen", "0.0.0.0:9000", err, sizeof err), 0);
  CHECK_STR(c.listen_host, "0.0.0.0");
  CHECK_INT(c.listen_port, 9000);
  CHECK_INT(config_set(&c, "listen", "[::1]:81", err, sizeof err), 0);
  CHECK_STR(c.listen_host, "::1");
  CHECK_INT(config_set(&c, "listen", "localhost", err, sizeof err), -1);
  CHECK(strstr(err, "listen") != NULL);
  CHECK_INT(config_set(&c, "listen", "h:70000", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "upstream", "http://127.0.0.1:1234//", err, sizeof err), 0);
  CHECK_STR(c.upstream, "http://127.0.0.1:1234");
  CHECK_INT(config_set(&c, "upstream", "ftp://x", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "model", "nomodel", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "model", "acme/m", err, sizeof err), 0);
  CHECK_INT(config_set(&c, "workers", "lots", err, sizeof err), -1);
  CHECK(strstr(err, "workers") && strstr(err, "lots"));
  CHECK_INT(config_set(&c, "workers", "999", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "prompt_format", "deepseek", err, sizeof err), 0);
  CHECK_INT(c.prompt_format, PROMPT_DEEPSEEK);
  CHECK_INT(config_set(&c, "prompt_format", "llama", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "log_level", "debug", err, sizeof err), 0);
  CHECK_INT(c.log_level, LOG_DEBUG);
  CHECK_INT(config_set(&c, "nope", "1", err, sizeof err), -1);
  CHECK(strstr(err, "unknown option 'nope'") != NULL);
  CHECK(config_has_option("listen") && !config_has_option("config"));

  TEST("file");
  char path[] = "/tmp/rp-config-test-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  write_file(path, "# comment\n\n  listen = 127.0.0.1:0  \nreplicate_api_token = \"r8_a#b\"\n"
                   "poll_interval = 20ms # trailing comment\n");
  CHECK_INT(config_load_file(&c, path, err, sizeof err), 0);
  CHECK_INT(c.listen_port, 0);
  CHECK_STR(c.replicate_api_token, "r8_a#b");
  CHECK_INT(c.poll_interval_ms, 20);
  write_file(path, "listen = 127.0.0.1:1\nbogus = 1\n");
  CHECK_INT(config_load_file(&c, path, err, sizeof err), -1);
  CHECK(strstr(err, ":2:") && strstr(err, "bogus"));
  write_file(path, "listen\n");
  CHECK_INT(config_load_file(&c, path, err, sizeof err), -1);
  CHECK(strstr(err, ":1:") != NULL);
  write_file(path, "replicate_api_token: r8_secretvalue\n");
  CHECK_INT(config_load_file(&c, path, err, sizeof err), -1);
  CHECK(strstr(err, "expected 'replicate_api_token = value'") != NULL);
  CHECK(strstr(err, "r8_secretvalue") == NULL);
  unlink(path);
  CHECK_INT(config_load_file(&c, "/nonexistent/proxy.conf", err, sizeof err), -1);
  CHECK(strstr(err, "/nonexistent/proxy.conf") != NULL);

  TEST("lists, booleans, prices, secrets");
  CHECK_INT((int)c.cors_origins.n, 0);
  CHECK_INT(config_set(&c, "cors_origins", " https://a.example , http://b:81,,", err, sizeof err), 0);
  CHECK_INT((int)c.cors_origins.n, 2);
  CHECK_STR(c.cors_origins.items[0], "https://a.example");
  CHECK_STR(c.cors_origins.items[1], "http://b:81");
  CHECK(str_list_has(&c.cors_origins, "http://b:81", 11));
  CHECK(!str_list_has(&c.cors_origins, "http://b:8", 10));
  CHECK_INT(config_set(&c, "reuse_port", "yes", err, sizeof err), 0);
  CHECK_INT(c.reuse_port, 1);
  CHECK_INT(config_set(&c, "reuse_port", "maybe", err, sizeof err), -1);
  CHECK(c.input_price_per_mtok == 0.672 && c.output_price_per_mtok == 2.016);
  CHECK_INT(config_set(&c, "output_price_per_mtok", "-1", err, sizeof err), -1);
  CHECK_INT(config_set(&c, "max_n", "8", err, sizeof err), 0);
  CHECK_INT(config_set(&c, "max_n", "0", err, sizeof err), -1);
  CHECK(config_is_secret("master_key") && config_is_secret("replicate_api_token"));
  CHECK(!config_is_secret("listen") && !config_is_secret("nope"));

  TEST("diff names what changed, never a secret's value");
  {
    struct config a, b;
    char out[512];
    int restart;
    CHECK_INT(config_init(&a), 0);
    CHECK_INT(config_init(&b), 0);
    CHECK_INT(config_diff(&a, &b, out, sizeof out, &restart), 0);
    config_set(&b, "replicate_api_token", "r8_new", err, sizeof err);
    config_set(&b, "poll_interval", "1s", err, sizeof err);
    CHECK_INT(config_diff(&a, &b, out, sizeof out, &restart), 2);
    CHECK_INT(restart, 0);
    CHECK(strstr(out, "replicate_api_token") && strstr(out, "poll_interval"));
    CHECK(strstr(out, "r8_new") == NULL);
    config_set(&b, "listen", "127.0.0.1:9", err, sizeof err);
    config_set(&b, "server_names", "a,b", err, sizeof err);
    CHECK_INT(config_diff(&a, &b, out, sizeof out, &restart), 4);
    CHECK_INT(restart, 1);
    CHECK(strstr(out, "listen (needs a restart)") != NULL);

    TEST("keep_restart: a reload keeps the running values of restart-only options");
    config_set(&a, "workers", "4", err, sizeof err);
    config_set(&a, "upstream", "http://old.example", err, sizeof err);
    config_set(&b, "upstream", "http://new.example", err, sizeof err);
    config_set(&b, "connection_memory", "64KiB", err, sizeof err);
    CHECK_INT(config_keep_restart(&b, &a), 0);
    CHECK_STR(b.listen_host, "127.0.0.1");
    CHECK_INT(b.listen_port, 8080);
    CHECK_INT(b.workers, 4);
    CHECK_STR(b.upstream, "http://old.example");
    CHECK_INT(b.connection_memory, 8192);
    CHECK_STR(b.replicate_api_token, "r8_new"); /* not restart-only: the new value */
    CHECK_INT(b.poll_interval_ms, 1000);
    CHECK_INT(b.server_names.n, 2);
    CHECK_INT(config_diff(&a, &b, out, sizeof out, &restart), 3);
    CHECK_INT(restart, 0);
    config_free(&a);
    config_free(&b);
  }

  TEST("env: REPLICATE_PROXY_* always, REPLICATE_API_TOKEN only when unset");
  CHECK_INT(config_load_env(&c, fake_getenv, err, sizeof err), 0);
  CHECK_INT(c.workers, 3);
  CHECK_STR(c.replicate_api_token, "r8_a#b");
  config_free(&c);
  config_init(&c);
  CHECK_INT(config_load_env(&c, fake_getenv, err, sizeof err), 0);
  CHECK_STR(c.replicate_api_token, "r8_from_env");
  CHECK_INT(config_load_env(&c, no_env, err, sizeof err), 0);
  config_free(&c);
  check_otlp_protocol();
}
