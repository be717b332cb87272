#include <pthread.h>
#include <stdint.h>

#include "../../shared/limits.h"
#include "test.h"

#define MIN 60000
#define WALL 1700000000000LL /* an arbitrary unix ms */

static const struct limit_spec NONE = {0, 0, 0, -1, 0, 0};

static int admit(struct limit_table *t, const char *key, const struct limit_spec *s, long tokens,
                 double cost, int64_t now, struct limit_ticket *tk, struct limit_state *st) {
  return limit_admit(t, key, s, tokens, cost, now, WALL + now, tk, st);
}

static void test_no_limits(void) {
  TEST("no limits");
  struct limit_table *t = limit_table_new();
  struct limit_ticket tk;
  struct limit_state st;
  for (int i = 0; i < 1000; i++)
    CHECK_INT(admit(t, "k", &NONE, 100000, 5.0, i, &tk, &st), 0);
  CHECK_INT(st.refused, LIMIT_NONE);
  CHECK_INT(st.req_limit, 0);
  CHECK_INT(st.tok_limit, 0);
  limit_table_free(t); /* tickets in flight are the table's to free */
}

static void test_rpm(void) {
  TEST("rpm");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.rpm = 3;
  struct limit_ticket tk;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 0, 0, 1000, &tk, &st), 0);
  CHECK_INT(st.req_limit, 3);
  CHECK_INT(st.req_remaining, 2);
  CHECK_INT(st.req_reset_ms, MIN);
  limit_settle(t, &tk, 0, 0, 1000, WALL);
  CHECK_INT(admit(t, "k", &s, 0, 0, 11000, &tk, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 21000, &tk, &st), 0);
  CHECK_INT(st.req_remaining, 0);
  CHECK_INT(st.req_reset_ms, MIN - 20000); /* the first admission leaves at 61000 */
  /* Full: the wait is until the oldest admission leaves the window. */
  CHECK_INT(admit(t, "k", &s, 0, 0, 30000, &tk, &st), 1);
  CHECK_INT(st.refused, LIMIT_RPM);
  CHECK_INT(st.retry_after_ms, 31000);
  CHECK(st.limit == 3 && st.used == 3);
  CHECK_INT(st.req_remaining, 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 60999, &tk, &st), 1);
  CHECK_INT(st.retry_after_ms, 1);
  /* Settling does not give an RPM slot back; time does. */
  CHECK_INT(admit(t, "k", &s, 0, 0, 61000, &tk, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 61001, &tk, &st), 1);
  CHECK_INT(st.retry_after_ms, 10000 - 1);
  /* Other keys are separate. */
  CHECK_INT(admit(t, "other", &s, 0, 0, 61001, &tk, &st), 0);
  CHECK_INT(st.req_remaining, 2);
  limit_table_free(t);
}

static void test_rpm_lowered(void) {
  TEST("rpm lowered below the window's count");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.rpm = 4;
  struct limit_ticket tk;
  struct limit_state st;
  for (int i = 0; i < 4; i++)
    CHECK_INT(admit(t, "k", &s, 0, 0, i * 1000, &tk, &st), 0);
  s.rpm = 2; /* 4 in the window, 2 allowed: 3 must leave for one more */
  CHECK_INT(admit(t, "k", &s, 0, 0, 5000, &tk, &st), 1);
  CHECK_INT(st.retry_after_ms, 2000 + MIN - 5000);
  CHECK_INT(st.req_remaining, 0);
  limit_table_free(t);
}

