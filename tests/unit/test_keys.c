#include <string.h>

#include "../../shared/keys.h"
#include "test.h"

static void base64url(void) {
  char out[16];
  CHECK(keys_base64url((const unsigned char *)"", 0, out, sizeof out) == 0);
  keys_base64url((const unsigned char *)"f", 1, out, sizeof out);
  CHECK_STR(out, "Zg");
  keys_base64url((const unsigned char *)"foob", 4, out, sizeof out);
  CHECK_STR(out, "Zm9vYg");
  const unsigned char hi[] = {0xfb, 0xff, 0xfe};
  keys_base64url(hi, 3, out, sizeof out); /* the URL-safe alphabet */
  CHECK_STR(out, "-__-");
}

static void format_and_generate(void) {
  unsigned char raw[KEYS_RAW_BYTES];
  memset(raw, 0, sizeof raw);
  char k[KEYS_KEY_MAX];
  keys_format(raw, k);
  CHECK(strncmp(k, "sk-", 3) == 0);
  CHECK(strlen(k) == 3 + 43);
  char a[KEYS_KEY_MAX], b[KEYS_KEY_MAX];
  CHECK(keys_generate(a) == 0 && keys_generate(b) == 0);
  CHECK(strlen(a) == 46 && strcmp(a, b) != 0);
  CHECK(strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
}

static void hmac(void) {
  char out[KEYS_TOKEN_LEN + 1];
  /* RFC 4231 test case 2. */
  CHECK(keys_hash((const unsigned char *)"Jefe", 4, "what do ya want for nothing?", out) == 0);
  CHECK_STR(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  char other[KEYS_TOKEN_LEN + 1];
  keys_hash((const unsigned char *)"Jeff", 4, "what do ya want for nothing?", other);
  CHECK(!keys_equal(out, other)); /* the secret matters */
  CHECK(keys_equal(out, out));
  CHECK(!keys_equal("abc", "abcd"));
  /* The precomputed form gives the same tokens, for short and long secrets. */
  static const char *const secrets[] = {"Jefe", "a secret longer than one 64-byte block of SHA-256, "
                                                "so it is hashed first as RFC 2104 says"};
  for (int i = 0; i < 2; i++) {
    struct keys_hmac h;
    char a[KEYS_TOKEN_LEN + 1], b[KEYS_TOKEN_LEN + 1];
    CHECK(keys_hmac_init(&h, (const unsigned char *)secrets[i], strlen(secrets[i])) == 0);
    CHECK(keys_hmac_token(&h, "what do ya want for nothing?", a) == 0);
    keys_hash((const unsigned char *)secrets[i], strlen(secrets[i]), "what do ya want for nothing?", b);
    CHECK_STR(a, b);
    CHECK(keys_hmac_token(&h, "sk-other", a) == 0);
    keys_hash((const unsigned char *)secrets[i], strlen(secrets[i]), "sk-other", b);
    CHECK_STR(a, b);
    keys_hmac_free(&h);
  }
}

static void display(void) {
  char d[KEYS_DISPLAY_MAX];
  keys_display("sk-AAAAAAAAAAAAwxyz", d);
  CHECK_STR(d, "sk-\xe2\x80\xa6wxyz");
  keys_display("ab", d);
  CHECK_STR(d, "sk-\xe2\x80\xa6" "ab");
}

static void headers(void) {
  CHECK_STR(keys_from_headers("Bearer  sk-1", NULL), "sk-1");
  CHECK_STR(keys_from_headers("bearer sk-1", "sk-2"), "sk-1");
  CHECK_STR(keys_from_headers(NULL, "sk-2"), "sk-2");
  CHECK_STR(keys_from_headers("Basic abc", "sk-2"), "sk-2");
  CHECK(keys_from_headers("Bearer ", NULL) == NULL);
  CHECK(keys_from_headers(NULL, NULL) == NULL);
}

static void durations(void) {
  int64_t ms;
  CHECK(keys_parse_duration("30s", &ms) == 0 && ms == 30000);
  CHECK(keys_parse_duration("10m", &ms) == 0 && ms == 600000);
  CHECK(keys_parse_duration("1h", &ms) == 0 && ms == 3600000);
  CHECK(keys_parse_duration("30d", &ms) == 0 && ms == 30LL * 86400000);
  CHECK(keys_parse_duration("", &ms) == -1);
  CHECK(keys_parse_duration("d", &ms) == -1);
  CHECK(keys_parse_duration("5", &ms) == -1);
  CHECK(keys_parse_duration("5w", &ms) == -1);
  CHECK(keys_parse_duration("5ss", &ms) == -1);
  CHECK(keys_parse_duration("-5s", &ms) == -1);
  CHECK(keys_parse_duration("0s", &ms) == -1);
  CHECK(keys_next_reset(1000, 100, 500) == 1000);   /* not yet due */
  CHECK(keys_next_reset(1000, 100, 1000) == 1100);  /* due now: the next one */
  CHECK(keys_next_reset(1000, 100, 1250) == 1300);  /* skipped windows */
  CHECK(keys_next_reset(1000, 0, 5000) == 1000);    /* no window */
}

static void dates(void) {
  char iso[32];
  keys_iso_time(1764675000123LL, iso, sizeof iso);
  CHECK_STR(iso, "2025-12-02T11:30:00.123Z");
  int64_t ms;
  CHECK(keys_parse_date("2025-12-02", &ms) == 0 && ms == 1764633600000LL);
  CHECK(keys_parse_date("2025-12-02T11:30:00.123Z", &ms) == 0 && ms == 1764675000123LL);
  CHECK(keys_parse_date("2025-12-02T11:30:00Z", &ms) == 0 && ms == 1764675000000LL);
  CHECK(keys_parse_date("yesterday", &ms) == -1);
  CHECK(keys_parse_date("2025-12-02x", &ms) == -1);
}

void suite_keys(void) {
  dates();
  base64url();
  format_and_generate();
  hmac();
  display();
  headers();
  durations();
}
