/* replicate-proxy: an OpenAI-compatible API for DeepSeek V3.1 on Replicate.
 * main: options, logging, listening sockets, signals and workers. */
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../shared/circuit.h"
#include "../shared/config.h"
#include "../shared/cpus.h"
#include "../shared/metrics.h"
#include "cli.h"
#include "exchange.h"
#include "gateway.h"
#include "healthcheck.h"
#include "metrics_listen.h"
#include "http.h"
#include "otlp.h"
#include "reload.h"
#include "worker.h"

#ifndef VERSION /* `make VERSION=x` (the image's build argument) overrides it */
#define VERSION "0.1.0"
#endif

/* ----------------------------------------------------------------- options */

/* Remove a bare flag from argv; 1 when it was there. */
static int take_flag(int *argc, char **argv, const char *flag) {
  int found = 0, out = 1;
  for (int i = 1; i < *argc; i++) {
    if (strcmp(argv[i], flag) == 0)
      found = 1;
    else
      argv[out++] = argv[i];
  }
  argv[out] = NULL;
  *argc = out;
  return found;
}

/* Returns -1 to go on, or an exit status. *file: --config's value or NULL. */
static int parse_args(int argc, char **argv, struct config *c, const char **file) {
  char err[CONFIG_ERR_MAX + 128];
  switch (reload_read(argc, argv, c, file, err, sizeof err)) {
  case READ_OK:
    /* A CA file curl cannot read would fail every request: say so now. */
    if (c->upstream_ca_file[0] && access(c->upstream_ca_file, R_OK) != 0) {
      snprintf(err, sizeof err, "upstream_ca_file: cannot read %s: %s", c->upstream_ca_file,
               strerror(errno));
      break;
    }
    return -1;
  case READ_HELP:
    config_print_help(stdout);
    return 0;
  case READ_VERSION:
    printf("replicate-proxy %s\n", VERSION);
    return 0;
  case READ_ERROR:
    break;
  }
  fprintf(stderr, "replicate-proxy: %s\n(see --help)\n", err);
  return 2;
}

/* --------------------------------------------------------------- sockets */

/* With reuse_port off, first bind without SO_REUSEPORT: a port another
 * process already listens on (shared or not) then fails here, instead of
 * being silently shared by the per-worker SO_REUSEPORT sockets. */
static int port_is_free(const struct addrinfo *ai, const char *host, int *port) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
  if (!ok)
    log_msg(LOG_ERROR, "cannot listen on %s:%d: %s (another process has it; set reuse_port = true to share it)",
            host, *port, strerror(errno));
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (ok && *port == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
  close(fd);
  return ok;
}

