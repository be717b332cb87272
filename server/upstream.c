#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spans.h"
#include "up_sockets.h"
#include "worker.h"

/* Cancels: a failed one leaves a prediction billing, so it is retried. */
#define CANCEL_ATTEMPTS 5
#define CANCEL_BACKOFF_MS 250
#define CANCEL_TIMEOUT_MS 30000
#define CANCEL_MAX_REPLY (64 * 1024)

/* HTTP/2 (Replicate's hosts speak it): many transfers share a few
 * connections. PIPEWAIT alone lets a burst of transfers each open its own
 * connection once one is full (thousands of TLS connections for 5,000
 * streams), so connections per host are capped. The cap would starve an
 * HTTP/1.1 host (one transfer per connection, streams held for minutes):
 * it is lifted for good at the first HTTP/1.x reply.
 * Streams per connection are kept low because libcurl 7.88 wakes every
 * transfer of a connection on each socket event and each woken one runs its
 * state machine and a poll(0): that, not crypto (libssl + libcrypto ~2% of
 * a TLS profile), is what TLS costs over plain HTTP. When tokens arrive one
 * an event, as real streams' do, curl's poll()s per token are about the
 * streams on the connection (200 streams: 69-81 at 100 a connection, 38-42
 * at 50; in the 5,000-stream bench, where an event carries several tokens,
 * 3-12 at 100 and 2-6 at 50; bench/README.md, 2026-12-03). A burst opens
 * connections up to the cap (a connection still in its handshake is not
 * waited for), so the cap bounds memory too: ~60 KB a connection, and both
 * hosts burst. So the cap follows the load: enough connections for every
 * transfer in flight at H2_MAX_CONCURRENT_STREAMS each, plus spares
 * (fit_host_cap). A transfer then does not queue behind it in curl (a queued
 * stream would get its first token only when another ends), and a burst
 * does not open far more than it needs: a fixed 256 left 256 + 256
 * connections after 5,000 TLS streams opened at once, 153.8 MB peak RSS;
 * this, 139.4 MB (bench/README.md, 2026-12-03). */
#define H2_SPARE_CONNECTIONS 32L
#define H2_MAX_CONCURRENT_STREAMS 50L

/* curl's smallest upload buffer: create bodies are small (see up_start). */
#define UPLOAD_BUFFER_BYTES (16L * 1024)

/* A timeout this close to the request's own deadline is that deadline. */
#define CONNECT_DEADLINE_SLACK_MS 50

struct up_retry {
  struct loop_timer timer;
  struct up_transfer *t;
  char *url, *token, *label;
  int attempt; /* 1-based: the attempt in flight or due */
  struct trace_ctx trace; /* the request's span, or zeros */
};

/* Idle connections kept for reuse (beyond those in use); over HTTP/2 each
 * takes H2_MAX_CONCURRENT_STREAMS new transfers at once. */
#define IDLE_CONNECTIONS 256L
#define H2_IDLE_CONNECTIONS 16L

static void drain_done(struct up_client *c);
static void free_retry(struct up_transfer *t);

void up_client_drain(struct up_client *c) { drain_done(c); }

static void on_timer(struct loop *l, struct loop_timer *t) {
  (void)l;
  struct up_client *c = t->ud;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &c->running);
  drain_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  struct up_client *c = userp;
  if (timeout_ms < 0) {
    loop_timer_disarm(c->loop, &c->timer);
    return 0;
  }
  return loop_timer_arm(c->loop, &c->timer, (uint64_t)timeout_ms) == 0 ? 0 : -1;
}

/* The variables libcurl reads to pick a proxy (7.88 and 8.x alike; plain
 * http reads only the lowercase http_proxy). */
static const char *const PROXY_ENV[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                        "ALL_PROXY", "no_proxy", "NO_PROXY"};

/* curl looks up five of them on every transfer (~1.6k instructions, a
 * non-streamed request's 1%); when none is set, telling it "no proxy" is
 * the same answer without the lookups. The environment is read once, at
 * start: the process never changes it. */
static int env_names_a_proxy(void) {
  for (size_t i = 0; i < sizeof PROXY_ENV / sizeof PROXY_ENV[0]; i++)
    if (getenv(PROXY_ENV[i]))
      return 1;
  return 0;
}

