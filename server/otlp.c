#include "otlp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../shared/otlp_pb.h"
#include "worker.h"

/* A POST's body: part[0], then part[1] (protobuf: the queued spans
 * themselves, after the envelope; no copy), read into curl's buffer from
 * offset at (curl seeks back to 0 to send it again on a new connection when
 * a kept-alive one turns out closed). */
struct post_body {
  const char *part[2];
  size_t len[2];
  size_t at;
};

/* otlp_protocol's encoding (CODECS): what a worker queues for a span
 * (nothing on failure), and the body of what was queued. */
struct codec {
  const char *content_type; /* the header line */
  int (*queue)(struct buf *q, const struct span *s);
  int (*encode)(struct buf *body, const struct buf *spans, struct post_body *pb);
};

/* The queue is one byte buffer of spans as the codec queues them: a submit
 * writes a span in under the lock (no allocation once it has grown, no
 * memory handed between threads); the exporter swaps it with its spare
 * buffer and makes the body of that without the lock. With protobuf the
 * worker writes each Span message once, and the body is the envelope around
 * the queue's bytes; with JSON, costlier to write, it packs a copy and the
 * exporter writes the JSON. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct buf queue;
  size_t n; /* spans in queue */
  int stopping;
  _Atomic uint64_t stop_by; /* monotonic ms: shutdown's flush ends by then (0: running) */
  pthread_t thread;
  char *url;
  char *service, *version;
  struct buf headers; /* otlp_headers as lines "Name: value\0" (secrets: wiped) */
  size_t n_headers;
  const struct codec *codec; /* otlp_protocol's */
} X = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static atomic_int on;
static _Atomic uint64_t exported, dropped;

int otlp_on(void) { return atomic_load_explicit(&on, memory_order_relaxed); }

void otlp_counts(uint64_t *e, uint64_t *d) {
  *e = atomic_load_explicit(&exported, memory_order_relaxed);
  *d = atomic_load_explicit(&dropped, memory_order_relaxed);
}

uint64_t otlp_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64 per thread, seeded once from getrandom (ids need to be
 * unique, not secret). */
void otlp_new_id(unsigned char *out, size_t n) {
  static _Thread_local uint64_t s;
  static _Thread_local int seeded;
  if (!seeded) {
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
      s = otlp_now_ns() ^ (uint64_t)(uintptr_t)&s;
    seeded = 1;
  }
  for (size_t i = 0; i < n; i += 8) {
    uint64_t z = (s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    if (n - i >= 8) /* ids are whole words: a store, not a memcpy call */
      memcpy(out + i, &z, 8);
    else
      memcpy(out + i, &z, n - i);
  }
}

void otlp_submit(const struct span *span) {
  pthread_mutex_lock(&X.mu);
  size_t mark = X.queue.len;
  int ok = !X.stopping && X.n < OTLP_QUEUE_MAX && X.codec->queue(&X.queue, span) == 0 &&
           X.queue.len < OTLP_QUEUE_BYTES;
  if (ok && ++X.n == OTLP_BATCH)
    pthread_cond_signal(&X.cv);
  if (!ok && X.queue.data) {
    X.queue.len = mark; /* no record past the byte bound */
    X.queue.data[mark] = '\0';
  }
  pthread_mutex_unlock(&X.mu);
  if (!ok)
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p, (void)ud;
  return size * n;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A POST under way when shutdown's bound runs out is abandoned. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
  uint64_t by = atomic_load(&X.stop_by);
  return by && mono_ms() >= by;
}

static size_t read_body(char *dst, size_t size, size_t n, void *ud) {
  struct post_body *pb = ud;
  size_t room = size * n, done = 0;
  for (size_t i = 0, skip = pb->at; i < 2 && done < room; i++) {
    if (skip >= pb->len[i]) {
      skip -= pb->len[i];
      continue;
    }
    size_t k = pb->len[i] - skip < room - done ? pb->len[i] - skip : room - done;
    memcpy(dst + done, pb->part[i] + skip, k);
    skip = 0;
    done += k;
  }
  pb->at += done;
  return done;
}

static int seek_body(void *ud, curl_off_t offset, int origin) {
  struct post_body *pb = ud;
  if (origin != SEEK_SET || offset < 0 || (size_t)offset > pb->len[0] + pb->len[1])
    return CURL_SEEKFUNC_CANTSEEK;
  pb->at = (size_t)offset;
  return CURL_SEEKFUNC_OK;
}

/* POST one batch; returns the HTTP status, or 0 when none came. */
static long post(CURL *easy, struct post_body *pb, long timeout_ms) {
  curl_easy_setopt(easy, CURLOPT_READDATA, pb);
  curl_easy_setopt(easy, CURLOPT_SEEKDATA, pb);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(pb->len[0] + pb->len[1]));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 1000 ? timeout_ms : 1000L);
  long status = 0;
  if (curl_easy_perform(easy) == CURLE_OK)
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