static int listen_socket(const char *host, int port, int *bound_port, int probe) {
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res;
  int rc = getaddrinfo(host, port_text, &hints, &res);
  if (rc != 0) {
    log_msg(LOG_ERROR, "cannot resolve listen host '%s': %s", host, gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    if (probe && !port_is_free(ai, host, &port))
      break;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      continue;
    int one = 1;
    /* Every worker listens on the same port; the kernel spreads clients. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_storage at;
    memcpy(&at, ai->ai_addr, ai->ai_addrlen); /* the probe may have picked the port */
    if (ai->ai_family == AF_INET6)
      ((struct sockaddr_in6 *)&at)->sin6_port = htons((uint16_t)port);
    else
      ((struct sockaddr_in *)&at)->sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&at, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
      log_msg(LOG_ERROR, "cannot listen on %s:%d: %s", host, port, strerror(errno));
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
  }
  return fd;
}

/* ---------------------------------------------------------------- workers */

/* The wake eventfd means "look": at a new config (SIGHUP) and at this flag. */
static atomic_int stop_requested;

/* Take up the config a reload published; requests already running keep
 * what they captured, such as their token (see reload.h). */
static void take_config(struct worker *w) {
  const struct config *cfg = reload_current();
  if (cfg == w->cfg)
    return;
  w->cfg = cfg;
  w->up.connect_timeout_ms = cfg->connect_timeout_ms; /* read per transfer */
}

static void on_wake(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct worker *w = ud;
  uint64_t v;
  if (read(w->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
    log_msg(LOG_WARN, "worker %d: eventfd read failed", w->index);
  take_config(w);
  if (w->stopping || !atomic_load(&stop_requested))
    return;
  w->stopping = 1;
  w->stop_deadline_ms = loop_now_ms() + (uint64_t)w->cfg->shutdown_grace_ms;
  http_stop_accepting(w);
  log_msg(LOG_INFO, "worker %d: shutting down, %zu request(s) running", w->index,
          w->n_requests);
}

/* After each event: a token an upstream read produced is written to its
 * client then, not after the whole batch (at 5,000 streams a batch is tens
 * of reads, and the first token waited for all of them). */
static void run_http(void *ud) { http_run(ud); }

static void *worker_main(void *arg) {
  struct worker *w = arg;
  uint64_t hard_deadline = 0;
  log_batch_begin();
  for (;;) {
    log_batch_flush(); /* before the loop may sleep: nothing held while idle */
    int wait = http_timeout_ms(w);
    if (w->stopping)
      wait = wait < 0 || wait > 100 ? 100 : wait;
    if (loop_run_once(&w->loop, wait) != 0) {
      log_msg(LOG_ERROR, "worker %d: epoll failed: %s", w->index, strerror(errno));
      break;
    }
    http_run(w);
    if (w->n_requests) {
      w->busy_since_trim = 1;
    } else if (w->busy_since_trim && loop_now_ms() - w->last_trim_ms >= 5000) {
      /* A wave of streams leaves glibc holding fragmented free memory; give
       * it back when the worker is idle (at most every 5 s: it walks the heap).
       * Built with mimalloc (the default) glibc's heap is empty and this is
       * cheap: mimalloc returns freed pages itself (3,000 streams: 79 MB peak,
       * 23 MB right after; glibc 64 MB, 28 MB after this trim). */
      w->busy_since_trim = 0;
      w->last_trim_ms = loop_now_ms();
      malloc_trim(0);
    }
    if (!w->stopping)
      continue;
    uint64_t now = loop_now_ms();
    if (w->n_requests == 0 && up_detached_count(&w->up) == 0)
      break;
    if (!w->grace_expired && now >= w->stop_deadline_ms) {
      w->grace_expired = 1;
      hard_deadline = now + 3000;
      http_end_requests(w);
    }
    if (w->grace_expired && now >= hard_deadline) {
      log_msg(LOG_WARN, "worker %d: %zu request(s) did not end in time", w->index,
              w->n_requests);
      http_resume_all(w); /* every waiting request ends before the front is freed */
      break;
    }
  }
  log_batch_end();
  return NULL;
}

static int worker_init(struct worker *w, int index, int n_workers, const struct config *cfg,
                       const int *listen_fds, int n_fds) {
  memset(w, 0, sizeof *w);
  w->loop.epfd = -1;
  w->index = index;
  w->n_workers = n_workers;
  w->cfg = cfg;
  for (int i = 0; i < n_fds; i++)
    w->listeners[i].fd = listen_fds[i];
  w->n_listeners = n_fds;
  w->wake_fd = -1;
  if (loop_init(&w->loop) != 0)
    return -1;
  w->loop.after_event = run_http;
  w->loop.after_event_ud = w;
  if (up_client_init(&w->up, &w->loop, cfg->upstream, cfg->connect_timeout_ms) != 0)
    return -1;
  up_client_set_ca(&w->up, cfg->upstream_ca_file);
  w->up.metrics = metrics_global_block((size_t)index);
  w->up.circuit = circuit_global(); /* one for the process: main initialised it */
  w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd < 0)
    return -1;
  loop_watch_init(&w->wake_watch, w->wake_fd, on_wake, w);
  if (loop_watch_set(&w->loop, &w->wake_watch, EPOLLIN) != 0)
    return -1;
  return http_start(w);
}

static void worker_free(struct worker *w) {
  http_free(w);
  if (w->up.multi)
    up_client_free(&w->up);
  if (w->wake_fd >= 0)
    close(w->wake_fd);
  if (w->loop.epfd >= 0)
    loop_free(&w->loop);
}

static void wake_workers(struct worker *workers, int n) {
  for (int i = 0; i < n; i++) {
    uint64_t one = 1;
    if (write(workers[i].wake_fd, &one, sizeof one) < 0)
      log_msg(LOG_WARN, "cannot wake worker %d", i);
  }
}

/* Is the listen host reachable only from this machine? */
static int loopback_host(const char *host) {
  return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
         strncmp(host, "127.", 4) == 0;
}

/* Configurations that would hand the team's Replicate token to anyone:
 * refuse them (exit 2) with what to set. Returns -1 to go on. */
static int refuse_unsafe(const struct config *c) {
  int gateway = c->master_key && c->master_key[0];
  int token = c->replicate_api_token && c->replicate_api_token[0];
  if (gateway && !token) {
    fprintf(stderr, "replicate-proxy: master_key is set (gateway mode), so clients send "
                    "virtual keys: set replicate_api_token for the upstream calls\n");
    return 2;
  }
  if (token && !gateway && !c->open_gateway && !loopback_host(c->listen_host)) {
    fprintf(stderr, "replicate-proxy: replicate_api_token is set and listen (%s) is not a "
                    "loopback address, so anyone who reaches the port would spend it: set "
                    "master_key (gateway mode: keys per member), or open_gateway = true to "
                    "accept the risk\n", c->listen_host);
    return 2;
  }
  return -1;
}

/* SIGTERM's first step: /ready fails for drain_delay so load balancers
 * take this instance out, while everything (new connections included) is
 * still served. A second SIGTERM or SIGINT ends it early. A Ctrl-C alone
 * skips it: nobody balances load onto a terminal. */
static void drain(struct worker *workers, int n, long delay_ms, const sigset_t *sigs) {
  if (delay_ms <= 0)
    return;
  for (int i = 0; i < n; i++)
    atomic_store(&workers[i].draining, 1);
  log_msg(LOG_INFO, "received SIGTERM, draining for %ld ms (/ready fails, still serving)", delay_ms);
  struct timespec end, now;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += delay_ms / 1000;
  end.tv_nsec += (delay_ms % 1000) * 1000000L;
  if (end.tv_nsec >= 1000000000L) {
    end.tv_sec++;
    end.tv_nsec -= 1000000000L;
  }
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec left = {end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec};
    if (left.tv_nsec < 0) {
      left.tv_sec--;
      left.tv_nsec += 1000000000L;
    }
    if (left.tv_sec < 0)
      return;
    if (sigtimedwait(sigs, NULL, &left) >= 0) {
      log_msg(LOG_INFO, "second signal: draining ends early");
      return;
    }
    if (errno != EINTR)
      return; /* EAGAIN: the delay is over */
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && cli_is_command(argv[1]))
    return cli_main(argc, argv); /* keys ... / spend: work on the database, then exit */
  /* A SIGHUP during startup waits for the sigwait below (a reload), rather
   * than killing the process. */
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, NULL);
  struct config cfg;
  if (config_init(&cfg) != 0) {
    fprintf(stderr, "replicate-proxy: out of memory\n");
    return 1;
  }
  /* --healthcheck: probe the configured server instead of being one. Taken
   * out of argv, which SIGHUP re-reads. */
  int healthcheck = take_flag(&argc, argv, "--healthcheck");
  const char *config_file = NULL;
  int status = parse_args(argc, argv, &cfg, &config_file);
  if (status < 0 && healthcheck)
    status = healthcheck_run(&cfg);
  if (status >= 0) {
    config_free(&cfg);
    return status;
  }
  log_set_level(cfg.log_level);
  log_set_format(cfg.log_format);
  if ((status = refuse_unsafe(&cfg)) >= 0) {
    config_free(&cfg);
    return status;
  }
  reload_publish_initial(&cfg);

  /* Each stream holds two sockets (client and Replicate): the default soft
   * limit of 1024 descriptors would cap it near 500 streams. */
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
      log_msg(LOG_WARN, "cannot raise the open-file limit: %s", strerror(errno));
  }

  long n_workers = cfg.workers;
  if (n_workers == 0)
    n_workers = cpus_available(); /* affinity and cgroup quota, not the host's count */

  /* Signals are taken by sigwait in this thread only. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP); /* reload, not the default: terminate */
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
    log_msg(LOG_ERROR, "curl_global_init failed");
    config_free(&cfg);
    return 1;
  }

  /* Keys, limits and the ledger: before any request can arrive. */
  char gw_err[512];
  char *db_path = gateway_db_path(&cfg, config_file);
  int opened = db_path && gateway_open(&cfg, db_path, gw_err, sizeof gw_err) == 0;
  /* Without keys to keep, a default database file that cannot be made (a
   * read-only directory, e.g. a config mounted into a container) is no
   * reason to refuse to serve: the ledger is then kept in memory. */
  int defaulted = !(cfg.database && cfg.database[0]) && !(cfg.database_url && cfg.database_url[0]);
  if (db_path && !opened && defaulted && !(cfg.master_key && cfg.master_key[0])) {
    log_msg(LOG_WARN, "%s; keeping the spend ledger in memory only (set database to keep it)",
            gw_err);
    opened = gateway_open(&cfg, ":memory:", gw_err, sizeof gw_err) == 0;
  }
  if (!opened) {
    log_msg(LOG_ERROR, "%s", db_path ? gw_err : "out of memory");
    free(db_path);
    curl_global_cleanup();
    config_free(&cfg);
    return 1;
  }
  free(db_path);
  /* Tracing is optional: an exporter that cannot start leaves it off. */
  otlp_start(cfg.otlp_endpoint, cfg.otlp_protocol, cfg.otlp_service_name, VERSION,
             cfg.otlp_headers, cfg.otlp_sample_ratio, cfg.otlp_propagate);

  struct worker *workers = calloc((size_t)n_workers, sizeof *workers);
  int port = cfg.listen_port, started = 0, rc = 0;
  circuit_init(circuit_global(), (uint64_t)cfg.circuit_cooldown_ms);
  if (!workers || metrics_global_init((size_t)n_workers, VERSION) != 0) {
    log_msg(LOG_ERROR, "out of memory starting the workers");
    free(workers);
    workers = NULL;
    rc = 1;
  }
  for (long i = 0; workers && i < n_workers; i++) {
    int fds[LISTENERS_PER_WORKER], n_fds = 0;
    for (; n_fds < LISTENERS_PER_WORKER; n_fds++)
      if ((fds[n_fds] = listen_socket(cfg.listen_host, port, &port,
                                      i == 0 && n_fds == 0 && !cfg.reuse_port)) < 0)
        break;
    if (n_fds < LISTENERS_PER_WORKER) {
      for (int k = 0; k < n_fds; k++)
        close(fds[k]);
      rc = 1;
      break;
    }
    if (worker_init(&workers[i], (int)i, (int)n_workers, &cfg, fds, n_fds) != 0) {
      log_msg(LOG_ERROR, "cannot start worker %ld", i);
      worker_free(&workers[i]); /* closes the sockets too */
      rc = 1;
      break;
    }
    started++;
  }
  if (!workers)
    rc = 1;
  for (int i = 0; rc == 0 && i < started; i++) {
    if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
      log_msg(LOG_ERROR, "cannot start worker thread");
      rc = 1;
      started = i;
    }
  }
  if (rc == 0 && cfg.metrics_listen[0]) {
    char merr[320];
    int mport = 0;
    if (metrics_listen_start(cfg.metrics_listen, &mport, merr, sizeof merr) != 0) {
      log_msg(LOG_ERROR, "%s", merr);
      rc = 1;
    } else {
      log_msg(LOG_INFO, "metrics on %s (port %d), not on the main port", cfg.metrics_listen, mport);
    }
  }
  if (rc == 0) {
    int v6 = strchr(cfg.listen_host, ':') != NULL;
    log_msg(LOG_INFO, "replicate-proxy %s listening on http://%s%s%s:%d (%d worker%s, model %s, upstream %s)",
            VERSION, v6 ? "[" : "", cfg.listen_host, v6 ? "]" : "", port, started,
            started == 1 ? "" : "s", cfg.model, cfg.upstream);
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
      log_msg(LOG_INFO, "received SIGHUP, reloading the configuration");
      if (reload_apply(argc, argv, refuse_unsafe))
        wake_workers(workers, started);
    }
    if (sig == SIGTERM)
      drain(workers, started, reload_current()->drain_delay_ms, &sigs);
    log_msg(LOG_INFO, "received %s, stopping (grace %ld ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            reload_current()->shutdown_grace_ms);
  }
  atomic_store(&stop_requested, 1);
  wake_workers(workers, started);
  for (int i = 0; i < started; i++) {
    if (rc == 0 || workers[i].thread)
      pthread_join(workers[i].thread, NULL);
    worker_free(&workers[i]);
  }
  free(workers);
  metrics_listen_stop(); /* before the blocks it reads are freed */
  otlp_stop(OTLP_STOP_BOUND_MS); /* after the workers: their last spans are queued */
  metrics_global_free();
  gateway_close(); /* flushes the ledger: SIGTERM loses no row */
  curl_global_cleanup();
  log_msg(LOG_INFO, "stopped");
  reload_free_all();
  config_free(&cfg);
  return rc;
}
