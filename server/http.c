#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "exchange.h"
#include "routes.h"

enum reply_kind { REPLY_NONE, REPLY_JSON, REPLY_STREAM };

struct http_request {
  struct worker *w;
  struct http_daemon *d;
  struct MHD_Connection *conn;
  char method[8];
  char path[HTTP_PATH_MAX];
  struct http_header *extra_headers; /* added by handlers, sent on the reply */
  struct buf body;
  int too_large;
  int dispatched;
  int suspended;
  int client_gone;
  struct loop_watch hup_watch; /* client socket: hang-ups while suspended */
  struct loop_timer hup_timer; /* arms hup_watch for waits that last */
  enum reply_kind reply;
  int status;
  char *reply_body;
  char retry_after[32];
  struct exchange *ex;
  uint64_t started_ms;
  uint64_t first_byte_ms; /* 0 until the reply's first byte is handed over */
  http_error_format_fn error_format; /* a dialect's error shape, or NULL */
  http_done_fn on_done;   /* set by a handler: called once when the request ends */
  void *done_ctx;
  struct http_request *next, *prev; /* worker->requests */
};

/* ---------------------------------------------------------------- replies */

void http_request_respond(struct http_request *hr, int status, char *body) {
  free(hr->reply_body);
  hr->reply = REPLY_JSON;
  hr->status = status;
  hr->reply_body = body;
}

void http_request_respond_error(struct http_request *hr, const struct oai_error *e) {
  int status = e->status;
  char *json = hr->error_format ? hr->error_format(e, &status) : NULL;
  if (!json) {
    json = oai_error_json(e);
    status = e->status;
  }
  snprintf(hr->retry_after, sizeof hr->retry_after, "%s", e->retry_after);
  http_request_respond(hr, status, json);
}

void http_request_set_error_format(struct http_request *hr, http_error_format_fn fn) {
  hr->error_format = fn;
}

void http_request_open_stream(struct http_request *hr) {
  hr->reply = REPLY_STREAM;
  hr->status = 200;
}

/* ------------------------------------------------------------- accessors */

const char *http_request_method(const struct http_request *hr) { return hr->method; }
const char *http_request_path(const struct http_request *hr) { return hr->path; }
struct worker *http_request_worker(const struct http_request *hr) { return hr->w; }
const struct config *http_request_config(const struct http_request *hr) { return hr->w->cfg; }

const char *http_request_body(const struct http_request *hr, size_t *len) {
  *len = hr->body.len;
  return hr->body.data ? hr->body.data : "";
}