static void test_tpm(void) {
  TEST("tpm");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.tpm = 1000;
  struct limit_ticket a, b, c;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 600, 0, 0, &a, &st), 0);
  CHECK_INT(st.tok_limit, 1000);
  CHECK_INT(st.tok_remaining, 400);
  CHECK_INT(a.tokens, 600);
  CHECK_INT(admit(t, "k", &s, 300, 0, 5000, &b, &st), 0);
  CHECK_INT(st.tok_remaining, 100);
  /* 200 more: the first entry (600) must leave, at 60000. */
  CHECK_INT(admit(t, "k", &s, 200, 0, 10000, &c, &st), 1);
  CHECK_INT(st.refused, LIMIT_TPM);
  CHECK_INT(st.retry_after_ms, 50000);
  CHECK(st.limit == 1000 && st.used == 900);
  /* Settle reconciles: the first used only 50 of its 600. */
  limit_settle(t, &a, 50, 0, 11000, WALL + 11000);
  CHECK(a.slot == NULL);
  CHECK_INT(admit(t, "k", &s, 200, 0, 12000, &c, &st), 0);
  CHECK_INT(st.tok_remaining, 1000 - 50 - 300 - 200);
  /* The reconciled entry keeps its admission time: it leaves at 60000. */
  CHECK_INT(admit(t, "k", &s, 501, 0, 20000, &a, &st), 1);
  CHECK_INT(st.retry_after_ms, 65000 - 20000); /* 50 leaving at 60000 is not enough; 300 at 65000 is */
  /* Using more than reserved counts too. */
  limit_settle(t, &b, 700, 0, 21000, WALL);
  CHECK_INT(admit(t, "k", &s, 51, 0, 21000, &a, &st), 1);
  CHECK(st.used == 50 + 700 + 200);
  CHECK_INT(st.retry_after_ms, MIN - 21000); /* 50 leaves at 60000 */
  /* A request bigger than the whole limit can never pass. */
  CHECK_INT(admit(t, "k", &s, 1001, 0, 200000, &a, &st), 1);
  CHECK_INT(st.refused, LIMIT_TPM);
  CHECK_INT(st.retry_after_ms, -1);
  /* After a quiet minute everything is back. */
  CHECK_INT(admit(t, "k", &s, 1000, 0, 200000, &a, &st), 0);
  CHECK_INT(st.tok_remaining, 0);
  limit_table_free(t);
}

static void test_tpm_settle_after_window(void) {
  TEST("tpm settle after its entry left the window");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.tpm = 100;
  struct limit_ticket a, b;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 100, 0, 0, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 10, 0, MIN, &b, &st), 0); /* a's entry has left */
  limit_settle(t, &a, 5000, 0, MIN + 1, WALL); /* a long stream: nothing left to reconcile */
  CHECK_INT(admit(t, "k", &s, 90, 0, MIN + 2, &a, &st), 0);
  CHECK_INT(st.tok_remaining, 0);
  limit_table_free(t);
}

static void test_parallel(void) {
  TEST("parallel");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.parallel = 2;
  struct limit_ticket a, b, c;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 0, 0, 0, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 0, &b, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 0, &c, &st), 1);
  CHECK_INT(st.refused, LIMIT_PARALLEL);
  CHECK_INT(st.retry_after_ms, 1000);
  CHECK(st.limit == 2 && st.used == 2);
  limit_settle(t, &b, 0, 0, 1, WALL);
  limit_settle(t, &b, 0, 0, 1, WALL); /* a second settle is a no-op */
  CHECK_INT(admit(t, "k", &s, 0, 0, 2, &c, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 2, &b, &st), 1);
  limit_settle(t, &a, 0, 0, 3, WALL);
  limit_settle(t, &c, 0, 0, 3, WALL);
  limit_table_free(t);
}

static void test_budget(void) {
  TEST("budget");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.max_budget = 1.00;
  struct limit_ticket a, b, c;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 0, 0.60, 0, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0.40, 0, &b, &st), 0); /* exactly at the limit */
  /* In flight counts: nothing more fits, and without a reset it never will. */
  CHECK_INT(admit(t, "k", &s, 0, 0.01, 0, &c, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET);
  CHECK_INT(st.retry_after_ms, -1);
  CHECK(st.limit == 1.00 && st.used == 1.00);
  /* Settling replaces the reservation with the real cost. */
  limit_settle(t, &a, 0, 0.10, 1, WALL);
  CHECK(limit_spend(t, "k", WALL) == 0.10);
  CHECK_INT(admit(t, "k", &s, 0, 0.50, 2, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0.01, 2, &c, &st), 1);
  CHECK(st.used == 1.00);
  limit_settle(t, &b, 0, 0.40, 3, WALL);
  limit_settle(t, &a, 0, 0.50, 3, WALL);
  CHECK(limit_spend(t, "k", WALL) == 1.00);
  /* A cost above the whole budget never passes. */
  CHECK_INT(admit(t, "fresh", &s, 0, 1.01, 2, &c, &st), 1);
  CHECK_INT(st.retry_after_ms, -1);
  /* A zero budget admits only free requests. */
  s.max_budget = 0;
  CHECK_INT(admit(t, "zero", &s, 0, 0, 2, &c, &st), 0);
  CHECK_INT(admit(t, "zero", &s, 0, 0.000001, 2, &c, &st), 1);
  limit_table_free(t);
}

