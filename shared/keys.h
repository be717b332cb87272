/* Virtual keys: generation, the keyed hash they are stored as, the display
 * form, constant-time comparison, and the pieces of a key record that are
 * pure arithmetic (budget durations and windows). Pure except keys_generate
 * (getrandom). */
#ifndef RP_KEYS_H
#define RP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_RAW_BYTES 32
#define KEYS_KEY_MAX 64    /* "sk-" + 43 base64url characters + NUL fits */
#define KEYS_TOKEN_LEN 64  /* hex HMAC-SHA256 */
#define KEYS_SECRET_BYTES 32
#define KEYS_DISPLAY_MAX 16 /* "sk-…abcd" */

/* base64url without padding; out needs 4*ceil(n/3)+1 bytes. Returns the length. */
size_t keys_base64url(const unsigned char *in, size_t n, char *out, size_t outlen);

/* "sk-" + base64url(raw). */
void keys_format(const unsigned char raw[KEYS_RAW_BYTES], char out[KEYS_KEY_MAX]);

/* A new key from getrandom. 0, or -1 when the kernel gave no randomness. */
int keys_generate(char out[KEYS_KEY_MAX]);

/* Random bytes (the per-database secret). 0 or -1. */
int keys_random(unsigned char *out, size_t n);

/* The key's stable id: hex HMAC-SHA256(secret, key). 0 or -1. */
int keys_hash(const unsigned char *secret, size_t secret_len, const char *key,
              char out[KEYS_TOKEN_LEN + 1]);

/* The same HMAC with the secret's pads hashed once: per key only the key's
 * own bytes are hashed (the request path). Read-only after init, so one
 * may be shared by threads. */
struct keys_hmac {
  void *inner, *outer; /* EVP_MD_CTX after the ipad / opad blocks */
};
int keys_hmac_init(struct keys_hmac *h, const unsigned char *secret, size_t secret_len);
int keys_hmac_token(const struct keys_hmac *h, const char *key, char out[KEYS_TOKEN_LEN + 1]);
void keys_hmac_free(struct keys_hmac *h);

/* "sk-…abcd": the prefix and the last four characters. */
void keys_display(const char *key, char out[KEYS_DISPLAY_MAX]);

/* Equal strings, in time independent of where they differ (same length
 * assumed for the secret part: both are hex tokens). */
int keys_equal(const char *a, const char *b);

/* The key a client presented: `Authorization: Bearer K` or `x-api-key: K`
 * (either may be NULL). Returns a pointer into one of them, or NULL. */
const char *keys_from_headers(const char *authorization, const char *x_api_key);

/* LiteLLM's durations: "30s", "10m", "1h", "1d", "7d", "30d" (a number and
 * one unit of s, m, h, d). 0 with *ms set, or -1. */
int keys_parse_duration(const char *s, int64_t *ms);

/* The next reset of a budget window at or after now: reset_at advanced by
 * whole windows. Returns reset_at when window_ms <= 0. */
int64_t keys_next_reset(int64_t reset_at_ms, int64_t window_ms, int64_t now_ms);

/* Unix ms as "2026-12-02T11:30:00.123Z". */
void keys_iso_time(int64_t ms, char *out, size_t len);

/* "2026-12-02" (midnight UTC) or "2026-12-02T11:30:00[.123]Z" to unix ms.
 * 0 or -1. */
int keys_parse_date(const char *s, int64_t *ms);

#endif