int up_client_init(struct up_client *c, struct loop *l, const char *upstream,
                   long connect_timeout_ms) {
  memset(c, 0, sizeof *c);
  c->loop = l;
  c->upstream = upstream;
  c->connect_timeout_ms = connect_timeout_ms;
  c->no_env_proxy = !env_names_a_proxy();
  loop_timer_init(&c->timer, on_timer, c);
  c->multi = curl_multi_init();
  if (!c->multi)
    return -1;
  up_sockets_init(c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  /* Keep idle connections to Replicate for reuse by later requests. */
  c->maxconnects = IDLE_CONNECTIONS;
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->maxconnects);
  curl_multi_setopt(c->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, H2_MAX_CONCURRENT_STREAMS);
  /* Only an https upstream can be HTTP/2 (curl speaks h2c only if told). */
  if (strncasecmp(upstream, "https:", 6) == 0) {
    c->host_cap = H2_SPARE_CONNECTIONS;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->host_cap);
    c->capped = 1;
  }
  /* TLS resumption saves a full handshake per new connection; one share
   * per worker, used from its thread only, so no locks. */
  c->share = curl_share_init();
  if (!c->share ||
      curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
      curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
    return -1;
  return 0;
}

void up_client_set_ca(struct up_client *c, const char *ca_file) { c->ca_file = ca_file; }

/* An HTTP/1.x reply: this upstream (or its stream host) cannot multiplex,
 * so the per-host cap would queue transfers behind held streams. */
static void note_http_version(struct up_transfer *t) {
  struct up_client *c = t->client;
  t->version_seen = 1;
  long v = 0;
  if (!c->capped || curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &v) != CURLE_OK)
    return;
  if (v == CURL_HTTP_VERSION_1_0 || v == CURL_HTTP_VERSION_1_1) {
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    c->capped = 0;
    log_msg(LOG_INFO, "upstream answers over HTTP/1.1: no cap on connections per host");
  }
}

static void unlink_detached(struct up_transfer *t) {
  struct up_client *c = t->client;
  if (t->prev)
    t->prev->next = t->next;
  else
    c->detached = t->next;
  if (t->next)
    t->next->prev = t->prev;
  t->next = t->prev = NULL;
}

static void link_detached(struct up_client *c, struct up_transfer *t) {
  t->prev = NULL;
  t->next = c->detached;
  if (c->detached)
    c->detached->prev = t;
  c->detached = t;
}

void up_client_free(struct up_client *c) {
  while (c->detached) {
    struct up_transfer *t = c->detached;
    unlink_detached(t);
    up_transfer_free(t);
    free(t);
  }
  loop_timer_disarm(c->loop, &c->timer);
  while (c->n_idle)
    curl_easy_cleanup(c->idle[--c->n_idle]);
  if (c->multi)
    curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->n_parsed) {
    struct up_parsed_url *p = &c->parsed[--c->n_parsed];
    curl_url_cleanup(p->u);
    free(p->url);
  }
  up_sockets_free(c); /* after: curl closed its sockets through it */
  /* Last: the share must outlive every easy handle that used it. */
  if (c->share)
    curl_share_cleanup(c->share);
  c->share = NULL;
}

void up_transfer_init(struct up_transfer *t, up_done_cb done, up_data_cb on_data,
                      void *ud) {
  memset(t, 0, sizeof *t);
  t->done = done;
  t->on_data = on_data;
  t->ud = ud;
  buf_init(&t->body);
}

int up_running(const struct up_transfer *t) { return t->easy != NULL; }

int up_connect_failed(const struct up_transfer *t) {
  return t->result == CURLE_COULDNT_CONNECT && t->sends == 0 && t->status == 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  struct up_transfer *t = ud;
  size_t len = size * nmemb;
  up_sockets_delivered(t);
  if (t->on_data && !t->status)
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  /* An error reply's body is buffered for the error message, not streamed. */
  if (t->on_data && t->status >= 200 && t->status <= 299) {
    if (t->want_pause) {
      /* curl keeps this piece and hands it over again after up_pause(t, 0). */
      t->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    t->in_write = 1;
    int rc = t->on_data(t, data, len);
    t->in_write = 0;
    if (rc != 0) {
      t->aborted_by_callback = 1;
      return 0; /* makes curl end the transfer with CURLE_WRITE_ERROR */
    }
    return len;
  }
  if (t->max_body && len > t->max_body - t->body.len) {
    t->too_large = 1; /* memory stays bounded: the reply is cut off */
    return 0;
  }
  return buf_append(&t->body, data, len) == 0 ? len : 0;
}

/* Called each time curl is about to send the request on a connection. A
 * second call means curl is re-sending it on a new connection because a
 * reused one died: for a create that could be a second paid prediction. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port,
                     int local_port) {
  (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
  struct up_transfer *t = ud;
  if (t->sends++ > 0 && t->no_resend) {
    t->resend_refused = 1;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  struct up_transfer *t = ud;
  size_t len = size * nmemb;
  static const char name[] = "retry-after:";
  up_sockets_delivered(t);
  if (!t->version_seen)
    note_http_version(t);
  if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
    const char *v = data + sizeof name - 1;
    size_t n = len - (sizeof name - 1);
    while (n && (*v == ' ' || *v == '\t'))
      v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
      n--;
    if (n >= sizeof t->retry_after)
      n = sizeof t->retry_after - 1;
    memcpy(t->retry_after, v, n);
    t->retry_after[n] = '\0';
  }
  return len;
}

/* curl's cache limit counts the connections in use too. Past it, every
 * finished transfer walks all connections (Curl_conncache_extract_oldest)
 * and closes the oldest idle one, which is its own while thousands of
 * streams hold the rest: a new connection per create (half the connects at
 * 2,000 streams went). So the limit follows the transfers in flight, plus
 * the idle connections worth keeping. */
static void fit_cache(struct up_client *c) {
  long want = c->n_in_multi + IDLE_CONNECTIONS, slack = IDLE_CONNECTIONS;
  if (c->capped) {
    /* HTTP/2: the limit follows the connections in use instead (a
     * connection carries many transfers). A burst opens connections up to
     * the per-host cap, and once it is over they would stay idle for good
     * (~60 KB each over TLS: 5,000 streams opened at once left ~250 to the
     * API host); past the limit curl closes the oldest idle one as each
     * connection comes back to its pool. */
    want = c->n_conns - c->n_parked + H2_IDLE_CONNECTIONS;
    slack = H2_IDLE_CONNECTIONS / 4;
  }
  if (want > c->maxconnects || want + slack < c->maxconnects) {
    c->maxconnects = want;
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, want);
  }
}

