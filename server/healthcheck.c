#include "healthcheck.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Each step (connect, send, receive) gets this long: under Docker's
 * default 30 s HEALTHCHECK timeout and well under the 3 s we advise. */
#define STEP_TIMEOUT_S 2

int healthcheck_targets(const char *host, const char *out[2]) {
  if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) {
    /* A dual-stack socket; ::1 first, 127.0.0.1 if IPv6 loopback is off. */
    out[0] = "::1";
    out[1] = "127.0.0.1";
    return 2;
  }
  if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0' || strcmp(host, "*") == 0) {
    out[0] = "127.0.0.1";
    return 1;
  }
  out[0] = host;
  return 1;
}

/* Connect to host:port with timeouts; the descriptor or -1. */
static int connect_to(const char *host, int port) {
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *res;
  if (getaddrinfo(host, port_text, &hints, &res) != 0)
    return -1;
  int fd = -1;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    struct timeval tv = {.tv_sec = STEP_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect too */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

/* The status code of a GET /health on fd, or -1. */
static int get_health(int fd) {
  static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\n"
                             "User-Agent: replicate-proxy-healthcheck\r\n"
                             "Connection: close\r\n\r\n";
  if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
    return -1;
  char head[64];
  size_t got = 0;
  /* Only the status line matters: "HTTP/1.1 200 ...". */
  while (got < 12) {
    ssize_t n = recv(fd, head + got, sizeof head - 1 - got, 0);
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  head[got] = '\0';
  int status = 0;
  if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
      sscanf(head + 9, "%3d", &status) != 1)
    return -1;
  return status;
}

int healthcheck_run(const struct config *c) {
  if (c->listen_port == 0) {
    fprintf(stderr, "replicate-proxy --healthcheck: listen port 0 (picked at start) cannot be probed\n");
    return 1;
  }
  const char *targets[2];
  int n = healthcheck_targets(c->listen_host, targets);
  for (int i = 0; i < n; i++) {
    int fd = connect_to(targets[i], c->listen_port);
    if (fd < 0) {
      if (i + 1 == n)
        fprintf(stderr, "replicate-proxy --healthcheck: cannot connect to %s port %d: %s\n",
                targets[i], c->listen_port, strerror(errno));
      continue;
    }
    int status = get_health(fd);
    close(fd);
    if (status == 200)
      return 0;
    fprintf(stderr, "replicate-proxy --healthcheck: GET /health on %s port %d: %s%d\n",
            targets[i], c->listen_port, status < 0 ? "no valid reply " : "status ",
            status);
    return 1;
  }
  return 1;
}
