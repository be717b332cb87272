/* A worker: one thread that owns an event loop, its HTTP/1.1 front
 * (server/http.c: listening socket, client connections) and a libcurl multi
 * handle. A request lives its whole life on one worker, so nothing on the
 * request path takes a lock. */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/config.h"
#include "log.h" /* log_msg: never pass secrets */
#include "loop.h"
#include "upstream.h"

struct http_request;
struct worker;

/* Listening sockets per worker, each its own SO_REUSEPORT socket: each has
 * its own accept queue (listen backlog, capped by somaxconn), so a burst of
 * thousands of connects while the worker is busy is queued, not reset. */
#define LISTENERS_PER_WORKER 4

struct http_listener {
  struct worker *w;
  int fd;
  struct loop_watch watch;
};

/* An intrusive doubly-linked list node (a list is a node used as its head). */
struct http_list {
  struct http_list *prev, *next;
};

struct worker {
  int index;
  int n_workers; /* how many were started (limits are shared among them) */
  const struct config *cfg;
  struct loop loop;
  struct up_client up;
  struct http_listener listeners[LISTENERS_PER_WORKER];
  int n_listeners;
  struct http_list conns;   /* every client connection */
  struct http_list idle;    /* waiting for a request's first byte, oldest first */
  struct http_list pending; /* woken: run by http_run after the loop's batch */
  size_t n_conns, max_conns; /* max_connections' share of this worker */
  struct loop_timer accept_timer; /* resumes accepting after EMFILE */
  uint64_t refused_log_ms;  /* last "at max_connections" warning */
  int wake_fd; /* eventfd: the main thread asks for shutdown through it */
  struct loop_watch wake_watch;
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


#endif