static void test_budget_window(void) {
  TEST("budget window");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.max_budget = 1.00;
  s.budget_window_ms = 3600000;
  s.budget_reset_at_ms = WALL + 3600000;
  struct limit_ticket a, b;
  struct limit_state st;
  CHECK_INT(limit_set_spend(t, "k", 0.95), 0); /* what the ledger says at load */
  CHECK(limit_spend(t, "k", WALL) == 0.95);
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.10, 0, WALL, &a, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET);
  CHECK_INT(st.retry_after_ms, 3600000); /* until the reset */
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.10, 0, WALL + 3599000, &a, &st), 1);
  CHECK_INT(st.retry_after_ms, 1000);
  /* The reset clears settled spend... */
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.10, 0, WALL + 3600000, &a, &st), 0);
  CHECK(limit_spend(t, "k", WALL + 3600000) == 0);
  /* ...and moves forward by whole windows even when the spec's reset is stale. */
  limit_settle(t, &a, 0, 0.90, 0, WALL + 3600000 * 3 + 5);
  CHECK(limit_spend(t, "k", WALL + 3600000 * 3 + 5) == 0.90); /* settled after two resets */
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.20, 0, WALL + 3600000 * 3 + 10, &b, &st), 1);
  CHECK_INT(st.retry_after_ms, 3600000 - 10); /* the next reset is WALL + 4 h */
  CHECK(limit_spend(t, "k", WALL + 3600000 * 4) == 0);
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.20, 0, WALL + 3600000 * 4, &b, &st), 0);
  /* A new spec (the key was updated) is adopted at once. */
  s.budget_reset_at_ms = WALL + 3600000 * 4 + 500;
  s.budget_window_ms = 1000;
  limit_set_spend(t, "k", 0.85);
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.20, 0, WALL + 3600000 * 4 + 100, &a, &st), 1);
  CHECK_INT(st.retry_after_ms, 400);
  CHECK(st.used == 1.05); /* b is still in flight */
  limit_settle(t, &b, 0, 0, 0, WALL + 3600000 * 4 + 200);
  CHECK_INT(limit_admit(t, "k", &s, 0, 0.20, 0, WALL + 3600000 * 4 + 2600, &a, &st), 0);
  CHECK(limit_spend(t, "k", WALL + 3600000 * 4 + 2600) == 0);
  limit_settle(t, &a, 0, 0.05, 0, WALL + 3600000 * 4 + 2700);
  CHECK(limit_spend(t, "k", WALL + 3600000 * 4 + 2700) == 0.05);
  CHECK(limit_spend(t, "k", WALL + 3600000 * 4 + 3500) == 0); /* reset at +3500 */
  CHECK(limit_spend(t, "absent", WALL) == 0);
  limit_table_free(t);
}

static void test_all_or_nothing(void) {
  TEST("all or nothing");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = {2, 1000, 5, 1.00, 0, 0};
  struct limit_ticket a, b;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 900, 0.10, 0, &a, &st), 0);
  /* TPM refuses: neither an RPM slot, a parallel slot nor budget is taken. */
  for (int i = 0; i < 10; i++) {
    CHECK_INT(admit(t, "k", &s, 200, 0.10, 1, &b, &st), 1);
    CHECK_INT(st.refused, LIMIT_TPM);
    CHECK_INT(st.req_remaining, 1);
    CHECK_INT(st.tok_remaining, 100);
  }
  /* Budget refuses: no RPM slot or tokens taken. */
  CHECK_INT(admit(t, "k", &s, 100, 0.95, 2, &b, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET);
  CHECK(st.used == 0.10);
  CHECK_INT(admit(t, "k", &s, 100, 0.90, 3, &b, &st), 0);
  CHECK_INT(st.req_remaining, 0);
  CHECK_INT(st.tok_remaining, 0);
  /* Several refuse: the reported one is the longest wait (budget: never). */
  CHECK_INT(admit(t, "k", &s, 100, 0.50, 4, &b, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET);
  CHECK_INT(st.retry_after_ms, -1);
  CHECK_INT(admit(t, "k", &s, 100, 0, 4, &b, &st), 1);
  CHECK_INT(st.refused == LIMIT_RPM || st.refused == LIMIT_TPM, 1);
  CHECK_INT(st.retry_after_ms, MIN - 4);
  limit_table_free(t);
}

static void test_clock_skew(void) {
  TEST("a thread's clock reading older than the last admission");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.rpm = 2;
  struct limit_ticket tk;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 0, 0, 1000, &tk, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0, 999, &tk, &st), 0);
  CHECK_INT(tk.at_ms, 1000); /* time does not run backwards in the window */
  CHECK_INT(admit(t, "k", &s, 0, 0, 998, &tk, &st), 1);
  CHECK_INT(st.retry_after_ms, MIN);
  limit_table_free(t);
}