/* The per-host cap over HTTP/2 (see H2_SPARE_CONNECTIONS): it counts the
 * transfers to both hosts, so each host has at least its own need. Every
 * connection past the need has a free slot, so however the transfers are
 * spread, a new one finds a slot or room for a connection. */
static void fit_host_cap(struct up_client *c) {
  if (!c->capped)
    return;
  long want = c->n_in_multi / H2_MAX_CONCURRENT_STREAMS + 1 + H2_SPARE_CONNECTIONS;
  if (want > c->host_cap || want + H2_SPARE_CONNECTIONS / 2 < c->host_cap) {
    c->host_cap = want;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, want);
  }
}

/* What decides a transfer's constant options: a pooled handle last used
 * with the same profile keeps them, and a start sets only what changes
 * from one transfer to the next (curl_easy_reset and ~20 setopts are ~5k
 * instructions of a non-streamed request). */
enum {
  PROFILE_SET = 1,      /* 0: a fresh or reset handle */
  PROFILE_POST = 2,
  PROFILE_SSE = 4,
  PROFILE_HTTPS = 8,
  PROFILE_PARSED = 16,  /* CURLOPT_CURLU: curl prefers it to the URL string */
};

static void release(struct up_transfer *t) {
  if (t->easy) {
    struct up_client *c = t->client;
    curl_multi_remove_handle(c->multi, t->easy);
    if (t->own_url)
      curl_easy_setopt(t->easy, CURLOPT_CURLU, NULL); /* freed below */
    if (t->in_multi) {
      t->in_multi = 0;
      c->n_in_multi--;
      fit_cache(c);
      fit_host_cap(c);
    }
    /* A handle stopped while paused may keep pause state and held data
     * through curl_easy_reset: not worth the risk of reusing it. */
    if (!t->paused && c->n_idle < (int)(sizeof c->idle / sizeof c->idle[0])) {
      /* Kept with its options (see take_handle); only what points into
       * this transfer or holds its body goes. */
      curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
      curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
      if (t->profile & PROFILE_POST)
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, NULL); /* frees the copy */
      c->idle_profile[c->n_idle] = t->profile;
      c->idle[c->n_idle++] = t->easy;
    } else {
      curl_easy_cleanup(t->easy);
    }
    t->easy = NULL;
  }
  curl_url_cleanup(t->own_url);
  t->own_url = NULL;
  /* The token must not linger in memory longer than needed. */
  if (t->hdr_secret)
    memset(t->hdr_text.data, 0, t->hdr_secret);
  t->hdr_secret = 0;
  t->headers = NULL;
}

/* url parsed into a new CURLU (the caller's), or NULL when it does not
 * parse or memory ran out. */
static CURLU *url_parse(const char *url) {
  CURLU *u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
    curl_url_cleanup(u);
    return NULL;
  }
  return u;
}

/* The token goes only to the configured upstream and to Replicate's own
 * hosts (stream URLs live on other hosts); never to a host a reply named
 * that we do not know. parsed: url as the transfer already parsed it, or
 * NULL. */
