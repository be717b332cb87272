/* Finding a prediction in Replicate's list (GET /v1/predictions): a create
 * whose answer was lost (connection reset after sending) may or may not have
 * made a prediction; the list tells, before anything is created again. */
#ifndef RP_PREDICTION_LIST_H
#define RP_PREDICTION_LIST_H

#include <stddef.h>

#include "prediction.h"

/* Search the list reply json (newest first, as Replicate sends it) for the
 * prediction made by the create whose body was create_body: the same
 * `input` (compared as JSON values), created_at no earlier than since_ms
 * (Unix ms; the caller allows for clock skew) and, when until_ms > 0, no
 * later than until_ms, id not in exclude (those this request already
 * owns). The oldest such match wins: it was ours first.
 * Returns 1 with *out parsed; 0 when absent, with *covered 1 when the page
 * reaches back past since_ms (absence is proven) and 0 when older entries
 * were left for another page; -1 when json is not a list or create_body
 * has no input. */
int prediction_list_find(const char *json, size_t len, const char *create_body,
                         long long since_ms, long long until_ms, const char *const *exclude,
                         size_t n_exclude, struct prediction *out, int *covered);

/* The list reply's `next` page URL (Replicate pages 100 predictions at a
 * time, newest first, and names the older page by a cursor URL), malloc'd;
 * NULL when there is none or json is not a list. */
char *prediction_list_next(const char *json, size_t len);

/* Replicate's created_at ("2024-10-04T18:07:40.328Z", any number of
 * fraction digits, or "+00:00") in Unix ms; -1 when not that shape. */
long long prediction_time_ms(const char *iso);

#endif
