/* The team gateway: the one place a /v1 request is admitted (who calls,
 * which model, limits and budget reserved) and the one place it is settled
 * (real tokens, cost, limits reconciled, one ledger row). Keys are looked up
 * in an in-memory snapshot that a background thread refreshes from the store,
 * so no SQLite call runs on an event-loop thread for /v1 traffic. */
#ifndef RP_GATEWAY_H
#define RP_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "../shared/config.h"
#include "../shared/keys.h"

struct http_request;
struct store;
struct admission;

/* The database file: `database`, else replicate-proxy.db beside the config
 * file (or in the working directory). Malloc'd, or NULL. */
char *gateway_db_path(const struct config *cfg, const char *config_path);

/* Open the store, load the keys, start the snapshot and ledger threads.
 * Before the workers start. 0, or -1 with a message in err. */
int gateway_open(const struct config *cfg, const char *db_path, char *err, size_t errlen);
/* Flush every ledger row, stop the threads, close (after the workers). */
void gateway_close(void);

/* Step 1 of a generation request (before the body is parsed): who calls.
 * Registers settlement, so every answer from here on (400s and refusals
 * included) makes one ledger row. NULL after answering 401 (or 500). */
struct admission *gateway_authorize(struct http_request *hr, const char *route);
/* The Replicate token for this request's predictions. */
const char *gateway_upstream_token(const struct admission *a);
/* Who owns what this request stores (Responses kept for continuation): the
 * key's token; the master key's; in pass-through the keyed hash of the
 * caller's bearer token; "" when nobody presents a key (one developer, the
 * configured token). 0, or -1 when the hash fails. */
int gateway_scope(struct http_request *hr, const struct admission *a,
                  char out[KEYS_TOKEN_LEN + 1]);

struct gateway_request {
  const char *model;   /* as the client sent it */
  long max_tokens;     /* <= 0: the model's default */
  int n;               /* predictions the request makes */
  int stream;
  const char *body;    /* the raw body: prompt estimate, `user` */
  size_t body_len;
};
/* Step 2 (after parsing): model access, limits and budget, reserved at once.
 * 0 admitted (rate-limit headers added), -1 after answering 403/429/500.
 * With redis_url, 1: the request waits for the shared limits' answer, then
 * routes_dispatch runs it again (same admission, decided); on 1 the handler
 * returns as on -1. */
int gateway_admit(struct http_request *hr, struct admission *a, const struct gateway_request *r);

/* ---- for the admin API (admin.c) ---- */

/* Gateway mode (master_key set)? */
int gateway_enabled(void);
/* Is key the master key (constant time)? */
int gateway_is_master(const char *key);
/* The token (keyed hash) of a key as this database computes it. 0 or -1. */
int gateway_token_of(const char *key, char out[KEYS_TOKEN_LEN + 1]);
/* Is token a live key in the snapshot (not blocked, not expired)? */
int gateway_key_live(const char *token);
/* The admin connection, locked for the caller; unlock with changed = 1
 * after writing keys (the snapshot is reloaded before it returns). */
struct store *gateway_store_lock(void);
void gateway_store_unlock(int changed);
/* The ledger's rows queued, written and dropped (for /metrics). 0, or -1
 * with no gateway open. Any thread. */
int gateway_ledger_counts(size_t *queued, uint64_t *written, uint64_t *dropped);
/* Every ledger row submitted so far is in the store (for spend reads). */
void gateway_ledger_flush(void);
/* The database's HMAC secret (for the CLI path, which has no gateway open). */
const unsigned char *gateway_secret(void);

#endif