static int wants_token(const struct up_client *c, const char *url, CURLU *parsed) {
  size_t n = strlen(c->upstream);
  if (strncmp(url, c->upstream, n) == 0 && (url[n] == '/' || url[n] == '\0'))
    return 1;
  CURLU *u = parsed ? parsed : url_parse(url);
  char *host = NULL, *scheme = NULL;
  int ok = 0;
  if (u && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
    size_t hl = strlen(host);
    static const char *const suffixes[] = {".replicate.com", ".replicate.net"};
    for (size_t i = 0; i < 2 && !ok; i++) {
      size_t sl = strlen(suffixes[i]);
      ok = strcmp(scheme, "https") == 0 && hl > sl &&
           strcasecmp(host + hl - sl, suffixes[i]) == 0;
    }
  }
  curl_free(host);
  curl_free(scheme);
  if (u != parsed)
    curl_url_cleanup(u);
  return ok;
}

/* url parsed, from the client's few (NULL: not parsed, use the string). */
static CURLU *parsed_url(struct up_client *c, const char *url) {
  for (int i = 0; i < c->n_parsed; i++)
    if (strcmp(c->parsed[i].url, url) == 0)
      return c->parsed[i].u;
  if (c->n_parsed == (int)(sizeof c->parsed / sizeof c->parsed[0]))
    return NULL; /* a config that changed model many times: strings again */
  CURLU *u = url_parse(url);
  char *copy = strdup(url);
  if (!u || !copy) {
    curl_url_cleanup(u);
    free(copy);
    return NULL;
  }
  c->parsed[c->n_parsed++] = (struct up_parsed_url){copy, u};
  return u;
}

/* Any other URL (a prediction's, a stream's: each used once) parsed for its
 * transfer: given only the string, curl 7.88 parses it the same way and
 * then rebuilds it through its printf a byte at a time (~10k instructions,
 * twice a stream). NULL (the string is used) when it does not parse. */
static CURLU *own_parsed_url(struct up_transfer *t, const char *url) {
  return t->own_url = url_parse(url);
}

/* Header lines that never change: list nodes point at them (curl only
 * reads a list's text). */
static char H_USER_AGENT[] = "User-Agent: replicate-proxy/0.1",
            H_CONTENT_TYPE[] = "Content-Type: application/json", H_EXPECT[] = "Expect:",
            H_PREFER[] = "Prefer: wait", H_ACCEPT_SSE[] = "Accept: text/event-stream",
            H_NO_ACCEPT[] = "Accept:",
            H_NO_STORE[] = "Cache-Control: no-store";

/* curl 7.88 and 8.x (EXPECT_100_THRESHOLD); a little under it, to be safe. */
#define EXPECT_100_FROM (1000u * 1000u)

/* "<name><value>" and its NUL at o; returns the byte after the NUL. */
static char *put_line(char *o, const char *name, size_t nn, const char *v, size_t nv) {
  memcpy(o, name, nn);
  memcpy(o + nn, v, nv);
  o[nn + nv] = '\0';
  return o + nn + nv + 1;
}

/* The request's header list, in nodes the transfer owns: one reserve of
 * hdr_text (kept between calls), not a malloc for each line and its
 * slist node and a printf each (they were ~1,500 instructions a call).
 * 0, or -1 (out of memory). */
