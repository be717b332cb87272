/* The access log line of one request, as text or as one JSON object, and
 * the request id that ties it to the answer, to Replicate and to the ledger.
 * Pure: the caller gathers the figures and writes the line. Never given a
 * key or a token; a body only with log_bodies, through access_log_clip. */
#ifndef RP_ACCESS_LOG_H
#define RP_ACCESS_LOG_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define REQUEST_ID_MAX 128
/* log_bodies: the most of a request body or an answer one line carries. */
#define ACCESS_LOG_BODY_MAX 4096
/* "req_" + this many characters of [A-Za-z0-9] */
#define REQUEST_ID_RANDOM 24

struct access_log_entry {
  const char *request_id;
  double time_unix;          /* when the request arrived */
  const char *client;        /* numeric address, or NULL */
  const char *method, *path; /* path without the query */
  const char *route;         /* bounded label (metrics.h) */
  const char *key_alias;     /* the gateway key's alias, or NULL (never the key) */
  const char *model;         /* NULL: not a completion */
  int stream;
  int status;
  int client_gone;
  long prompt_tokens, completion_tokens; /* -1: unknown */
  double cost_usd;
  long ttfb_ms;              /* -1: nothing sent */
  long duration_ms;
  int retries;
  const char *finish_reason; /* or NULL */
  const char *prediction_id; /* choice 0's, or NULL */
  const char *error_code;    /* an error answer's code (or type), or NULL */
  long upstream_ms;          /* first call to Replicate to the last one's end; -1: none */
  /* log_bodies (JSON only; NULL = not logged): already clipped and redacted. */
  const char *request_body, *answer;
  int request_body_cut, answer_cut;
};

/* A body for the log: at most max bytes of s[0..len), each secret (n of
 * them; NULL or short ones skipped) replaced by "[redacted]" first, so none
 * shows even in part. *cut: something was left out. 0, or -1 (OOM). */
int access_log_clip(struct buf *out, const char *s, size_t len, size_t max,
                    const char *const *secrets, size_t n_secrets, int *cut);

/* A client's X-Request-Id is kept when it is 1..REQUEST_ID_MAX characters of
 * [A-Za-z0-9._-]: anything else (control bytes, quotes, spaces) could forge
 * log lines or headers. */
int access_log_request_id_ok(const char *s);

/* "req_" + one [A-Za-z0-9] per byte of rnd (REQUEST_ID_RANDOM of them). */
void access_log_new_request_id(char out[REQUEST_ID_MAX + 1],
                               const unsigned char rnd[REQUEST_ID_RANDOM]);

/* 2024-01-02T03:04:05.678Z (ACCESS_LOG_TIME_LEN bytes, no NUL) at o, ms
 * capped at 999; nothing when the year is not 0..9999. Returns the end.
 * The second's text is cached per thread. */
#define ACCESS_LOG_TIME_LEN 24
char *access_log_iso_time(char *o, time_t sec, unsigned ms);

/* Append one line (with '\n'). 0, or -1 when out of memory. */
int access_log_json(struct buf *out, const struct access_log_entry *e);
/* The entry's strings' lengths (0 for NULL), measured once for the bound
 * and the line. */
struct access_log_lens {
  size_t request_id, client, method, path, route, key_alias, model, finish_reason,
      prediction_id, error_code, request_body, answer;
};
/* The same line into out, which has access_log_json_bound(e, l) bytes (its
 * NUL included), l as that call filled it: a caller with room at hand
 * needs no allocation. Returns the line's length. */
size_t access_log_json_bound(const struct access_log_entry *e, struct access_log_lens *l);
size_t access_log_json_to(char *out, const struct access_log_entry *e,
                          const struct access_log_lens *l);
/* The text line ("METHOD PATH STATUS Nms rid=..." and key=value), with
 * '\n', appended; 0 or -1 (OOM). _to writes it into out, which has
 * access_log_text_bound(e) bytes, and returns its length. */
int access_log_text(struct buf *out, const struct access_log_entry *e);
size_t access_log_text_bound(const struct access_log_entry *e);
size_t access_log_text_to(char *out, const struct access_log_entry *e);

#endif
