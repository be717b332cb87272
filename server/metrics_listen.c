#include "metrics_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../shared/buf.h"
#include "metrics_route.h"

/* A scraper gets this long to send its whole request head (not per read:
 * a byte every few seconds does not keep a slot), and to read the answer. */
#define IO_TIMEOUT_S 5
#define HEAD_MAX 8192
/* Connections reading their heads at once: one that sends nothing holds
 * its slot until the deadline, never the others' scrapes. */
#define MAX_CONNS 16

static struct {
  int fd, stop_fd;
  pthread_t thread;
  int running;
} L = {-1, -1, 0, 0};

int metrics_listen_parse(const char *spec, char *host, size_t hostlen, int *port, char *err,
                         size_t errlen) {
  const char *colon = strrchr(spec, ':');
  const char *h = spec, *h_end = colon;
  if (spec[0] == '[') { /* [v6]:port */
    const char *close = strchr(spec, ']');
    if (!close || close[1] != ':') {
      snprintf(err, errlen, "metrics_listen: expected [IPv6]:PORT, got '%s'", spec);
      return -1;
    }
    h = spec + 1;
    h_end = close;
    colon = close + 1;
  }
  char *end = NULL;
  long p = colon ? strtol(colon + 1, &end, 10) : -1;
  if (!colon || h_end == h || !colon[1] || *end || p < 0 || p > 65535 ||
      (size_t)(h_end - h) >= hostlen) {
    snprintf(err, errlen, "metrics_listen: expected HOST:PORT, got '%s'", spec);
    return -1;
  }
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  *port = (int)p;
  return 0;
}

static uint64_t now_ms(void);

/* Send all of data (the socket has a send timeout), within IO_TIMEOUT_S in
 * all: a client that reads a byte now and then does not hold the thread. */
static void send_all(int fd, const char *data, size_t len) {
  uint64_t until = now_ms() + IO_TIMEOUT_S * 1000u;
  while (len > 0 && now_ms() < until) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    data += n;
    len -= (size_t)n;
  }
}

static void reply(int fd, int status, const char *reason, const char *type, const char *body,
                  size_t body_len, int head_only) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, reason, type, body_len);
  if (n <= 0 || (size_t)n >= sizeof head)
    return;
  send_all(fd, head, (size_t)n);
  if (!head_only)
    send_all(fd, body, body_len);
}

static void error_reply(int fd, int status, const char *reason, const char *code,
                        const char *message) {
  char body[256];
  int n = snprintf(body, sizeof body,
                   "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                   "\"param\":null,\"code\":\"%s\"}}",
                   message, code);
  if (n > 0 && (size_t)n < sizeof body)
    reply(fd, status, reason, "application/json", body, (size_t)n, 0);
}

/* Answer a complete head on fd (blocking, with a send timeout). */
static void answer(int fd, char *head) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  struct timeval tv = {IO_TIMEOUT_S, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char method[16], target[256];
  if (sscanf(head, "%15s %255s", method, target) != 2) {
    error_reply(fd, 400, "Bad Request", "bad_request", "Malformed request.");
    return;
  }
  char *q = strchr(target, '?');
  if (q)
    *q = '\0';
  if (strcmp(target, "/metrics") != 0) {
    error_reply(fd, 404, "Not Found", "not_found", "Only /metrics is served here.");
    return;
  }
  int head_only = strcmp(method, "HEAD") == 0;
  if (!head_only && strcmp(method, "GET") != 0) {
    error_reply(fd, 405, "Method Not Allowed", "method_not_allowed", "Use GET.");
    return;
  }
  struct buf out = BUF_INIT;
  if (metrics_route_render(&out) != 0) {
    buf_free(&out);
    error_reply(fd, 500, "Internal Server Error", "internal_error", "out of memory");
    return;
  }
  reply(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
        out.len, head_only);
  buf_free(&out);
}