const char *http_request_header(const struct http_request *hr, const char *name) {
  return MHD_lookup_connection_value(hr->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const struct http_request *hr, const char *name) {
  return MHD_lookup_connection_value(hr->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_request_client_addr(const struct http_request *hr, char *out, size_t len) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(hr->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr || len == 0)
    return -1;
  char host[NI_MAXHOST];
  const struct sockaddr *sa = ci->client_addr;
  socklen_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (getnameinfo(sa, sl, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
    return -1;
  snprintf(out, len, "%s", host);
  return 0;
}

int http_request_add_header(struct http_request *hr, const char *name, const char *value) {
  size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
  struct http_header *h = malloc(sizeof *h + nl + vl);
  if (!h)
    return -1;
  h->name = h->data;
  h->value = h->data + nl;
  memcpy(h->data, name, nl);
  memcpy(h->data + nl, value, vl);
  /* Appended, so headers go out in the order they were added. */
  h->next = NULL;
  struct http_header **tail = &hr->extra_headers;
  while (*tail)
    tail = &(*tail)->next;
  *tail = h;
  return 0;
}

void http_request_attach(struct http_request *hr, struct exchange *ex) { hr->ex = ex; }

void http_request_on_done(struct http_request *hr, http_done_fn fn, void *ctx) {
  hr->on_done = fn;
  hr->done_ctx = ctx;
}

struct http_request_end http_request_end_info(const struct http_request *hr) {
  struct http_request_end e = {hr->status, hr->client_gone, hr->started_ms, hr->first_byte_ms, hr->ex};
  return e;
}

static void on_client_hangup(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct http_request *hr = ud;
  hr->client_gone = 1;
  if (hr->ex)
    exchange_abort(hr->ex, 0);
  http_request_wake(hr);
}

static void watch_hangup(struct http_request *hr) {
  if (hr->hup_watch.registered)
    return;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(hr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (ci) {
    loop_watch_init(&hr->hup_watch, ci->connect_fd, on_client_hangup, hr);
    loop_watch_set(&hr->w->loop, &hr->hup_watch, EPOLLRDHUP | EPOLLET);
  }
}

static void on_hup_timer(struct loop *l, struct loop_timer *t) {
  (void)l;
  watch_hangup(t->ud);
}

/* Waits that last longer than this get the hang-up watch; most
 * non-streaming answers come sooner and save the two epoll_ctl calls. */
#define HUP_WATCH_DELAY_MS 250

/* While suspended, libmicrohttpd does not look at the socket, so a client
 * that hangs up would go unnoticed until the next write: watch it here.
 * The watch stays for the request's life (edge-triggered: one report), not
 * per suspension: a stream suspends after every token. */
static void suspend(struct http_request *hr) {
  if (hr->suspended)
    return;
  MHD_suspend_connection(hr->conn);
  hr->suspended = 1;
  if (hr->reply == REPLY_STREAM)
    watch_hangup(hr);
  else if (!hr->hup_watch.registered && !loop_timer_armed(&hr->hup_timer))
    loop_timer_arm(&hr->w->loop, &hr->hup_timer, HUP_WATCH_DELAY_MS);
}

void http_request_wake(struct http_request *hr) {
  if (!hr->suspended)
    return;
  hr->suspended = 0;
  MHD_resume_connection(hr->conn);
  hr->d->pending = 1;
  hr->w->mhd_pending = 1;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max) {
  (void)pos;
  struct http_request *hr = cls;
  if (hr->client_gone || !hr->ex)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  ssize_t n = exchange_read(hr->ex, out, max);
  if (n < 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n == 0)
    suspend(hr); /* returning 0 without suspending would busy-loop */
  else if (!hr->first_byte_ms)
    hr->first_byte_ms = loop_now_ms();
  return n;
}

static enum MHD_Result queue_reply(struct http_request *hr) {
  struct MHD_Response *r;
  if (hr->reply == REPLY_STREAM) {
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
                                          stream_reader, hr, NULL);
    if (!r)
      return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
  } else {
    const char *body = hr->reply_body ? hr->reply_body : "{}";
    r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
      return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (hr->retry_after[0])
      MHD_add_response_header(r, "Retry-After", hr->retry_after);
  }
  for (const struct http_header *h = hr->extra_headers; h; h = h->next)
    MHD_add_response_header(r, h->name, h->value);
  if (hr->reply != REPLY_STREAM)
    hr->first_byte_ms = loop_now_ms();
  enum MHD_Result rc = MHD_queue_response(hr->conn, (unsigned)hr->status, r);
  MHD_destroy_response(r);
  return rc;
}

/* ---------------------------------------------------- libmicrohttpd glue */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  (void)version;
  struct http_daemon *d = cls;
  struct worker *w = d->w;
  struct http_request *hr = *req_cls;
  if (!hr) {
    hr = calloc(1, sizeof *hr);
    if (!hr)
      return MHD_NO;
    hr->w = w;
    hr->d = d;
    hr->conn = conn;
    loop_timer_init(&hr->hup_timer, on_hup_timer, hr);
    hr->started_ms = loop_now_ms();
    snprintf(hr->method, sizeof hr->method, "%s", method);
    snprintf(hr->path, sizeof hr->path, "%s", url);
    buf_init(&hr->body);
    hr->next = w->requests;
    if (w->requests)
      w->requests->prev = hr;
    w->requests = hr;
    w->n_requests++;
    *req_cls = hr;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
      char *end;
      unsigned long long n = strtoull(cl, &end, 10);
      if (*end == '\0' && n > (unsigned long long)w->cfg->max_body_size)
        hr->too_large = 1;
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (!hr->too_large &&
        hr->body.len + *upload_data_size > (size_t)w->cfg->max_body_size)
      hr->too_large = 1;
    if (!hr->too_large && buf_append(&hr->body, upload_data, *upload_data_size) != 0)
      return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (hr->client_gone)
    return MHD_NO;
  if (!hr->dispatched) {
    hr->dispatched = 1;
    if (hr->too_large) {
      struct oai_error e;
      oai_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                    "Request body is larger than the limit of %lld bytes",
                    (long long)w->cfg->max_body_size);
      http_request_respond_error(hr, &e);
    } else {
      routes_dispatch(hr);
    }
  }
  if (hr->reply != REPLY_NONE)
    return queue_reply(hr);
  suspend(hr);
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  struct http_daemon *d = cls;
  struct worker *w = d->w;
  struct http_request *hr = *req_cls;
  if (!hr)
    return;
  *req_cls = NULL;
  if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
    hr->client_gone = 1;
  loop_watch_remove(&w->loop, &hr->hup_watch);
  loop_timer_disarm(&w->loop, &hr->hup_timer);
  if (hr->on_done)
    hr->on_done(hr, hr->done_ctx); /* settles while the exchange still exists */
  if (hr->ex)
    exchange_free(hr->ex);
  log_msg(LOG_INFO, "%s %s %d %llums%s", hr->method, hr->path, hr->status,
          (unsigned long long)(loop_now_ms() - hr->started_ms),
          hr->client_gone ? " (client gone)" : "");
  if (hr->prev)
    hr->prev->next = hr->next;
  else
    w->requests = hr->next;
  if (hr->next)
    hr->next->prev = hr->prev;
  w->n_requests--;
  free(hr->reply_body);
  buf_free(&hr->body);
  while (hr->extra_headers) {
    struct http_header *h = hr->extra_headers;
    hr->extra_headers = h->next;
    free(h);
  }
  free(hr);
}

static void on_mhd_ready(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct http_daemon *d = ud;
  d->pending = 1; /* run after this batch: it may free requests */
  d->w->mhd_pending = 1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && line[n - 1] == '\n')
    line[--n] = '\0';
  log_msg(LOG_DEBUG, "libmicrohttpd: %s", line);
}

static int start_daemon(struct http_daemon *d) {
  struct worker *w = d->w;
  d->mhd = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
      NULL, on_request, d,
      /* The logger must come first to also see errors about later options. */
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, d->listen_fd,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)w->cfg->max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
      /* Small per-connection pools: thousands of idle streams add up. Request
       * bodies are copied out as they arrive, so this bounds headers only. */
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)w->cfg->connection_memory, MHD_OPTION_END);
  if (!d->mhd)
    return -1;
  d->listen_fd = -1; /* libmicrohttpd owns and closes it now */
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info)
    return -1;
  loop_watch_init(&d->watch, info->epoll_fd, on_mhd_ready, d);
  return loop_watch_set(&w->loop, &d->watch, EPOLLIN);
}