static int build_headers(struct up_transfer *t, const struct up_request *r, int with_token,
                         const char *traceparent) {
  static const char AUTH[] = "Authorization: Bearer ", RID[] = "X-Request-Id: ",
                    TP[] = "traceparent: ";
  size_t nt = with_token ? strlen(r->token) : 0;
  size_t nr = r->request_id ? strlen(r->request_id) : 0, np = strlen(traceparent);
  size_t need = (nt ? sizeof AUTH + nt : 0) + (nr ? sizeof RID + nr : 0) +
                (np ? sizeof TP + np : 0);
  buf_reset(&t->hdr_text);
  if (need && buf_reserve(&t->hdr_text, need) != 0)
    return -1;
  char *lines[UP_MAX_HEADERS], *o = t->hdr_text.data;
  size_t n = 0;
  /* The User-Agent as a line of ours, not CURLOPT_USERAGENT: curl formats
   * that one a byte at a time twice a transfer (~4k instructions). */
  lines[n++] = H_USER_AGENT;
  if (strcmp(r->method, "POST") == 0) {
    /* Only a body needs them (curl formats every header line a byte at a
     * time, ~75 instructions a byte: a stream's GETs skip ~2k each). */
    lines[n++] = H_CONTENT_TYPE;
    /* curl asks for 100-continue only above 1 MiB; below, the empty
     * Expect line would just cost curl's header scans (~0.8k a create). */
    if (r->body && strnlen(r->body, EXPECT_100_FROM + 1) > EXPECT_100_FROM)
      lines[n++] = H_EXPECT;
  }
  if (r->prefer_wait)
    lines[n++] = H_PREFER;
  if (r->sse) {
    lines[n++] = H_ACCEPT_SSE;
    lines[n++] = H_NO_STORE;
  } else {
    /* Without it curl sends its default Accept line (any type), which
     * tells Replicate nothing and is formatted a byte at a time (~1.3k
     * instructions a call); a header with no value is not sent. */
    lines[n++] = H_NO_ACCEPT;
  }
  if (nt) {
    lines[n++] = o;
    o = put_line(o, AUTH, sizeof AUTH - 1, r->token, nt);
    t->hdr_secret = (size_t)(o - t->hdr_text.data); /* wiped in release */
  }
  if (nr) {
    lines[n++] = o;
    o = put_line(o, RID, sizeof RID - 1, r->request_id, nr);
  }
  if (np) {
    lines[n++] = o;
    o = put_line(o, TP, sizeof TP - 1, traceparent, np);
  }
  if (need)
    t->hdr_text.len = need - 1; /* the last line's NUL ends the buffer */
  for (size_t i = 0; i < n; i++) {
    t->hdr_nodes[i].data = lines[i];
    t->hdr_nodes[i].next = i + 1 < n ? &t->hdr_nodes[i + 1] : NULL;
  }
  t->headers = t->hdr_nodes;
  return 0;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* What a call is, for metrics: the request says it without a new field. */
static enum metrics_up_kind kind_of(const struct up_request *r) {
  size_t n = strlen(r->url);
  if (strcmp(r->method, "POST") == 0)
    return n >= 7 && strcmp(r->url + n - 7, "/cancel") == 0 ? MU_CANCEL : MU_CREATE;
  if (r->sse)
    return MU_STREAM;
  const char *q = strchr(r->url, '?');
  size_t path_len = q ? (size_t)(q - r->url) : n;
  return path_len >= 12 && strncmp(r->url + path_len - 12, "/predictions", 12) == 0 ? MU_LIST
                                                                                      : MU_POLL;
}

static unsigned char profile_of(const struct up_request *r, int parsed) {
  return (unsigned char)(PROFILE_SET | (strcmp(r->method, "POST") == 0 ? PROFILE_POST : 0) |
                         (r->sse ? PROFILE_SSE : 0) |
                         (strncasecmp(r->url, "https:", 6) == 0 ? PROFILE_HTTPS : 0) |
                         (parsed ? PROFILE_PARSED : 0));
}

/* A handle for this profile: one pooled with it (1), else another pooled
 * one reset, or a new one (0: every option must be set); NULL when out of
 * memory. */
static CURL *take_handle(struct up_client *c, unsigned char profile, int *warm) {
  *warm = 0;
  for (int i = c->n_idle - 1; i >= 0; i--) {
    if (c->idle_profile[i] != profile)
      continue;
    CURL *e = c->idle[i];
    c->n_idle--;
    c->idle[i] = c->idle[c->n_idle];
    c->idle_profile[i] = c->idle_profile[c->n_idle];
    *warm = 1;
    return e;
  }
  if (!c->n_idle)
    return curl_easy_init();
  CURL *e = c->idle[--c->n_idle];
  curl_easy_reset(e);
  return e;
}

/* The options every transfer of a profile shares. */
static void set_profile_options(struct up_client *c, CURL *e, unsigned char profile) {
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  if (c->no_env_proxy) {
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  up_sockets_setopt(c, e);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Wait for a connection that may multiplex rather than open another; only
   * over TLS, where ALPN settles it at the handshake. Over plain HTTP curl
   * learns it from a reply, so a transfer would wait behind a slow one. */
  if (profile & PROFILE_HTTPS)
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  /* The CA bundle file alone, without the hashed directory Debian's curl
   * also names (the same CAs): curl 7.88 caches a store built from a file
   * only, and otherwise reads and parses the whole bundle again for every
   * new connection (strace: one open of ca-certificates.crt per connect).
   * Verification stays on. */
  if (c->ca_file && c->ca_file[0])
    curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file); /* instead of the system's */
  curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  /* Token events are tiny; the smallest receive buffer (1 KiB) keeps
   * thousands of open streams cheap (curl's default is 16 KiB each). Not
   * over https: libcurl 7.88's HTTP/2 code copies a whole DATA frame (up to
   * 16 KiB) into a stream's buffer without bounding it by a smaller size
   * (a heap overflow ASan caught with 1,500 TLS streams). */
  if ((profile & PROFILE_SSE) && !(profile & PROFILE_HTTPS)) {
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L);
    /* An HTTP/1.1 stream holds its connection until done, then closes it
     * (the server keeps the reply open), so no stream can reuse another's:
     * without this every new stream walks all the stream host's busy
     * connections looking for one (O(open streams) per stream, ~5% of the
     * CPU at 2,000 streams). */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  }
  /* Over HTTP/2 curl 7.88 sends every POST body through an upload buffer
   * (64 KiB by default) that curl_easy_reset leaves on a pooled handle, so
   * a stream started on a create's handle held one for its whole life
   * (massif, 1,000 TLS streams: 61 MB of 91 MB). Setting the size frees
   * it; a create's body needs no more than the smallest (16 KiB). curl 8.x
   * keeps its send buffer through curl_easy_reset as well and frees it
   * only when the size changes (8.14, 5,000 plain streams: 146 MB peak
   * RSS, 106-109 MB with this), so a transfer without a body asks for one
   * byte more. */
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE,
                   profile & PROFILE_POST ? UPLOAD_BUFFER_BYTES : UPLOAD_BUFFER_BYTES + 1);
  if (profile & PROFILE_POST)
    curl_easy_setopt(e, CURLOPT_POST, 1L);
}