static void test_forget(void) {
  TEST("forget");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = {1, 100, 1, 1.00, 0, 0};
  struct limit_ticket a, b;
  struct limit_state st;
  CHECK_INT(admit(t, "k", &s, 100, 1.00, 0, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 1, 0, 0, &b, &st), 1);
  limit_forget(t, "k"); /* a is in flight: its entry lives on until it settles */
  CHECK_INT(admit(t, "k", &s, 100, 1.00, 0, &b, &st), 0);
  CHECK(b.slot != a.slot);
  limit_settle(t, &a, 100, 1.00, 1, WALL); /* goes to the forgotten entry */
  CHECK(limit_spend(t, "k", WALL) == 0);
  limit_settle(t, &b, 100, 0.25, 1, WALL);
  CHECK(limit_spend(t, "k", WALL) == 0.25);
  limit_forget(t, "k");
  limit_forget(t, "absent");
  CHECK(limit_spend(t, "k", WALL) == 0);
  CHECK_INT(admit(t, "k", &s, 100, 1.00, 2, &a, &st), 0);
  /* Forgotten with a ticket outstanding, then the table goes: no leak. */
  limit_forget(t, "k");
  limit_table_free(t);
}

/* A key change reloads its spend from the store (limit_set_spend): what was
 * settled but whose row is not written yet must not be lost (issue 8). */
static void test_reload_keeps_unwritten(void) {
  TEST("reload keeps settled-not-written spend");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.max_budget = 1.00;
  struct limit_ticket a, b;
  struct limit_state st;
  CHECK_INT(limit_set_spend(t, "k", 0.10), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0.50, 0, &a, &st), 0);
  limit_settle(t, &a, 0, 0.30, 1, WALL + 1);
  /* The store still says 0.10: its row is queued. */
  CHECK_INT(limit_set_spend(t, "k", 0.10), 0);
  CHECK(limit_spend(t, "k", WALL + 2) == 0.40);
  /* Admission sees it too: 0.40 + 0.65 > 1.00. */
  CHECK_INT(admit(t, "k", &s, 0, 0.65, 2, &b, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET);
  /* The row is written: the store's figure includes it now. */
  limit_written(t, "k", 0.30, WALL + 1);
  CHECK_INT(limit_set_spend(t, "k", 0.40), 0);
  CHECK(limit_spend(t, "k", WALL + 3) == 0.40);
  limit_written(t, "k", 0.30, WALL + 1); /* never below nothing */
  CHECK_INT(limit_set_spend(t, "k", 0.40), 0);
  CHECK(limit_spend(t, "k", WALL + 3) == 0.40);
  limit_written(t, "absent", 0.30, WALL);
  /* A hang-up: the slot is free at once, the budget stays reserved until the settle. */
  s.parallel = 1;
  CHECK_INT(admit(t, "k", &s, 0, 0.50, 4, &a, &st), 0);
  CHECK_INT(admit(t, "k", &s, 0, 0.01, 4, &b, &st), 1);
  CHECK_INT(st.refused, LIMIT_PARALLEL);
  limit_release(t, &a);
  limit_release(t, &a); /* once */
  CHECK_INT(admit(t, "k", &s, 0, 0.20, 5, &b, &st), 1);
  CHECK_INT(st.refused, LIMIT_BUDGET); /* 0.40 + 0.50 reserved + 0.20 */
  CHECK_INT(admit(t, "k", &s, 0, 0.05, 5, &b, &st), 0);
  limit_settle(t, &b, 0, 0.05, 6, WALL + 6);
  limit_forget(t, "k"); /* a still holds its entry */
  limit_settle(t, &a, 0, 0.25, 7, WALL + 7); /* frees it: no leak */
  /* Rows of a past budget window do not count in the next one. */
  s = NONE;
  s.max_budget = 1.00;
  s.budget_window_ms = 1000;
  s.budget_reset_at_ms = WALL + 1000;
  CHECK_INT(limit_admit(t, "w", &s, 0, 0.10, 0, WALL, &a, &st), 0);
  limit_settle(t, &a, 0, 0.10, 0, WALL + 900);
  CHECK_INT(limit_admit(t, "w", &s, 0, 0.10, 0, WALL + 1100, &b, &st), 0); /* rolls */
  CHECK_INT(limit_set_spend(t, "w", 0), 0);
  CHECK(limit_spend(t, "w", WALL + 1100) == 0);
  limit_settle(t, &b, 0, 0.20, 0, WALL + 1200);
  limit_written(t, "w", 0.10, WALL + 900); /* the past window's row: ignored */
  CHECK_INT(limit_set_spend(t, "w", 0), 0);
  CHECK(limit_spend(t, "w", WALL + 1300) == 0.20);
  limit_table_free(t);
}