/* Swap the queue with spare (the lock is held: O(1)); the spans taken. */
static size_t take_batch(struct buf *spare) {
  struct buf t = X.queue;
  X.queue = *spare;
  *spare = t;
  size_t k = X.n;
  X.n = 0;
  return k;
}

/* The request body for the spans taken, written into body and described by
 * *pb. 0, or -1 (out of memory). */
static int encode_json(struct buf *body, const struct buf *spans, struct post_body *pb) {
  if (otlp_batch_open(body, X.service, X.version) != 0)
    return -1;
  for (size_t at = 0, used = 0; at < spans->len; at += used)
    if ((at && buf_append_char(body, ',') != 0) ||
        span_packed_json(body, spans->data + at, spans->len - at, &used) != 0)
      return -1;
  if (otlp_batch_close(body) != 0)
    return -1;
  *pb = (struct post_body){{body->data, NULL}, {body->len, 0}, 0};
  return 0;
}

static int encode_pb(struct buf *body, const struct buf *spans, struct post_body *pb) {
  struct otlp_pb_batch b;
  size_t start;
  /* the spans are ScopeSpans.spans fields already: they follow the envelope */
  if (otlp_pb_batch_open(body, &b, X.service, X.version) != 0 ||
      otlp_pb_batch_close(body, &b, spans->len, &start) != 0)
    return -1;
  *pb = (struct post_body){{body->data + start, spans->data}, {body->len - start, spans->len}, 0};
  return 0;
}

static const struct codec CODECS[] = {
    [OTLP_HTTP_PROTOBUF] = {"Content-Type: application/x-protobuf", span_pb, encode_pb},
    [OTLP_HTTP_JSON] = {"Content-Type: application/json", span_pack, encode_json},
};

static void *run(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "rp-otlp"); /* for top -H and /proc */
  CURL *easy = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, X.codec->content_type);
  const char *line = X.headers.data;
  for (size_t i = 0; headers && i < X.n_headers; i++, line += strlen(line) + 1) {
    struct curl_slist *l = curl_slist_append(headers, line);
    if (!l) { /* never a batch without its Authorization */
      log_msg(LOG_ERROR, "otlp: out of memory: no trace export");
      curl_easy_cleanup(easy);
      easy = NULL;
      break;
    }
    headers = l;
  }
  if (easy) {
    curl_easy_setopt(easy, CURLOPT_URL, X.url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "replicate-proxy-otlp");
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  }
  int failing = 0;
  struct buf body = BUF_INIT, spans = BUF_INIT;
  pthread_mutex_lock(&X.mu);
  for (;;) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += OTLP_FLUSH_MS / 1000;
    while (!X.stopping && X.n < OTLP_BATCH &&
           pthread_cond_timedwait(&X.cv, &X.mu, &until) == 0)
      ;
    uint64_t stop_by = atomic_load(&X.stop_by);
    if (!X.n) {
      if (X.stopping)
        break;
      continue;
    }
    size_t k = take_batch(&spans);
    pthread_mutex_unlock(&X.mu);
    struct post_body pb;
    int oom = X.codec->encode(&body, &spans, &pb);
    uint64_t now = mono_ms();
    long left = !stop_by ? OTLP_POST_TIMEOUT_MS : stop_by > now ? (long)(stop_by - now) : 0;
    if (left > OTLP_POST_TIMEOUT_MS)
      left = OTLP_POST_TIMEOUT_MS;
    long status =
        !oom && easy && left > 0 ? post(easy, &pb, left) : 0;
    buf_reset(&body);
    buf_reset(&spans); /* keeps its allocation: the next swap reuses it */
    int ok = status >= 200 && status <= 299;
    atomic_fetch_add_explicit(ok ? &exported : &dropped, k, memory_order_relaxed);
    /* One line when the collector goes away and one when it is back. */
    if (ok == failing) {
      failing = !ok;
      if (ok)
        log_msg(LOG_INFO, "otlp: the trace collector accepts spans again");
      else
        log_msg(LOG_WARN, "otlp: spans dropped: the trace collector answered %ld%s", status,
                status ? "" : " (no answer)");
    }
    pthread_mutex_lock(&X.mu);
    stop_by = atomic_load(&X.stop_by);
    if (stop_by && mono_ms() >= stop_by) {
      /* Out of time: what is left is dropped. */
      atomic_fetch_add_explicit(&dropped, X.n, memory_order_relaxed);
      X.n = 0;
      buf_reset(&X.queue);
    }
  }
  buf_free(&X.queue);
  pthread_mutex_unlock(&X.mu);
  buf_free(&body);
  buf_free(&spans);
  for (struct curl_slist *l = headers; l; l = l->next) /* their values are secrets */
    memset(l->data, 0, strlen(l->data));
  curl_slist_free_all(headers);
  if (easy)
    curl_easy_cleanup(easy);
  return NULL;
}

