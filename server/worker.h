/* A worker: one thread that owns an event loop, a libmicrohttpd daemon in
 * external-epoll mode and a libcurl multi handle. A request lives its whole
 * life on one worker, so nothing on the request path takes a lock. */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/config.h"
#include "loop.h"
#include "upstream.h"

struct MHD_Daemon;
struct http_request;
struct worker;

/* libmicrohttpd walks all of a daemon's suspended connections whenever one
 * is resumed, and every idle stream is suspended: splitting a worker's
 * connections over several daemons (each with its own SO_REUSEPORT socket)
 * divides that cost per token. */
#define DAEMONS_PER_WORKER 8

struct http_daemon {
  struct worker *w;
  struct MHD_Daemon *mhd;
  int listen_fd;  /* until libmicrohttpd owns it */
  struct loop_watch watch;
  int pending;    /* ready or a connection resumed: run it */
  uint64_t due_ms; /* libmicrohttpd's own next timeout */
};

struct worker {
  int index;
  const struct config *cfg;
  struct loop loop;
  struct up_client up;
  struct http_daemon daemons[DAEMONS_PER_WORKER];
  int n_daemons;
  int wake_fd; /* eventfd: the main thread asks for shutdown through it */
  struct loop_watch wake_watch;
  int mhd_pending;    /* some daemon is pending: run before sleeping */
  atomic_int draining; /* SIGTERM seen, drain_delay running: /ready fails (set by main) */
  int stopping;       /* SIGTERM seen: no new connections */
  int grace_expired;  /* running requests were told to end */
  uint64_t stop_deadline_ms;
  struct http_request *requests; /* live requests (for shutdown) */
  size_t n_requests;
  int busy_since_trim; /* requests ran since the last malloc_trim */
  uint64_t last_trim_ms;
  pthread_t thread;
};

/* Log to stderr with a level filter; never pass secrets. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_set_level(enum log_level level);

#endif
