/* The in-memory key snapshot: every key of the store in an immutable hash
 * table that admission reads without touching the database. A thread polls
 * the store's keys version and swaps in a new table when keys change (the
 * CLI's changes are seen within one poll); admin writes reload at once.
 * Keys whose budget changed get their settled spend from the ledger; keys
 * gone are forgotten by the limits table. */
#ifndef RP_KEY_SNAPSHOT_H
#define RP_KEY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "../shared/keys.h"
#include "../shared/limits.h"

struct store;
struct ledger;

/* One key as admission needs it. */
struct snap_key {
  char token[KEYS_TOKEN_LEN + 1];
  char *alias;
  char **models; /* NULL = all */
  size_t n_models;
  struct limit_spec spec;
  int64_t expires_ms; /* 0 = never */
  int blocked;
};

/* A snap_key's token, alias and models live as long as its snapshot. */
struct snapshot;

/* Load every key through st and start polling it every poll_ms (st then
 * belongs to the poll thread). 0 or -1. */
int key_snapshot_start(struct store *st, struct limit_table *limits, struct ledger *ledger,
                       int poll_ms);
/* Stop the thread and free the snapshot. */
void key_snapshot_stop(void);
/* Did the last poll of the store work? (1 before the first; for /ready) */
int key_snapshot_store_ok(void);
/* Reload now through the caller's connection when keys changed. 0 or -1. */
int key_snapshot_reload(struct store *st);

/* The current snapshot, referenced (release with key_snapshot_put); NULL-safe. */
struct snapshot *key_snapshot_get(void);
void key_snapshot_put(struct snapshot *s);
/* The key with this token (constant-time compare), or NULL. */
const struct snap_key *key_snapshot_find(const struct snapshot *s, const char *token);

#endif
