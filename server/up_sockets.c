/* curl tells us a keep-alive connection it puts back in its pool as
 * CURL_POLL_REMOVE, and the next request on it as a new socket: an epoll DEL
 * and ADD for every upstream request (2 of a non-streamed request's ~8
 * syscalls). A socket curl opened through up_sockets_open instead stays
 * registered while pooled ("parked"); its close comes through
 * up_sockets_close, so a registration never outlives its fd and a reused fd
 * number is never mistaken for it. Sockets curl opens otherwise (the threaded
 * resolver's) are added and removed as curl says. */
#include "up_sockets.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream.h"

struct up_socket {
  struct loop_watch watch;
  struct up_client *client;
  uint32_t events; /* the registered mask, while watch.registered */
  int owned;       /* opened by up_sockets_open: its close reaches us */
  int parked;      /* in curl's pool: its events are not curl's business */
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
  curl_multi_socket_action(c->multi, s->watch.fd, flags, &c->running);
  up_client_drain(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  struct up_client *c = userp;
  struct up_socket *s = socketp;
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
