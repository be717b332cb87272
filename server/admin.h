/* The team gateway's admin API, in LiteLLM's shapes: key generate, update,
 * delete, block, unblock, regenerate, info, list; spend logs and reports.
 * The HTTP routes and the CLI (cli.c) run the same operations through
 * admin_run, so both print the same JSON. */
#ifndef RP_ADMIN_H
#define RP_ADMIN_H

#include <cJSON.h>

#include "../shared/oai_error.h"

struct http_request;
struct store;

/* Route handler for every admin path (master key only; 401 otherwise). */
void admin_handle(struct http_request *hr, const char *subpath);

struct admin_ctx {
  struct store *st;
  const unsigned char *secret; /* the database's HMAC secret */
  const char *self_token;      /* key/info without `key`: the caller's own token */
};

/* Run one operation: op is the path without its leading '/' ("key/generate"),
 * args the request's fields (body or query) as a JSON object. 0 with *out a
 * malloc'd JSON text (and *changed = 1 when keys changed), or -1 with e set
 * (400 naming param, 404 unknown key, 500). */
int admin_run(const struct admin_ctx *c, const char *op, const cJSON *args, char **out,
              int *changed, struct oai_error *e);

/* The whole operation as the admin API runs it (on the store thread): the
 * ledger flushed first when it reads spend, the admin connection locked,
 * the snapshot reloaded after key changes. Returns the malloc'd body (the
 * answer or an error object; NULL when out of memory) and *status. */
char *admin_execute(const char *op, const cJSON *args, const char *self_token, int *status);

#endif