static void test_many_keys(void) {
  TEST("many keys (table growth)");
  struct limit_table *t = limit_table_new();
  struct limit_spec s = NONE;
  s.rpm = 1;
  struct limit_ticket tk;
  struct limit_state st;
  char key[32];
  int ok = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "key-%d", i);
    ok += admit(t, key, &s, 0, 0, 0, &tk, &st) == 0;
  }
  CHECK_INT(ok, 5000);
  ok = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "key-%d", i);
    ok += admit(t, key, &s, 0, 0, 0, &tk, &st) == 1;
  }
  CHECK_INT(ok, 5000);
  limit_table_free(t);
}

/* ------------------------------------------------------------ threads */

enum { THREADS = 8 };

struct race {
  struct limit_table *t;
  pthread_barrier_t *go; /* all threads start together, so they collide */
  struct limit_spec spec;
  long tokens;
  double cost;
  int tries;
  int settle; /* settle each admitted request at once (tokens, cost) */
  int admitted;
  int *holders, *max_holders; /* requests in flight right now, the most seen */
};

static void *racer(void *arg) {
  struct race *r = arg;
  pthread_barrier_wait(r->go);
  for (int i = 0; i < r->tries; i++) {
    struct limit_ticket tk;
    struct limit_state st;
    if (limit_admit(r->t, "shared", &r->spec, r->tokens, r->cost, 1000, WALL, &tk, &st) != 0)
      continue;
    r->admitted++;
    if (!r->settle)
      continue;
    int now = __atomic_add_fetch(r->holders, 1, __ATOMIC_SEQ_CST);
    int seen = __atomic_load_n(r->max_holders, __ATOMIC_SEQ_CST);
    while (now > seen &&
           !__atomic_compare_exchange_n(r->max_holders, &seen, now, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
      ;
    __atomic_sub_fetch(r->holders, 1, __ATOMIC_SEQ_CST);
    limit_settle(r->t, &tk, r->tokens, r->cost, 1000, WALL);
  }
  return NULL;
}

/* THREADS threads × tries admits against one key; returns how many passed
 * (and the most requests in flight at once, and the settled spend). */
static int race(struct limit_spec spec, long tokens, double cost, int settle, int tries,
                int *max_holders, double *spend) {
  struct limit_table *t = limit_table_new();
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, THREADS);
  struct race r[THREADS];
  pthread_t th[THREADS];
  int holders = 0, max = 0;
  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct race){t, &go, spec, tokens, cost, tries, settle, 0, &holders, &max};
    pthread_create(&th[i], NULL, racer, &r[i]);
  }
  int total = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    total += r[i].admitted;
  }
  pthread_barrier_destroy(&go);
  if (spend)
    *spend = limit_spend(t, "shared", WALL);
  limit_table_free(t);
  if (max_holders)
    *max_holders = max;
  return total;
}

