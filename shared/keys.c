#include "keys.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

size_t keys_base64url(const unsigned char *in, size_t n, char *out, size_t outlen) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n && o + 4 < outlen; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    size_t left = n - i;
    if (left > 1)
      v |= (uint32_t)in[i + 1] << 8;
    if (left > 2)
      v |= in[i + 2];
    out[o++] = A[(v >> 18) & 63];
    out[o++] = A[(v >> 12) & 63];
    if (left > 1)
      out[o++] = A[(v >> 6) & 63];
    if (left > 2)
      out[o++] = A[v & 63];
  }
  if (outlen)
    out[o] = '\0';
  return o;
}

void keys_format(const unsigned char raw[KEYS_RAW_BYTES], char out[KEYS_KEY_MAX]) {
  memcpy(out, "sk-", 3);
  keys_base64url(raw, KEYS_RAW_BYTES, out + 3, KEYS_KEY_MAX - 3);
}

int keys_random(unsigned char *out, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

int keys_generate(char out[KEYS_KEY_MAX]) {
  unsigned char raw[KEYS_RAW_BYTES];
  if (keys_random(raw, sizeof raw) != 0)
    return -1;
  keys_format(raw, out);
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

static void to_hex(const unsigned char *md, char out[KEYS_TOKEN_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (unsigned i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[KEYS_TOKEN_LEN] = '\0';
}

int keys_hash(const unsigned char *secret, size_t secret_len, const char *key,
              char out[KEYS_TOKEN_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)key, strlen(key), md,
            &md_len) ||
      md_len != 32)
    return -1;
  to_hex(md, out);
  return 0;
}

/* RFC 2104 with SHA-256 (64-byte blocks): the pads' hash states are kept. */
int keys_hmac_init(struct keys_hmac *h, const unsigned char *secret, size_t secret_len) {
  unsigned char block[64], pad[64];
  memset(block, 0, sizeof block);
  if (secret_len > sizeof block) {
    unsigned int n;
    if (!EVP_Digest(secret, secret_len, block, &n, EVP_sha256(), NULL))
      return -1;
  } else {
    memcpy(block, secret, secret_len);
  }
  EVP_MD_CTX *ctx[2] = {EVP_MD_CTX_new(), EVP_MD_CTX_new()};
  int ok = ctx[0] && ctx[1];
  for (int i = 0; ok && i < 2; i++) {
    for (size_t j = 0; j < sizeof pad; j++)
      pad[j] = block[j] ^ (i == 0 ? 0x36 : 0x5c);
    ok = EVP_DigestInit_ex(ctx[i], EVP_sha256(), NULL) && EVP_DigestUpdate(ctx[i], pad, sizeof pad);
  }
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
  if (!ok) {
    EVP_MD_CTX_free(ctx[0]);
    EVP_MD_CTX_free(ctx[1]);
    return -1;
  }
  h->inner = ctx[0];
  h->outer = ctx[1];
  return 0;
}

int keys_hmac_token(const struct keys_hmac *h, const char *key, char out[KEYS_TOKEN_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  int ok = c && EVP_MD_CTX_copy_ex(c, h->inner) && EVP_DigestUpdate(c, key, strlen(key)) &&
           EVP_DigestFinal_ex(c, md, &n) && EVP_MD_CTX_copy_ex(c, h->outer) &&
           EVP_DigestUpdate(c, md, n) && EVP_DigestFinal_ex(c, md, &n) && n == 32;
  EVP_MD_CTX_free(c);
  if (!ok)
    return -1;
  to_hex(md, out);
  return 0;
}

void keys_hmac_free(struct keys_hmac *h) {
  EVP_MD_CTX_free(h->inner);
  EVP_MD_CTX_free(h->outer);
  h->inner = h->outer = NULL;
}

void keys_display(const char *key, char out[KEYS_DISPLAY_MAX]) {
  size_t n = strlen(key);
  const char *tail = n >= 4 ? key + n - 4 : key;
  /* "…" is three bytes of UTF-8. */
  size_t t = strlen(tail);
  memcpy(out, "sk-\xe2\x80\xa6", 6);
  memcpy(out + 6, tail, t);
  out[6 + t] = '\0';
}

int keys_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la != lb)
    return 0;
  return CRYPTO_memcmp(a, b, la) == 0;
}

const char *keys_from_headers(const char *authorization, const char *x_api_key) {
  if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
    const char *k = authorization + 7;
    while (*k == ' ')
      k++;
    if (*k)
      return k;
  }
  if (x_api_key) {
    while (*x_api_key == ' ')
      x_api_key++;
    if (*x_api_key)
      return x_api_key;
  }
  return NULL;
}

int keys_parse_duration(const char *s, int64_t *ms) {
  static const struct { char unit; int64_t ms; } UNITS[] = {
      {'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
  if (!s || *s < '0' || *s > '9')
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || v <= 0 || v > 100000 || end[0] == '\0' || end[1] != '\0')
    return -1;
  for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
    if (UNITS[i].unit == *end) {
      *ms = (int64_t)v * UNITS[i].ms;
      return 0;
    }
  return -1;
}

int64_t keys_next_reset(int64_t reset_at_ms, int64_t window_ms, int64_t now_ms) {
  if (window_ms <= 0 || reset_at_ms <= 0 || reset_at_ms > now_ms)
    return reset_at_ms;
  int64_t k = (now_ms - reset_at_ms) / window_ms + 1;
  return reset_at_ms + k * window_ms;
}

void keys_iso_time(int64_t ms, char *out, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int keys_parse_date(const char *s, int64_t *ms) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(s, "%Y-%m-%d", &tm);
  if (!end)
    return -1;
  long frac = 0;
  if (*end == 'T' || *end == ' ') {
    end = strptime(end + 1, "%H:%M:%S", &tm);
    if (!end)
      return -1;
    if (*end == '.') {
      int digits = 0;
      for (end++; *end >= '0' && *end <= '9'; end++, digits++)
        if (digits < 3)
          frac = frac * 10 + (*end - '0');
      for (; digits < 3; digits++)
        frac *= 10;
    }
    if (*end == 'Z')
      end++;
  }
  if (*end)
    return -1;
  *ms = (int64_t)timegm(&tm) * 1000 + frac;
  return 0;
}