int up_start(struct up_client *c, struct up_transfer *t, const struct up_request *r) {
  t->kind = kind_of(r);
  t->sock = CURL_SOCKET_BAD;
  t->started_us = mono_us();
  size_t rid_len = r->request_id ? strnlen(r->request_id, sizeof t->request_id - 1) : 0;
  memcpy(t->request_id, r->request_id ? r->request_id : "", rid_len); /* not snprintf: hot */
  t->request_id[rid_len] = '\0';
  t->client = c;
  t->status = 0;
  t->result = CURLE_OK;
  t->aborted_by_callback = 0;
  t->retry_after[0] = '\0';
  t->error[0] = '\0';
  t->sends = t->resend_refused = t->too_large = t->os_errno = 0;
  t->want_pause = t->paused = t->in_write = 0;
  t->version_seen = 0;
  t->connect_timed_out = 0;
  t->max_body = r->max_body;
  t->no_resend = r->no_resend;
  t->timeout_ms = r->timeout_ms;
  buf_reset(&t->body);
  /* Creates go to the same few URLs: parsed once. The string too: without
   * it curl rebuilds it from the CURLU each transfer (the same text). */
  CURLU *parsed = t->kind == MU_CREATE ? parsed_url(c, r->url) : own_parsed_url(t, r->url);
  unsigned char profile = profile_of(r, parsed != NULL);
  int warm;
  t->profile = 0; /* until its options are set: a failed start's handle is reset */
  t->easy = take_handle(c, profile, &warm);
  if (!t->easy)
    goto fail;
  CURL *e = t->easy;
  char traceparent[TRACEPARENT_LEN + 1];
  t->resend_count = r->resend_count;
  spans_upstream_begin(t, r->trace, traceparent);
  int with_token = r->token && r->token[0] && wants_token(c, r->url, parsed);
  if (build_headers(t, r, with_token, traceparent) != 0)
    goto fail;
  if (!warm)
    set_profile_options(c, e, profile);
  t->profile = profile;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  if (parsed)
    curl_easy_setopt(e, CURLOPT_CURLU, parsed);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
  if (profile & PROFILE_POST) {
    /* Copied: a create handed to up_orphan outlives its exchange, which
     * owns r->body, and curl may not have sent the body yet. */
    if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? r->body : "") != CURLE_OK)
      goto fail;
  }
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
    goto fail;
  t->in_multi = 1;
  c->n_in_multi++;
  fit_cache(c);
  fit_host_cap(c);
  return 0;
fail:
  if (!t->error[0])
    snprintf(t->error, sizeof t->error, "could not start the upstream request");
  release(t);
  return -1;
}

void up_stop(struct up_transfer *t) {
  if (t->span.recording)
    spans_upstream_end(t, 1);
  release(t);
}

void up_transfer_free(struct up_transfer *t) {
  release(t);
  free_retry(t);
  buf_free(&t->body);
  buf_free(&t->hdr_text);
  if (t->owned) {
    memset(t->owned, 0, strlen(t->owned)); /* it is usually a token */
    free(t->owned);
    t->owned = NULL;
  }
}

/* Completed transfers. A callback may start or stop other transfers; curl
 * drops the queued message of a handle that is removed meanwhile. */
