#include "metrics_route.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../shared/circuit.h"
#include "../shared/metrics.h"
#include "gateway.h"
#include "http.h"
#include "key_snapshot.h"
#include "limits_redis.h"
#include "otlp.h"
#include "reload.h"
#include "routes.h"

/* Same length and bytes, in time independent of where they differ. */
static int secret_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = la != lb;
  for (size_t i = 0; i < la; i++)
    diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
  return diff == 0;
}

/* In gateway mode the metrics (key aliases, spend) are the operator's:
 * only the master key reads them. */
static int authorized(struct http_request *hr) {
  const char *master = http_request_config(hr)->master_key;
  if (!master || !master[0])
    return 1;
  const char *auth = http_request_header(hr, "Authorization");
  if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
    return 0;
  auth += 7;
  while (*auth == ' ')
    auth++;
  return secret_equal(auth, master);
}

/* Process figures at scrape time (reads /proc: a few syscalls, no waits). */
static void process_figures(struct metrics_process *p) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    long long size, resident;
    if (fscanf(f, "%lld %lld", &size, &resident) == 2)
      p->rss_bytes = resident * sysconf(_SC_PAGESIZE);
    fclose(f);
  }
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
      n += e->d_name[0] != '.';
    closedir(d);
    p->open_fds = n > 0 ? n - 1 : 0; /* not counting the directory's own fd */
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    p->max_fds = (long)rl.rlim_cur;
}

int metrics_route_render(struct buf *out) {
  struct metrics_process proc = {0};
  process_figures(&proc);
  proc.circuit_state = (int)circuit_state_get(circuit_global());
  size_t queued = 0;
  uint64_t written = 0, dropped = 0;
  if (gateway_ledger_counts(&queued, &written, &dropped) == 0) {
    const struct config *cfg = reload_current();
    proc.has_ledger = 1;
    proc.ledger_queued = queued;
    proc.ledger_written = written;
    proc.ledger_dropped = dropped;
    proc.db_shared = cfg->database_url && cfg->database_url[0];
    proc.db_up = key_snapshot_store_ok();
  }
  if (redis_limits_enabled()) {
    proc.redis_enabled = 1;
    proc.redis_up = !redis_limits_down();
    proc.redis_fail_closed = reload_current()->redis_fail_closed;
  }
  uint64_t spans_exported, spans_dropped;
  otlp_counts(&spans_exported, &spans_dropped);
  return metrics_global_render(out, &proc) != 0 ||
                 metrics_render_otlp(out, spans_exported, spans_dropped) != 0
             ? -1
             : 0;
}

void metrics_route_handle(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct oai_error e;
  const char *own = http_request_config(hr)->metrics_listen;
  if (own && own[0]) { /* served on metrics_listen only: the public port has no such path */
    routes_respond_not_found(hr);
    return;
  }
  if (!authorized(hr)) {
    oai_error_set(&e, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "The metrics need the master key (Authorization: Bearer <master_key>).");
    http_request_respond_error(hr, &e);
    return;
  }
  struct buf out = BUF_INIT;
  if (metrics_route_render(&out) != 0) {
    buf_free(&out);
    oai_error_set(&e, 500, "server_error", "internal_error", NULL, "out of memory");
    http_request_respond_error(hr, &e);
    return;
  }
  http_request_set_content_type(hr, "text/plain; version=0.0.4; charset=utf-8");
  http_request_respond(hr, 200, buf_take(&out));
}
