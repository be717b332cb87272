/* libFuzzer target: shared/json_scan.c (the pre-scan of client bodies) and
 * shared/origin.c (Host/Origin policy on raw header values).
 * Invariants: no crash; a refusal is a 400 with code invalid_encoding or
 * invalid_value and a message; a body that passes is valid UTF-8 and one
 * refused as invalid_encoding is not (checked against a reference written
 * from the Unicode standard's table 3-7); the origin verdict is 0, 421 or
 * 403, and an IP-literal Host passes the Host check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/json_scan.h"
#include "../shared/origin.h"

/* Table 3-7, "Well-Formed UTF-8 Byte Sequences": per lead byte range, the
 * allowed range of the second byte; later bytes are 80..BF. */
static int reference_utf8(const unsigned char *p, size_t n) {
  static const struct {
    unsigned char lo, hi, len, b2lo, b2hi;
  } rows[] = {
      {0x00, 0x7F, 1, 0, 0},       {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
      {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF},
      {0xF0, 0xF0, 4, 0x90, 0xBF}, {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
  };
  size_t i = 0;
  while (i < n) {
    size_t r = 0;
    while (r < sizeof rows / sizeof rows[0] && !(p[i] >= rows[r].lo && p[i] <= rows[r].hi))
      r++;
    if (r == sizeof rows / sizeof rows[0] || n - i < rows[r].len)
      return 0;
    if (rows[r].len > 1 && (p[i + 1] < rows[r].b2lo || p[i + 1] > rows[r].b2hi))
      return 0;
    for (size_t k = 2; k < rows[r].len; k++)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF)
        return 0;
    i += rows[r].len;
  }
  return 1;
}

static void check_scan(const uint8_t *data, size_t size) {
  struct oai_error e;
  memset(&e, 0, sizeof e);
  int rc = json_scan((const char *)data, size, &e);
  if (rc == 0) {
    if (!reference_utf8(data, size))
      abort();
    return;
  }
  if (rc != -1 || e.status != 400 || !e.message[0] ||
      strnlen(e.param, sizeof e.param) >= sizeof e.param)
    abort();
  if (strcmp(e.code, "invalid_encoding") == 0) {
    if (reference_utf8(data, size))
      abort();
  } else if (strcmp(e.code, "invalid_value") != 0) {
    abort();
  }
}

/* Input: host \n origin \n requested headers, then anything. */
static void check_origin(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return;
  memcpy(text, data, size);
  text[size] = '\0';
  char *host = text, *origin = NULL, *acrh = NULL;
  char *nl = strchr(host, '\n');
  if (nl) {
    *nl = '\0';
    origin = nl + 1;
    if ((nl = strchr(origin, '\n'))) {
      *nl = '\0';
      acrh = nl + 1;
    }
  }
  struct config c;
  char err[CONFIG_ERR_MAX];
  if (config_init(&c) == 0 &&
      config_set(&c, "replicate_api_token", "r8_x", err, sizeof err) == 0 &&
      config_set(&c, "cors_origins", "https://app.example", err, sizeof err) == 0 &&
      config_set(&c, "server_names", "proxy.example", err, sizeof err) == 0) {
    struct oai_error e;
    int rc = origin_check(&c, host, origin, &e);
    if (rc != 0 && !((e.status == 421 && !strcmp(e.code, "host_not_allowed")) ||
                     (e.status == 403 && !strcmp(e.code, "origin_not_allowed"))))
      abort();
    /* An IPv4 literal host with a port is always ours. */
    if (rc != 0 && e.status == 421 && strcmp(host, "127.0.0.1:80") == 0)
      abort();
    struct origin_header h[ORIGIN_HEADERS_MAX];
    size_t n = origin_preflight_headers(origin ? origin : "", acrh, h);
    for (size_t i = 0; i < n; i++)
      if (strpbrk(h[i].value, "\r\n") && h[i].value != origin)
        abort(); /* nothing but the origin itself is echoed unchecked */
    if (n > ORIGIN_HEADERS_MAX || origin_reply_headers("x", h) > ORIGIN_HEADERS_MAX)
      abort();
  }
  config_free(&c);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_scan(data, size);
  check_origin(data, size);
  return 0;
}
