/* The SQLite store against a temporary file: schema, secret, keys, ledger. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../server/store/store.h"
#include "test.h"

static struct key_record sample(const char *token) {
  struct key_record k;
  memset(&k, 0, sizeof k);
  snprintf(k.token, sizeof k.token, "%s", token);
  snprintf(k.display, sizeof k.display, "sk-...%.4s", token);
  k.key_alias = strdup("alice");
  k.models = strdup("[\"deepseek-v3.1\"]");
  k.max_budget = 2.5;
  k.rpm_limit = 10;
  k.created_ms = 1000;
  return k;
}

void suite_store(void) {
  char dir[] = "/tmp/rp-store-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  char path[128];
  snprintf(path, sizeof path, "%s/t.db", dir);
  char err[256];
  struct store *s = store_open(path, 1000, err, sizeof err);
  CHECK(s != NULL);
  if (!s)
    return;

  TEST("secret: made once, the same for every connection");
  unsigned char a[KEYS_SECRET_BYTES], b[KEYS_SECRET_BYTES];
  struct store *s2 = store_open(path, 1000, err, sizeof err);
  CHECK(store_secret(s, a) == 0 && store_secret(s2, b) == 0);
  CHECK(memcmp(a, b, sizeof a) == 0);

  TEST("keys: insert, get, update, retoken, delete; the version moves");
  int64_t v0 = store_keys_version(s2);
  struct key_record k = sample("aaaa");
  CHECK(store_key_insert(s, &k) == 0);
  CHECK(store_key_insert(s, &k) == 1); /* the token exists */
  CHECK(store_keys_version(s2) > v0);
  struct key_record got;
  CHECK(store_key_get(s2, "aaaa", &got) == 0);
  CHECK_STR(got.key_alias, "alice");
  CHECK_STR(got.models, "[\"deepseek-v3.1\"]");
  CHECK(got.max_budget == 2.5 && got.rpm_limit == 10 && got.tpm_limit == 0 && !got.metadata);
  key_record_free(&got);
  k.blocked = 1;
  k.max_budget = -1;
  CHECK(store_key_update(s, &k) == 0);
  CHECK(store_key_get(s, "aaaa", &got) == 0 && got.blocked && got.max_budget < 0);
  key_record_free(&got);
  CHECK(store_key_get(s, "nope", &got) == 1);

  TEST("ledger: a batch in one transaction; spend per key and window; reports");
  struct ledger_row rows[3];
  memset(rows, 0, sizeof rows);
  for (int i = 0; i < 3; i++) {
    rows[i].api_key = i < 2 ? "aaaa" : NULL;
    rows[i].model = "deepseek-v3.1";
    rows[i].route = "/v1/chat/completions";
    rows[i].prompt_tokens = 10;
    rows[i].completion_tokens = 5;
    rows[i].spend = 0.25;
    rows[i].start_ms = 1000 + i * 1000;
    rows[i].end_ms = rows[i].start_ms + 500;
    rows[i].status = 200;
  }
  CHECK(store_ledger_insert(s, rows, 3) == 0);
  double spend = 0;
  CHECK(store_key_spend(s2, "aaaa", 0, &spend) == 0 && spend == 0.5);
  CHECK(store_key_spend(s2, "aaaa", 1500, &spend) == 0 && spend == 0.25);

  TEST("ledger: spend of the rows that ended by a time (a budget's start in Redis)");
  CHECK(store_key_spend_until(s2, "aaaa", 0, 1499, &spend) == 0 && spend == 0);
  CHECK(store_key_spend_until(s2, "aaaa", 0, 1500, &spend) == 0 && spend == 0.25);
  CHECK(store_key_spend_until(s2, "aaaa", 0, 2500, &spend) == 0 && spend == 0.5);
  CHECK(store_key_spend_until(s2, "aaaa", 1500, 2499, &spend) == 0 && spend == 0);
  cJSON *rep = store_spend_report(s2, "api_key", 0, 0);
  CHECK(cJSON_GetArraySize(rep) == 2);
  cJSON_Delete(rep);
  CHECK(store_spend_report(s2, "user; DROP TABLE keys", 0, 0) == NULL);
  cJSON *logs = store_spend_logs(s2, "aaaa", 0, 2500);
  CHECK(cJSON_GetArraySize(logs) == 2);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(logs, 0), "startTime");
  CHECK(cJSON_IsString(t) && strcmp(t->valuestring, "1970-01-01T00:00:01.000Z") == 0);
  cJSON_Delete(logs);

  TEST("ledger: batches past 16 rows (multi-row inserts), every column of every row kept");
  {
    enum { N = 16 + 17 + 40 };
    static struct ledger_row many[N];
    static char ids[N][16], addrs[N][24];
    double want = 0;
    for (int i = 0; i < N; i++) {
      memset(&many[i], 0, sizeof many[i]);
      snprintf(ids[i], sizeof ids[i], "req-%02d", i);
      snprintf(addrs[i], sizeof addrs[i], "10.0.0.%d", i);
      many[i].request_id = ids[i];
      many[i].api_key = "mmmm";
      many[i].model = i % 2 ? "deepseek-v3.1" : "m2";
      many[i].route = "/v1/chat/completions";
      many[i].prompt_tokens = 100 + i;
      many[i].completion_tokens = i;
      many[i].spend = 0.5 * (i + 1);
      many[i].start_ms = 10000 + i;
      many[i].end_ms = 20000 + i;
      many[i].completion_start_ms = i % 3 ? 15000 + i : 0; /* 0: NULL */
      many[i].status = 200 + i % 2;
      many[i].client_addr = addrs[i];
      want += many[i].spend;
    }
    /* 16 (one multi-row insert), 17 (one and a single), 40 (two and 8 singles) */
    CHECK(store_ledger_insert(s, many, 16) == 0);
    CHECK(store_ledger_insert(s, many + 16, 17) == 0);
    CHECK(store_ledger_insert(s, many + 33, 40) == 0);
    CHECK(store_key_spend(s2, "mmmm", 0, &spend) == 0 && spend == want);
    cJSON *got_logs = store_spend_logs(s2, "mmmm", 0, 1u << 30);
    CHECK(cJSON_GetArraySize(got_logs) == N);
    int same = 1;
    for (int i = 0; i < N && got_logs; i++) {
      const cJSON *row = NULL, *e;
      cJSON_ArrayForEach(e, got_logs) {
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(e, "request_id");
        if (cJSON_IsString(rid) && strcmp(rid->valuestring, ids[i]) == 0)
          row = e;
      }
      const cJSON *ip = row ? cJSON_GetObjectItemCaseSensitive(row, "requester_ip_address") : NULL;
      const cJSON *pt = row ? cJSON_GetObjectItemCaseSensitive(row, "prompt_tokens") : NULL;
      const cJSON *md = row ? cJSON_GetObjectItemCaseSensitive(row, "model") : NULL;
      const cJSON *cs = row ? cJSON_GetObjectItemCaseSensitive(row, "completionStartTime") : NULL;
      same &= row && cJSON_IsString(ip) && strcmp(ip->valuestring, addrs[i]) == 0 &&
              cJSON_IsNumber(pt) && pt->valuedouble == 100 + i && cJSON_IsString(md) &&
              strcmp(md->valuestring, many[i].model) == 0 &&
              (i % 3 ? cJSON_IsString(cs) : cJSON_IsNull(cs));
    }
    CHECK(same);
    cJSON_Delete(got_logs);
  }

  TEST("regenerate moves the key's rows; delete");
  CHECK(store_key_retoken(s, "aaaa", "bbbb", "sk-...bbbb") == 0);
  CHECK(store_key_spend(s, "bbbb", 0, &spend) == 0 && spend == 0.5);
  CHECK(store_key_retoken(s, "aaaa", "cccc", "x") == 1);
  CHECK(store_key_delete(s, "bbbb") == 0);
  CHECK(store_key_delete(s, "bbbb") == 1);
  struct key_record *all;
  size_t n;
  CHECK(store_key_list(s, &all, &n) == 0 && n == 0);
  free(all);

  key_record_free(&k);
  store_close(s2);
  store_close(s);
  char f[160];
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
    unlink(f);
  }
  rmdir(dir);
}