int http_start(struct worker *w) {
  for (int i = 0; i < w->n_daemons; i++) {
    w->daemons[i].w = w;
    if (start_daemon(&w->daemons[i]) != 0)
      return -1;
  }
  return 0;
}

void http_end_requests(struct worker *w) {
  for (struct http_request *hr = w->requests; hr; hr = hr->next) {
    if (hr->ex)
      exchange_abort(hr->ex, 1);
    else
      http_request_wake(hr);
  }
}

void http_resume_all(struct worker *w) {
  for (struct http_request *hr = w->requests; hr; hr = hr->next) {
    hr->client_gone = 1; /* makes the reader and handler end the connection */
    http_request_wake(hr);
  }
}

void http_stop_accepting(struct worker *w) {
  for (int i = 0; i < w->n_daemons; i++) {
    struct http_daemon *d = &w->daemons[i];
    if (!d->mhd)
      continue;
    MHD_socket fd = MHD_quiesce_daemon(d->mhd);
    if (fd != MHD_INVALID_SOCKET)
      close(fd);
  }
}

void http_free(struct worker *w) {
  for (int i = 0; i < w->n_daemons; i++) {
    struct http_daemon *d = &w->daemons[i];
    if (d->listen_fd >= 0)
      close(d->listen_fd);
    d->listen_fd = -1;
    if (!d->mhd)
      continue;
    loop_watch_remove(&w->loop, &d->watch);
    MHD_stop_daemon(d->mhd);
    d->mhd = NULL;
  }
}

/* Run the daemons that have work: ready sockets, resumed connections, or
 * their own timeouts. An idle daemon is not touched. */
void http_run(struct worker *w) {
  uint64_t now = loop_now_ms();
  w->mhd_pending = 0;
  for (int i = 0; i < w->n_daemons; i++) {
    struct http_daemon *d = &w->daemons[i];
    if (!d->mhd || (!d->pending && now < d->due_ms))
      continue;
    d->pending = 0;
    MHD_run(d->mhd);
    MHD_UNSIGNED_LONG_LONG t;
    d->due_ms = MHD_get_timeout(d->mhd, &t) == MHD_YES ? now + (t > 60000 ? 60000 : t)
                                                       : now + 60000;
  }
}

int http_timeout_ms(struct worker *w) {
  if (w->mhd_pending)
    return 0;
  uint64_t now = loop_now_ms(), next = UINT64_MAX;
  for (int i = 0; i < w->n_daemons; i++)
    if (w->daemons[i].mhd && w->daemons[i].due_ms < next)
      next = w->daemons[i].due_ms;
  if (next == UINT64_MAX)
    return -1;
  return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}