/* Many rounds: a race at the boundary is rare in any one of them. */
static int rounds_exact(struct limit_spec spec, long tokens, double cost, int settle, int want) {
  for (int round = 0; round < 100; round++)
    if (race(spec, tokens, cost, settle, 1000, NULL, NULL) != want)
      return 0;
  return 1;
}

static void test_concurrency(void) {
  TEST("exact under concurrency");
  struct limit_spec s = NONE;
  s.rpm = 100;
  CHECK(rounds_exact(s, 0, 0, 1, 100));
  s = NONE;
  s.tpm = 10000;
  CHECK(rounds_exact(s, 7, 0, 1, 10000 / 7));
  s = NONE;
  s.parallel = 5;
  CHECK(rounds_exact(s, 0, 0, 0, 5));
  s = NONE;
  s.max_budget = 1.00;
  CHECK(rounds_exact(s, 0, 0.03, 0, 33));
  s = (struct limit_spec){50, 0, 0, 1.00, 0, 0};
  CHECK(rounds_exact(s, 0, 0.03, 0, 33));
  s = (struct limit_spec){20, 0, 0, 1.00, 0, 0};
  CHECK(rounds_exact(s, 0, 0.03, 0, 20));
  /* Churn: admit and settle in a loop. Never more than 2 in flight, and
   * every settle gives its slot back, so some requests keep passing. */
  s = NONE;
  s.parallel = 2;
  int max = 0;
  CHECK(race(s, 0, 0, 1, 20000, &max, NULL) > 0);
  CHECK(max >= 1 && max <= 2);
  /* Budget churn: 160,000 settles of 0.001 add up to exactly 160. */
  s = NONE;
  s.max_budget = 1e6;
  double spend = 0;
  CHECK_INT(race(s, 0, 0.001, 1, 20000, NULL, &spend), THREADS * 20000);
  CHECK(spend == 160.0);
}

/* ----------------------------------------------------------- duration */

static void test_duration(void) {
  TEST("duration format");
  static const struct {
    int64_t ms;
    const char *want;
  } cases[] = {
      {0, "0s"},          {-5, "0s"},         {1, "1ms"},           {120, "120ms"},
      {999, "999ms"},     {1000, "1s"},       {1500, "1.5s"},       {1250, "1.25s"},
      {1001, "1.001s"},   {59999, "59.999s"}, {60000, "1m0s"},      {360000, "6m0s"},
      {61500, "1m1.5s"},  {3600000, "1h0m0s"}, {3723000, "1h2m3s"}, {90061010, "25h1m1.01s"},
  };
  char out[32];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = limit_format_duration(cases[i].ms, out, sizeof out);
    CHECK_STR(out, cases[i].want);
    CHECK_INT(n, strlen(cases[i].want));
  }
  CHECK_INT(limit_format_duration(360000, out, 4), 0); /* "6m0s" needs 5 bytes */
  CHECK_STR(out, "");
  CHECK_INT(limit_format_duration(360000, out, 5), 4);
  CHECK_STR(out, "6m0s");
  CHECK_INT(limit_format_long(0, out, sizeof out), 1);
  CHECK_STR(out, "0");
  CHECK_INT(limit_format_long(9876543210L, out, sizeof out), 10);
  CHECK_STR(out, "9876543210");
  CHECK_INT(limit_format_long(-42, out, sizeof out), 3);
  CHECK_STR(out, "-42");
  CHECK_INT(limit_format_long(12345, out, 5), 0); /* needs 6 bytes */
  CHECK_STR(out, "");
  CHECK_STR(limit_kind_name(LIMIT_RPM), "RPM");
  CHECK_STR(limit_kind_name(LIMIT_BUDGET), "budget");
  CHECK_STR(limit_kind_name(LIMIT_NONE), "");
}

void suite_limits(void) {
  test_no_limits();
  test_rpm();
  test_rpm_lowered();
  test_tpm();
  test_tpm_settle_after_window();
  test_parallel();
  test_budget();
  test_budget_window();
  test_all_or_nothing();
  test_clock_skew();
  test_forget();
  test_reload_keeps_unwritten();
  test_many_keys();
  test_concurrency();
  test_duration();
}
