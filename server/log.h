/* The process's log lines other than the access line (startup, reload,
 * circuit, Redis and database state, warnings): text, or with log_format =
 * json one object per line {"time","level","msg"[,"request_id"][,fields]}.
 * A line written while a request's work runs on this thread carries that
 * request's id (log_request_enter). Never pass a key or token. */
#ifndef RP_LOG_H
#define RP_LOG_H

#include "../shared/config.h"

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);

/* A line with named fields: n pairs of key and string value (not escaped by
 * the caller). Text: "msg key=value ...". */
struct log_field {
  const char *key, *value;
};
void log_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

/* The access line at level info: as text (access_log_text) with log_msg's
 * prefix and no request context added (the line names its rid), or as the
 * bare JSON object (access_log_json). Each is written in place in the
 * worker's batch, else in one write (no allocation per request). */
struct access_log_entry;
struct access_log_lens;
void log_access_text(const struct access_log_entry *e);
/* lens: the entry's string lengths as the line measured them (the server
 * span reuses them), or NULL. */
void log_access_json(const struct access_log_entry *e, struct access_log_lens *lens);

/* The request whose work this thread now runs: its id is copied, and lines
 * until the matching leave carry it. Nested, the outer one stays: enter
 * returns 0 then (and leave(0) does nothing), 1 when it took the context.
 * NULL or "" takes nothing. */
int log_request_enter(const char *request_id);
/* The calling thread (a worker) holds its lines until log_batch_flush, which
 * its loop calls once an iteration; log_batch_end flushes and stops that. */
void log_batch_begin(void);
void log_batch_flush(void);
void log_batch_end(void);
void log_request_leave(int entered);

#endif