static void drain_done(struct up_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    struct up_transfer *t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    t->result = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &t->status);
    long os_errno = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_OS_ERRNO, &os_errno);
    t->os_errno = (int)os_errno;
    if (t->result != CURLE_OK && !t->error[0])
      snprintf(t->error, sizeof t->error, "%s", curl_easy_strerror(t->result));
    /* A timeout before the request went out, short of the request's own
     * deadline, is connect_timeout: a connection (or TLS handshake) that did
     * not come up. That is a failed connect, which may pass and is retried
     * like one (curl reports it as a timeout, which callers take for the
     * request's deadline). Nothing was sent, so nothing can have been made. */
    uint64_t ran_ms = (mono_us() - t->started_us) / 1000;
    if (t->result == CURLE_OPERATION_TIMEDOUT && t->sends == 0 &&
        (t->timeout_ms <= 0 || ran_ms + CONNECT_DEADLINE_SLACK_MS < (uint64_t)t->timeout_ms)) {
      t->result = CURLE_COULDNT_CONNECT;
      t->os_errno = ETIMEDOUT;
      t->connect_timed_out = 1;
    }
    if (t->span.recording)
      spans_upstream_end(t, 0);
    release(t);
    if (c->metrics)
      metrics_upstream_call(c->metrics, t->kind, t->status,
                            t->result != CURLE_OK && !t->aborted_by_callback,
                            mono_us() - t->started_us);
    int entered = log_request_enter(t->request_id); /* lines about it carry its id */
    t->done(t);
    log_request_leave(entered);
  }
}

/* ---- detached POSTs (cancels) ---- */

static void free_retry(struct up_transfer *t) {
  struct up_retry *r = t->retry;
  if (!r)
    return;
  loop_timer_disarm(t->client->loop, &r->timer);
  free(r->url);
  if (r->token) {
    memset(r->token, 0, strlen(r->token));
    free(r->token);
  }
  free(r->label);
  free(r);
  t->retry = NULL;
}

static void detached_free(struct up_transfer *t) {
  unlink_detached(t);
  up_transfer_free(t);
  free(t);
}

static int start_attempt(struct up_transfer *t) {
  struct up_retry *r = t->retry;
  struct up_request req = {.method = "POST", .url = r->url, .token = r->token,
                           .timeout_ms = CANCEL_TIMEOUT_MS,
                           .max_body = CANCEL_MAX_REPLY,
                           .trace = r->trace.active ? &r->trace : NULL,
                           .resend_count = r->attempt - 1};
  return up_start(t->client, t, &req);
}

static void on_retry_timer(struct loop *l, struct loop_timer *timer) {
  (void)l;
  struct up_retry *r = timer->ud;
  struct up_transfer *t = r->t;
  if (start_attempt(t) != 0) {
    log_msg(LOG_ERROR, "cancel of prediction %s not sent (%s): it may still run and bill",
            r->label, t->error);
    detached_free(t);
  }
}

/* What went wrong with a cancel, for the log (curl's detail names only
 * Replicate's host, never the token). */
static void describe(const struct up_transfer *t, char *out, size_t len) {
  if (t->result != CURLE_OK)
    snprintf(out, len, "%s: %s", up_result_phrase(t), t->error);
  else
    snprintf(out, len, "HTTP %ld", t->status);
}

/* A finished cancel attempt: retry it, or log how it ended. Returns 1 when
 * a retry is scheduled (the transfer lives on). */
static int cancel_outcome(struct up_transfer *t) {
  struct up_retry *r = t->retry;
  char why[CURL_ERROR_SIZE + 64];
  describe(t, why, sizeof why);
  int transient = t->result != CURLE_OK || t->status == 429 || t->status >= 500;
  if (!transient) {
    if (t->status >= 200 && t->status <= 299)
      log_msg(LOG_DEBUG, "prediction %s canceled", r->label);
    else /* e.g. 404: Replicate knows nothing to cancel; retrying cannot help */
      log_msg(LOG_WARN, "cancel of prediction %s refused (%s)", r->label, why);
    return 0;
  }
  if (r->attempt >= CANCEL_ATTEMPTS) {
    log_msg(LOG_ERROR, "cancel of prediction %s failed %d times (last: %s): it may still run and bill",
            r->label, r->attempt, why);
    return 0;
  }
  long delay = (long)CANCEL_BACKOFF_MS << (r->attempt - 1);
  long hint = up_retry_after_ms(t);
  if (hint > delay)
    delay = hint;
  log_msg(LOG_WARN, "cancel of prediction %s failed (%s); retry %d of %d in %ld ms", r->label,
          why, r->attempt, CANCEL_ATTEMPTS - 1, delay);
  r->attempt++;
  if (loop_timer_arm(t->client->loop, &r->timer, (uint64_t)delay) != 0) {
    log_msg(LOG_ERROR, "cancel of prediction %s not retried (out of memory)", r->label);
    return 0;
  }
  return 1;
}

static void detached_done(struct up_transfer *t) {
  if (t->retry && cancel_outcome(t))
    return;
  if (t->then)
    t->then(t);
  detached_free(t);
}

