/* curl tells us a keep-alive connection it puts back in its pool as
 * CURL_POLL_REMOVE, and the next request on it as a new socket: an epoll DEL
 * and ADD for every upstream request (2 of a non-streamed request's ~8
 * syscalls). A socket curl opened through up_sockets_open instead stays
 * registered while pooled ("parked"); its close comes through
 * up_sockets_close, so a registration never outlives its fd and a reused fd
 * number is never mistaken for it. Sockets curl opens otherwise (the threaded
 * resolver's) are added and removed as curl says. */
#include "up_sockets.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "upstream.h"

struct up_socket {
  struct loop_watch watch;
  struct up_client *client;
  uint32_t events; /* the registered mask, while watch.registered */
  int owned;       /* opened by up_sockets_open: its close reaches us */
  int parked;      /* in curl's pool: its events are not curl's business */
  int established; /* a reply came through it: past any handshake */
};

static struct up_socket *table_get(const struct up_client *c, curl_socket_t fd) {
  return fd >= 0 && (size_t)fd < c->n_socks ? c->socks[fd] : NULL;
}

static int table_put(struct up_client *c, curl_socket_t fd, struct up_socket *s) {
  if ((size_t)fd >= c->n_socks) {
    size_t n = c->n_socks ? c->n_socks : 64;
    while (n <= (size_t)fd)
      n *= 2;
    struct up_socket **t = realloc(c->socks, n * sizeof *t);
    if (!t)
      return -1;
    for (size_t i = c->n_socks; i < n; i++)
      t[i] = NULL;
    c->socks = t;
    c->n_socks = n;
  }
  c->socks[fd] = s;
  return 0;
}

/* Freed through the loop's graveyard: a later event of the batch may name it. */
static void drop(struct up_client *c, struct up_socket *s) {
  loop_watch_remove(c->loop, &s->watch);
  s->watch.cb = NULL;
  loop_defer_free(c->loop, s);
}

/* The socket whose event this thread is handing to curl, while it does. */
static _Thread_local struct up_socket *reading;

void up_sockets_delivered(const struct up_transfer *t) {
  struct up_socket *r = reading;
  if (r && !r->established && t->sock == r->watch.fd)
    r->established = 1;
}

/* libcurl asks the kernel whether more is waiting after every read
 * (poll(fd, POLLIN, 0): data_pending in 7.88, the socket filter's in 8.x),
 * and before each read of a transfer it wakes without an event (every
 * transfer of an HTTP/2 connection, on any event of the connection): a
 * syscall per token, and several over HTTP/2. For the socket whose event
 * is being handled, while a transfer uses it, once a reply has come
 * through it, the loop has the answer: it watches that socket
 * level-triggered, so whatever curl leaves unread comes back as the next
 * event, where curl reads first (the event's bits say readable). Before a
 * reply has come through (a TLS handshake's checks), the kernel answers:
 * told "no" each time, a step waiting for input would never run. Any other
 * check goes to the kernel too: a pooled connection's (curl's "is it still
 * alive" before reuse), a connect's, a check with a timeout or of more than
 * one socket, other threads' and other libraries'. This definition takes
 * the place of libc's for libcurl (the executable's symbols come first). */
#if defined(__GNUC__) && !defined(__clang__)
/* glibc declares poll's array write-only (for _FORTIFY_SOURCE), so gcc takes
 * a read of it in the definition for a read of uninitialized memory. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
int poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
  const struct up_socket *r = reading;
  if (r && r->established && r->owned && !r->parked && n == 1 && timeout_ms == 0 &&
      fds[0].fd == r->watch.fd && !(fds[0].events & (POLLOUT | POLLWRNORM | POLLWRBAND))) {
    fds[0].revents = 0;
    return 0;
  }
  if (timeout_ms < 0)
    return ppoll(fds, n, NULL, NULL);
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
  return ppoll(fds, n, &ts, NULL);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void on_socket_event(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  struct up_socket *s = ud;
  struct up_client *c = s->client;
  if (s->parked) {
    /* A pooled connection's peer sent or closed: stop the level-triggered
     * wake-ups; curl's own check finds it dead before reusing it. */
    loop_watch_remove(c->loop, &s->watch);
    return;
  }
  int flags = 0;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
    flags |= CURL_CSELECT_IN;
  if (events & EPOLLOUT)
    flags |= CURL_CSELECT_OUT;
  if (events & EPOLLERR)
    flags |= CURL_CSELECT_ERR;
  reading = s; /* freed only through the graveyard, after this event */
  curl_multi_socket_action(c->multi, s->watch.fd, flags, &c->running);
  reading = NULL;
  up_client_drain(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  struct up_client *c = userp;
  struct up_socket *s = socketp;
  struct up_transfer *t = NULL;
  if (what != CURL_POLL_REMOVE && curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t) == CURLE_OK &&
      t)
    t->sock = fd;
  if (what == CURL_POLL_REMOVE) {
    if (!s)
      return 0;
    curl_multi_assign(c->multi, fd, NULL);
    if (s->owned) {
      if (!s->parked)
        c->n_parked++;
      s->parked = 1; /* registered as it is, until reused or closed */
    } else
      drop(c, s);
    return 0;
  }
  if (!s)
    s = table_get(c, fd); /* ours: new, or parked */
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s)
      return -1;
    s->client = c;
    loop_watch_init(&s->watch, fd, on_socket_event, s);
  }
  if (s->parked)
    c->n_parked--;
  s->parked = 0;
  curl_multi_assign(c->multi, fd, s);
  uint32_t ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    ev |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    ev |= EPOLLOUT;
  if (s->watch.registered && s->events == ev)
    return 0;
  if (loop_watch_set(c->loop, &s->watch, ev) != 0)
    return -1;
  s->events = ev;
  return 0;
}

static curl_socket_t up_sockets_open(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr) {
  (void)purpose;
  struct up_client *c = clientp;
  curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd < 0)
    return CURL_SOCKET_BAD;
  struct up_socket *s = calloc(1, sizeof *s);
  if (!s || table_put(c, fd, s) != 0) {
    free(s); /* then it is registered and removed as curl says */
    return fd;
  }
  s->client = c;
  s->owned = 1;
  c->n_conns++;
  loop_watch_init(&s->watch, fd, on_socket_event, s);
  return fd;
}

static int up_sockets_close(void *clientp, curl_socket_t fd) {
  struct up_client *c = clientp;
  struct up_socket *s = table_get(c, fd);
  if (s) {
    if (reading == s)
      reading = NULL; /* its fd number may be a new socket's next */
    c->n_conns--;
    if (s->parked)
      c->n_parked--;
    c->socks[fd] = NULL;
    s->watch.registered = 0; /* close() below removes it from epoll */
    s->watch.cb = NULL;
    loop_defer_free(c->loop, s);
  }
  return close(fd);
}

void up_sockets_init(struct up_client *c) {
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
}

void up_sockets_setopt(struct up_client *c, CURL *easy) {
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, up_sockets_open);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, c);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, up_sockets_close);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, c);
}

void up_sockets_free(struct up_client *c) {
  for (size_t i = 0; i < c->n_socks; i++)
    free(c->socks[i]); /* none left once curl closed its connections */
  free(c->socks);
  c->socks = NULL;
  c->n_socks = 0;
}