/* <endpoint>/v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT means; a URL that
 * already ends in /v1/traces is taken as it is. */
static char *traces_url(const char *endpoint) {
  struct buf b = BUF_INIT;
  size_t n = strlen(endpoint);
  const char *suffix = n >= 10 && strcmp(endpoint + n - 10, "/v1/traces") == 0 ? "" : "/v1/traces";
  if (buf_printf(&b, "%s%s", endpoint, suffix) != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}

static void wipe_headers(void) {
  if (X.headers.data)
    memset(X.headers.data, 0, X.headers.cap);
  buf_free(&X.headers);
  X.n_headers = 0;
}

/* Ratio x 2^64, set before the workers start; ratio 1: every trace. */
static uint64_t sample_below;
static int sample_all = 1;
static int propagate;

int otlp_propagating(void) { return propagate; }

int otlp_sampled(const unsigned char id[TRACE_ID_LEN]) {
  if (sample_all)
    return 1;
  uint64_t v = 0;
  for (int i = TRACE_ID_LEN - 8; i < TRACE_ID_LEN; i++)
    v = v << 8 | id[i];
  return v < sample_below;
}

int otlp_start(const char *endpoint, enum otlp_protocol protocol, const char *service_name,
               const char *version, const char *headers, double sample_ratio,
               int propagate_upstream) {
  if (!endpoint || !endpoint[0])
    return 0;
  X.codec = &CODECS[protocol == OTLP_HTTP_JSON ? OTLP_HTTP_JSON : OTLP_HTTP_PROTOBUF];
  propagate = propagate_upstream;
  sample_all = !(sample_ratio < 1.0);
  sample_below = sample_all ? UINT64_MAX : (uint64_t)(sample_ratio * 18446744073709551616.0);
  char err[128];
  if (otlp_header_lines(headers ? headers : "", &X.headers, &X.n_headers, err, sizeof err) != 0) {
    log_msg(LOG_ERROR, "otlp: %s: no trace export", err); /* names no value */
    wipe_headers();
    return -1;
  }
  X.url = traces_url(endpoint);
  X.service = strdup(service_name);
  X.version = strdup(version);
  if (!X.url || !X.service || !X.version ||
      pthread_create(&X.thread, NULL, run, NULL) != 0) {
    log_msg(LOG_ERROR, "otlp: cannot start the trace exporter");
    wipe_headers();
    free(X.url), free(X.service), free(X.version);
    X.url = X.service = X.version = NULL;
    return -1;
  }
  atomic_store(&on, 1);
  char shown[512]; /* no user:password@ in the log */
  log_msg(LOG_INFO, "otlp: exporting traces to %s as %s (%zu header%s of otlp_headers, "
          "sample ratio %g)",
          trace_url_redact(shown, sizeof shown, X.url) == 0 ? shown : "(a long URL)",
          protocol == OTLP_HTTP_JSON ? "http/json" : "http/protobuf", X.n_headers,
          X.n_headers == 1 ? "" : "s", sample_ratio);
  return 0;
}

void otlp_stop(long bound_ms) {
  if (!otlp_on())
    return;
  pthread_mutex_lock(&X.mu);
  X.stopping = 1;
  atomic_store(&X.stop_by, mono_ms() + (uint64_t)(bound_ms > 0 ? bound_ms : 1));
  pthread_cond_signal(&X.cv);
  pthread_mutex_unlock(&X.mu);
  pthread_join(X.thread, NULL);
  atomic_store(&on, 0);
  wipe_headers();
  free(X.url), free(X.service), free(X.version);
  X.url = X.service = X.version = NULL;
}