/* A connection reading its head (non-blocking), until its deadline. */
struct conn {
  int fd; /* -1: a free slot */
  size_t len;
  uint64_t deadline_ms;
  char head[HEAD_MAX + 1];
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read what c's socket has: 1 when its head is complete (or full), 0 for
 * more to come, -1 when it is done with (closed, reset). */
static int read_head(struct conn *c) {
  while (c->len < HEAD_MAX) {
    ssize_t n = recv(c->fd, c->head + c->len, HEAD_MAX - c->len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    if (n <= 0)
      return -1;
    c->len += (size_t)n;
    c->head[c->len] = '\0';
    if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
      return 1;
  }
  return 1; /* a full head: answered as it is */
}

static void drop(struct conn *c) {
  close(c->fd);
  c->fd = -1;
}

static void *run(void *arg) {
  (void)arg;
  static struct conn conns[MAX_CONNS]; /* this thread's alone */
  for (int i = 0; i < MAX_CONNS; i++)
    conns[i].fd = -1;
  for (;;) {
    struct pollfd p[2 + MAX_CONNS];
    int slot[MAX_CONNS], n = 2, busy = 0;
    uint64_t now = now_ms(), next = UINT64_MAX;
    for (int i = 0; i < MAX_CONNS; i++) {
      if (conns[i].fd < 0)
        continue;
      if (conns[i].deadline_ms <= now) { /* too slow to ask: closed */
        drop(&conns[i]);
        continue;
      }
      busy++;
      next = conns[i].deadline_ms < next ? conns[i].deadline_ms : next;
      slot[n - 2] = i;
      p[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    }
    /* with every slot taken, new connections wait in the backlog */
    p[0] = (struct pollfd){.fd = busy < MAX_CONNS ? L.fd : -1, .events = POLLIN};
    p[1] = (struct pollfd){.fd = L.stop_fd, .events = POLLIN};
    int wait = next == UINT64_MAX ? -1 : (int)(next - now) + 1;
    if (poll(p, (nfds_t)n, wait) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents)
      break;
    for (int k = 2; k < n; k++) {
      struct conn *c = &conns[slot[k - 2]];
      if (!p[k].revents)
        continue;
      int r = read_head(c);
      if (r > 0)
        answer(c->fd, c->head);
      if (r != 0)
        drop(c);
    }
    if (p[0].fd >= 0 && p[0].revents) {
      int fd = accept4(L.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      for (int i = 0; fd >= 0 && i < MAX_CONNS; i++)
        if (conns[i].fd < 0) {
          conns[i] = (struct conn){.fd = fd, .deadline_ms = now_ms() + IO_TIMEOUT_S * 1000u};
          conns[i].head[0] = '\0';
          fd = -1;
        }
      if (fd >= 0)
        close(fd); /* no slot (cannot happen: polled only with one free) */
      /* EAGAIN, a reset, EMFILE: poll again */
    }
  }
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].fd >= 0)
      drop(&conns[i]);
  return NULL;
}

int metrics_listen_start(const char *spec, int *bound_port, char *err, size_t errlen) {
  char host[256], port_text[16];
  int port;
  if (metrics_listen_parse(spec, host, sizeof host, &port, err, errlen) != 0)
    return -1;
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res;
  int rc = getaddrinfo(host, port_text, &hints, &res);
  if (rc != 0) {
    snprintf(err, errlen, "metrics_listen: cannot resolve '%s': %s", host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      e = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
      e = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(err, errlen, "metrics_listen: cannot listen on %s: %s", spec, strerror(e));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  L.fd = fd;
  L.stop_fd = eventfd(0, EFD_CLOEXEC);
  if (L.stop_fd < 0 || pthread_create(&L.thread, NULL, run, NULL) != 0) {
    snprintf(err, errlen, "metrics_listen: cannot start its thread");
    metrics_listen_stop();
    return -1;
  }
  L.running = 1;
  return 0;
}

void metrics_listen_stop(void) {
  if (L.running) {
    uint64_t one = 1;
    if (write(L.stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
      pthread_cancel(L.thread); /* cannot happen with an eventfd; never leave it running */
    pthread_join(L.thread, NULL);
    L.running = 0;
  }
  if (L.fd >= 0)
    close(L.fd);
  if (L.stop_fd >= 0)
    close(L.stop_fd);
  L.fd = L.stop_fd = -1;
}