int up_post_detached(struct up_client *c, const char *url, const char *token,
                     const char *label, const struct trace_ctx *trace) {
  struct up_transfer *t = malloc(sizeof *t);
  struct up_retry *r = calloc(1, sizeof *r);
  if (!t || !r) {
    free(t);
    free(r);
    return -1;
  }
  up_transfer_init(t, detached_done, NULL, NULL);
  t->client = c;
  t->retry = r;
  r->t = t;
  r->attempt = 1;
  if (trace)
    r->trace = *trace;
  loop_timer_init(&r->timer, on_retry_timer, r);
  r->url = strdup(url);
  r->token = strdup(token ? token : "");
  r->label = strdup(label ? label : "?");
  if (!r->url || !r->token || !r->label || start_attempt(t) != 0) {
    up_transfer_free(t);
    free(t);
    return -1;
  }
  link_detached(c, t);
  return 0;
}

void up_orphan(struct up_transfer *t, up_done_cb then, char *owned) {
  t->done = detached_done;
  t->then = then;
  t->owned = owned;
  t->ud = NULL;
  link_detached(t->client, t);
}

int up_detached_count(const struct up_client *c) {
  int n = 0;
  for (const struct up_transfer *t = c->detached; t; t = t->next)
    n++;
  return n;
}

int up_result_is_unreachable(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
         rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SSL_CONNECT_ERROR;
}

void up_pause(struct up_transfer *t, int pause) {
  t->want_pause = pause;
  /* Pausing waits for the next piece of data (on_write returns PAUSE):
   * calling curl_easy_pause from inside another transfer's callback is not
   * safe, and one more piece is small. */
  if (!pause && t->paused && t->easy && !t->in_write) {
    t->paused = 0;
    curl_easy_pause(t->easy, CURLPAUSE_CONT); /* may deliver the held piece now */
  }
}

long up_retry_after_ms(const struct up_transfer *t) {
  const char *v = t->retry_after;
  if (*v < '0' || *v > '9')
    return -1; /* absent, or an HTTP date: back off on our own */
  char *end;
  long secs = strtol(v, &end, 10);
  if (*end != '\0' || secs < 0)
    return -1;
  return secs > 60 ? 60000 : secs * 1000;
}

int up_fate_unknown(const struct up_transfer *t) {
  /* A timeout is left out: it comes with the request's own deadline. A 2xx
   * whose body was cut counts: the prediction surely exists, and a resend
   * would make (and bill) a second one. */
  return t->result != CURLE_OK && t->sends > 0 && !t->too_large &&
         (t->status == 0 || (t->status >= 200 && t->status <= 299)) &&
         t->result != CURLE_OPERATION_TIMEDOUT;
}

/* By errno first (a failed connect says why through it), then by result. */
static const struct {
  int err;
  const char *phrase;
} errno_phrases[] = {
    {ECONNREFUSED, "connection refused"}, {ETIMEDOUT, "connection timed out"},
    {EHOSTUNREACH, "host unreachable"},   {ENETUNREACH, "network unreachable"},
    {ECONNRESET, "connection reset"},
};

static const struct {
  CURLcode rc;
  const char *phrase;
} result_phrases[] = {
    {CURLE_COULDNT_RESOLVE_HOST, "host name not found"},
    {CURLE_COULDNT_RESOLVE_PROXY, "proxy name not found"},
    {CURLE_COULDNT_CONNECT, "connection failed"},
    {CURLE_SSL_CONNECT_ERROR, "TLS handshake failed"},
    {CURLE_PEER_FAILED_VERIFICATION, "TLS certificate not trusted"},
    {CURLE_OPERATION_TIMEDOUT, "timed out"},
    {CURLE_GOT_NOTHING, "empty reply"},
    {CURLE_RECV_ERROR, "connection reset"},
    {CURLE_SEND_ERROR, "connection reset while sending"},
    {CURLE_PARTIAL_FILE, "reply cut short"},
    {CURLE_ABORTED_BY_CALLBACK, "connection lost after sending"},
    {CURLE_WRITE_ERROR, "reply not accepted"},
    {CURLE_OUT_OF_MEMORY, "out of memory"},
};

const char *up_result_phrase(const struct up_transfer *t) {
  if (t->too_large)
    return "reply too large";
  if (t->resend_refused)
    return "connection lost after sending";
  for (size_t i = 0; i < sizeof errno_phrases / sizeof errno_phrases[0]; i++)
    if (t->os_errno == errno_phrases[i].err)
      return errno_phrases[i].phrase;
  for (size_t i = 0; i < sizeof result_phrases / sizeof result_phrases[0]; i++)
    if (t->result == result_phrases[i].rc)
      return result_phrases[i].phrase;
  return "transfer failed";
}
