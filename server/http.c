/* The HTTP/1.1 front on the worker's own loop (h2o/Redis style): accept,
 * one struct per connection, read a head (shared/http1.c parses it), read
 * the body, dispatch to routes, write the answer, keep-alive and pipelining
 * in order. Timeouts are deadlines per phase, never restarted by a byte. */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../shared/fit_text.h"
#include "../shared/http1.h"
#include "exchange.h"
#include "request_end.h"
#include "routes.h"
#include "spans.h"

#define container_of(p, type, field) ((type *)(void *)((char *)(p) - offsetof(type, field)))

enum reply_kind { REPLY_NONE, REPLY_JSON, REPLY_STREAM };

enum conn_state {
  CS_HEAD,   /* waiting for or reading a request head */
  CS_BODY,   /* reading the request body */
  CS_ACTIVE, /* dispatched: waiting for the answer, writing it */
  CS_LINGER, /* answered and closing: our side shut, the client's input drained */
};

/* Reads for a body come in pieces of this; a stream is pulled from its
 * exchange in pieces of this while the socket takes them. */
#define IO_CHUNK 16384
/* How long a closing connection's unread input is drained, so that the
 * kernel does not answer it with a reset that destroys our reply. */
#define LINGER_MS 2000
/* The first read buffer; it grows to max_header_size for a head. At most
 * 1032 bytes stays in glibc's per-thread cache: 2 KiB took malloc's slow
 * path and a consolidation, ~2.5k instructions a request. */
#define IN_START 1024

struct http_conn {
  struct worker *w;
  int fd;
  struct loop_watch watch;
  struct loop_timer timer; /* the current phase's deadline */
  uint32_t events;
  enum conn_state state;
  int head_started;  /* a byte of the current head has arrived */
  int close_after;   /* close once the current answer is out */
  char *in;          /* bytes read, not yet used */
  size_t in_len, in_cap;
  struct buf out;    /* output the socket did not take yet */
  size_t out_off;
  const char *body_ptr; /* a JSON body written after out, from hr->reply_body */
  size_t body_left;
  uint64_t body_want; /* Content-Length bytes still to read */
  int body_chunked;
  struct http1_chunked chunked;
  struct http_request *hr; /* the request being read or answered */
  struct sockaddr_storage addr;
  /* addr formatted on first use ("" until then): once a connection. Numeric
   * IPv6 with a zone fits 64 (NI_MAXHOST's 1025 bytes, in every one of
   * thousands of open connections, was ~5 MB at 5,000 streams). */
  char addr_text[64];
  struct http_list all, idle, pending;
  int in_idle, in_pending;
  int wrote; /* some output went out since the send deadline was set */
  int input_held; /* bytes arrived while answering: EPOLLIN off until the answer is out */
  int closed;
};

struct query_value {
  struct query_value *next;
  char *value;
  char name[];
};

struct http_request {
  struct worker *w;
  struct http_conn *c; /* always valid: a connection outlives its request */
  char method[HTTP1_METHOD_MAX + 1]; /* what routes see (HEAD → GET) */
  char log_method[HTTP1_METHOD_MAX + 1];
  char path[HTTP_PATH_MAX];
  const char *query;   /* raw, in head */
  size_t query_len;
  struct http1_header *headers; /* names and values NUL-terminated in head */
  size_t n_headers;
  char *head;          /* a copy of the request head */
  int minor_version, keep_alive, is_head, chunked_reply, stream_done, head_sent;
  struct http_header *extra_headers; /* added by handlers, sent on the reply */
  struct query_value *query_values;  /* decoded on lookup, freed with the request */
  struct buf body;
  int dispatched;
  int client_gone;
  enum reply_kind reply;
  int status;
  char *reply_body;
  char retry_after[32];
  char error_code[48]; /* the error object's code (or type): for the access line */
  struct exchange *ex;
  uint64_t started_ms;
  uint64_t first_byte_ms; /* 0 until the reply's first byte is handed over */
  http_error_format_fn error_format; /* a dialect's error shape, or NULL */
  http_done_fn on_done;   /* set by a handler: called once when the request ends */
  void *done_ctx;
  char request_id[REQUEST_ID_MAX + 1]; /* X-Request-Id: the client's or ours */
  char key_alias[64];                  /* the gateway key's alias, for the log */
  struct trace_ctx trace;              /* its server span (zeros: tracing off) */
  const char *content_type;            /* static; NULL = application/json */
  struct http_request *next, *prev; /* worker->requests */
};

static void conn_progress(struct http_conn *c);
static void conn_close(struct http_conn *c);
static void process_input(struct http_conn *c);

/* ------------------------------------------------------------------ lists */

static void list_init(struct http_list *l) { l->prev = l->next = l; }
static int list_empty(const struct http_list *l) { return l->next == l; }

static void list_push(struct http_list *l, struct http_list *n) {
  n->prev = l->prev;
  n->next = l;
  l->prev->next = n;
  l->prev = n;
}

static void list_del(struct http_list *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

static void idle_enter(struct http_conn *c) {
  if (!c->in_idle)
    list_push(&c->w->idle, &c->idle);
  c->in_idle = 1;
}

static void idle_leave(struct http_conn *c) {
  if (c->in_idle)
    list_del(&c->idle);
  c->in_idle = 0;
}

/* Run the connection from http_run, after the current batch of events:
 * never re-entered from inside an exchange's own call. */
static void conn_schedule(struct http_conn *c) {
  if (!c->in_pending)
    list_push(&c->w->pending, &c->pending);
  c->in_pending = 1;
}

static void set_events(struct http_conn *c, uint32_t events) {
  if (c->events == events && c->watch.registered)
    return;
  if (loop_watch_set(&c->w->loop, &c->watch, events) == 0)
    c->events = events;
}

/* Reading and answering watch the same events, so a keep-alive request
 * costs no epoll_ctl (two per request were ~2 of its ~13 syscalls). Only
 * bytes that arrive while answering (pipelining) take EPOLLIN off: level
 * triggered, it would fire until the answer is out and they are read. */
static void watch_input(struct http_conn *c) {
  set_events(c, c->input_held ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP);
}

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
  snprintf(hr->error_code, sizeof hr->error_code, "%s", e->code[0] ? e->code : e->type);
  /* SDKs retry 408/409/429/5xx on their own; the same request cannot fix
   * any other 4xx, so they are told to stop (best effort: no memory, no
   * header). */
  if (status >= 400 && status < 500 && status != 408 && status != 409 && status != 429)
    http_request_add_header(hr, "x-should-retry", "false");
  http_request_respond(hr, status, json);
}

int http_request_is_head(const struct http_request *hr) { return hr->is_head; }

void http_request_set_error_format(struct http_request *hr, http_error_format_fn fn) {
  hr->error_format = fn;
}

void http_request_open_stream(struct http_request *hr) {
  hr->reply = REPLY_STREAM;
  hr->status = 200;
}

static void respond_oai(struct http_request *hr, int status, const char *code,
                        const char *message) {
  struct oai_error e;
  const char *type = status == 500 || status == 503 ? "server_error" : "invalid_request_error";
  oai_error_set(&e, status, type, code, NULL, "%s", message);
  http_request_respond_error(hr, &e);
}

/* ------------------------------------------------------------- accessors */

const char *http_request_method(const struct http_request *hr) { return hr->method; }
const char *http_request_path(const struct http_request *hr) { return hr->path; }
struct worker *http_request_worker(const struct http_request *hr) { return hr->w; }
const char *http_request_id(const struct http_request *hr) { return hr->request_id; }
const struct trace_ctx *http_request_trace(const struct http_request *hr) { return &hr->trace; }
void http_request_set_content_type(struct http_request *hr, const char *type) {
  hr->content_type = type;
}
void http_request_set_key_alias(struct http_request *hr, const char *alias) {
  snprintf(hr->key_alias, sizeof hr->key_alias, "%s", alias);
}
const char *http_request_key_alias(const struct http_request *hr) {
  return hr->key_alias[0] ? hr->key_alias : NULL;
}
const struct config *http_request_config(const struct http_request *hr) { return hr->w->cfg; }

const char *http_request_body(const struct http_request *hr, size_t *len) {
  *len = hr->body.len;
  return hr->body.data ? hr->body.data : "";
}

const char *http_request_header(const struct http_request *hr, const char *name) {
  for (size_t i = 0; i < hr->n_headers; i++)
    if (strcasecmp(hr->headers[i].name, name) == 0)
      return hr->headers[i].value;
  return NULL;
}

const char *http_request_query(const struct http_request *hr, const char *name) {
  struct http_request *mut = (struct http_request *)hr; /* the cache only */
  for (struct query_value *q = mut->query_values; q; q = q->next)
    if (strcmp(q->name, name) == 0)
      return q->value;
  size_t nl = strlen(name) + 1, cap = hr->query_len + 1;
  struct query_value *q = malloc(sizeof *q + nl + cap);
  if (!q)
    return NULL;
  memcpy(q->name, name, nl);
  q->value = q->name + nl;
  if (http1_query_get(hr->query, hr->query_len, name, q->value, cap) < 0) {
    free(q);
    return NULL;
  }
  q->next = mut->query_values;
  mut->query_values = q;
  return q->value;
}

/* getnameinfo was ~2.5k instructions and a request asks twice (gateway,
 * access line): formatted once a connection instead. */
int http_request_client_addr(const struct http_request *hr, char *out, size_t len) {
  struct http_conn *c = hr->c;
  const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
  if (len == 0 || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
    return -1;
  if (!c->addr_text[0]) {
    socklen_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, sl, c->addr_text, sizeof c->addr_text, NULL, 0, NI_NUMERICHOST) != 0) {
      c->addr_text[0] = '\0';
      return -1;
    }
  }
  size_t n = strnlen(c->addr_text, len - 1);
  memcpy(out, c->addr_text, n);
  out[n] = '\0';
  return 0;
}

/* A header line must not be able to end early (response splitting). */
static int header_text_ok(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n')
      return 0;
  return 1;
}

int http_request_add_header(struct http_request *hr, const char *name, const char *value) {
  if (!header_text_ok(name) || !header_text_ok(value) || strchr(name, ':'))
    return -1;
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
  struct http_request_end e = {hr->status, hr->client_gone, hr->started_ms, hr->first_byte_ms, hr->ex,
                               hr->error_code[0] ? hr->error_code : NULL};
  return e;
}

void http_request_wake(struct http_request *hr) {
  if (hr->dispatched && hr->c->hr == hr)
    conn_schedule(hr->c);
}

/* ------------------------------------------------------------ request life */


static struct http_request *request_new(struct http_conn *c, size_t head_len, size_t n_headers) {
  struct http_request *hr = calloc(1, sizeof *hr);
  if (!hr)
    return NULL;
  hr->head = malloc(head_len + 1);
  hr->headers = n_headers ? malloc(n_headers * sizeof *hr->headers) : NULL;
  if (!hr->head || (n_headers && !hr->headers)) {
    free(hr->head);
    free(hr->headers);
    free(hr);
    return NULL;
  }
  struct worker *w = c->w;
  hr->w = w;
  hr->c = c;
  hr->started_ms = loop_now_ms();
  hr->query = "";
  snprintf(hr->method, sizeof hr->method, "-");
  snprintf(hr->log_method, sizeof hr->log_method, "-");
  snprintf(hr->path, sizeof hr->path, "-");
  buf_init(&hr->body);
  hr->next = w->requests;
  if (w->requests)
    w->requests->prev = hr;
  w->requests = hr;
  w->n_requests++;
  c->hr = hr;
  request_id_assign(hr->request_id, NULL); /* the client's, if any, replaces it */
  request_end_begin(hr);
  return hr;
}

/* The one place a request ends: settle, free the exchange, log, free. */
static void request_end(struct http_request *hr) {
  struct worker *w = hr->w;
  if (hr->client_gone && hr->ex)
    exchange_abort(hr->ex, 0);
  if (hr->on_done)
    hr->on_done(hr, hr->done_ctx); /* settles while the exchange still exists */
  request_end_observe(hr); /* metrics and the access line, while the exchange exists */
  if (hr->ex)
    exchange_free(hr->ex);
  if (hr->prev)
    hr->prev->next = hr->next;
  else
    w->requests = hr->next;
  if (hr->next)
    hr->next->prev = hr->prev;
  w->n_requests--;
  if (hr->c->hr == hr)
    hr->c->hr = NULL;
  free(hr->reply_body);
  buf_free(&hr->body);
  while (hr->extra_headers) {
    struct http_header *h = hr->extra_headers;
    hr->extra_headers = h->next;
    free(h);
  }
  while (hr->query_values) {
    struct query_value *q = hr->query_values;
    hr->query_values = q->next;
    free(q);
  }
  free(hr->headers);
  free(hr->head);
  free(hr);
}

/* Copy the parsed head into the request: names, values, method and target
 * become NUL-terminated strings that live as long as the request. */
static void request_take_head(struct http_request *hr, const char *in, const struct http1_request *req) {
  memcpy(hr->head, in, req->head_len);
  hr->head[req->head_len] = '\0';
#define REBASE(p) (hr->head + ((p) - in))
  for (size_t i = 0; i < req->n_headers; i++) {
    struct http1_header *h = &hr->headers[i];
    h->name = REBASE(req->headers[i].name);
    h->value = REBASE(req->headers[i].value);
    h->name_len = req->headers[i].name_len;
    h->value_len = req->headers[i].value_len;
    ((char *)h->name)[h->name_len] = '\0';  /* the ':' */
    ((char *)h->value)[h->value_len] = '\0'; /* whitespace or CR */
  }
  hr->n_headers = req->n_headers;
#undef REBASE
}

/* --------------------------------------------------------------- writing */

static const struct {
  int status;
  const char *reason;
} REASONS[] = {
    {100, "Continue"}, {200, "OK"}, {400, "Bad Request"}, {401, "Unauthorized"},
    {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"},
    {413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
    {421, "Misdirected Request"}, {422, "Unprocessable Content"}, {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
    {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
};

static const char *reason(int status) {
  for (size_t i = 0; i < sizeof REASONS / sizeof REASONS[0]; i++)
    if (REASONS[i].status == status)
      return REASONS[i].reason;
  return "Unknown";
}

/* The reply head into c->out; it grows as needed, so an answer never fails
 * for the size of what the handler added. Returns 0 or -1 (OOM). */
static int build_head(struct http_conn *c, struct http_request *hr, size_t body_len) {
  struct buf *b = &c->out;
  /* Formatted once a second per thread, not once a request. */
  static _Thread_local char date[64];
  static _Thread_local time_t date_at = -1;
  time_t now = time(NULL);
  if (now != date_at) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_at = now;
  }
  /* Appended, not printf'd: ~2.5k instructions a reply through vsnprintf. */
  int rc = buf_append_str(b, "HTTP/1.1 ");
  rc |= buf_append_u64(b, (uint64_t)hr->status);
  rc |= buf_append_strs(b, " ", reason(hr->status), "\r\nDate: ", date, "\r\n", (char *)NULL);
  if (hr->reply == REPLY_STREAM) {
    hr->chunked_reply = hr->minor_version == 1;
    rc |= buf_append_str(b, "Content-Type: text/event-stream; charset=utf-8\r\n"
                            "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    if (hr->chunked_reply)
      rc |= buf_append_str(b, "Transfer-Encoding: chunked\r\n");
    else
      c->close_after = 1; /* HTTP/1.0: the end of the stream is the close */
  } else {
    rc |= buf_append_strs(b, "Content-Type: ", hr->content_type ? hr->content_type : "application/json",
                          "\r\nContent-Length: ", (char *)NULL);
    rc |= buf_append_u64(b, body_len);
    rc |= buf_append(b, "\r\n", 2);
    if (hr->retry_after[0])
      rc |= buf_append_strs(b, "Retry-After: ", hr->retry_after, "\r\n", (char *)NULL);
  }
  /* Appended, not printf'd: six rate-limit headers through vsnprintf were
   * ~13k instructions a gateway request (bench/gateway-instr.mjs). */
  for (const struct http_header *h = hr->extra_headers; h; h = h->next) {
    rc |= buf_append_str(b, h->name);
    rc |= buf_append(b, ": ", 2);
    rc |= buf_append_str(b, h->value);
    rc |= buf_append(b, "\r\n", 2);
  }
  rc |= buf_append_str(b, "X-Request-Id: ");
  rc |= buf_append_str(b, hr->request_id);
  rc |= buf_append(b, "\r\n", 2);
  if (!hr->keep_alive || c->w->stopping)
    c->close_after = 1;
  if (c->close_after)
    rc |= buf_append_str(b, "Connection: close\r\n");
  else if (hr->minor_version == 0)
    rc |= buf_append_str(b, "Connection: keep-alive\r\n");
  rc |= buf_append_str(b, "\r\n");
  return rc ? -1 : 0;
}

static int has_output(const struct http_conn *c) {
  return c->out.len > c->out_off || c->body_left;
}

/* Write iov; what the socket does not take is kept in c->out. 1: all sent,
 * 0: some left (would block), -1: the client is gone. */
static int write_or_keep(struct http_conn *c, struct iovec *iov, int n_iov) {
  size_t total = 0;
  for (int i = 0; i < n_iov; i++)
    total += iov[i].iov_len;
  ssize_t n;
  do
    n = writev(c->fd, iov, n_iov);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return -1;
  if (n > 0)
    c->wrote = 1;
  size_t done = n < 0 ? 0 : (size_t)n;
  if (done == total)
    return 1;
  for (int i = 0; i < n_iov; i++) {
    size_t skip = done < iov[i].iov_len ? done : iov[i].iov_len;
    done -= skip;
    if (buf_append(&c->out, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip) != 0)
      return -1;
  }
  return 0;
}

/* Flush pending output. 1: all sent, 0: would block, -1: gone. */
static int flush(struct http_conn *c) {
  while (has_output(c)) {
    struct iovec iov[2];
    int n_iov = 0;
    if (c->out.len > c->out_off)
      iov[n_iov++] = (struct iovec){c->out.data + c->out_off, c->out.len - c->out_off};
    if (c->body_left)
      iov[n_iov++] = (struct iovec){(void *)c->body_ptr, c->body_left};
    ssize_t n = writev(c->fd, iov, n_iov);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    size_t done = (size_t)n, head = c->out.len - c->out_off;
    if (done >= head) {
      buf_reset(&c->out);
      c->out_off = 0;
      c->body_ptr += done - head;
      c->body_left -= done - head;
    } else {
      c->out_off += done;
    }
    if (n > 0)
      c->wrote = 1;
  }
  /* A stream's leftovers can make the buffer grow; idle streams keep none. */
  if (c->out.cap > IO_CHUNK)
    buf_free(&c->out);
  return 1;
}

/* The request is answered (or its client gone): end it, then close the
 * connection or wait for the next request on it. */
static void conn_request_done(struct http_conn *c) {
  struct http_request *hr = c->hr;
  int gone = hr && hr->client_gone;
  if (hr)
    request_end(hr);
  c->hr = NULL;
  c->body_ptr = NULL;
  c->body_left = 0;
  loop_timer_disarm(&c->w->loop, &c->timer);
  if (gone) {
    conn_close(c);
    return;
  }
  if (c->close_after || c->w->stopping) {
    /* Half-close, then drain what the client still sends (a body we did
     * not read, pipelined requests): closing with unread input would reset
     * the connection and could destroy the answer in flight. */
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->in_len = 0;
    set_events(c, EPOLLIN | EPOLLRDHUP);
    loop_timer_arm(&c->w->loop, &c->timer, LINGER_MS);
    return;
  }
  c->state = CS_HEAD;
  c->head_started = 0;
  c->input_held = 0;
  watch_input(c);
  if (c->in_len) {
    conn_schedule(c); /* a pipelined request: read it after this batch */
  } else {
    idle_enter(c);
    loop_timer_arm(&c->w->loop, &c->timer, (uint64_t)c->w->cfg->keepalive_timeout_ms);
  }
}

/* Output is blocked: wait for EPOLLOUT under the send deadline, which only
 * progress pushes back. */
static void wait_writable(struct http_conn *c) {
  set_events(c, EPOLLOUT | EPOLLRDHUP);
  if (c->wrote || !loop_timer_armed(&c->timer)) {
    c->wrote = 0;
    loop_timer_arm(&c->w->loop, &c->timer, (uint64_t)c->w->cfg->client_send_timeout_ms);
  }
}

/* "<hex size>\r\n" into out (room for 16 digits + 2): once per token, where
 * snprintf's format parsing cost more than the rest of the framing. */
static size_t chunk_size_line(char out[24], size_t n) {
  static const char hex[] = "0123456789abcdef";
  char tmp[16];
  size_t k = 0;
  do
    tmp[k++] = hex[n & 0xF];
  while ((n >>= 4) != 0);
  for (size_t i = 0; i < k; i++)
    out[i] = tmp[k - 1 - i];
  out[k] = '\r';
  out[k + 1] = '\n';
  return k + 2;
}

/* Pull a stream's bytes from its exchange and frame them. 1: something was
 * written or queued, 0: nothing ready, -1: gone. */
static int pull_stream(struct http_conn *c, struct http_request *hr) {
  char data[IO_CHUNK];
  ssize_t n = hr->ex && !hr->is_head ? exchange_read(hr->ex, data, sizeof data) : -1;
  if (n == 0)
    return 0;
  if (n < 0) {
    hr->stream_done = 1;
    if (hr->chunked_reply && !hr->is_head)
      return buf_append_str(&c->out, "0\r\n\r\n") == 0 ? 1 : -1;
    return 1;
  }
  if (!hr->first_byte_ms)
    hr->first_byte_ms = loop_now_ms();
  char size[24];
  size_t sl = hr->chunked_reply ? chunk_size_line(size, (size_t)n) : 0;
  struct iovec iov[3] = {{size, sl}, {data, (size_t)n}, {"\r\n", hr->chunked_reply ? 2u : 0u}};
  return write_or_keep(c, iov, 3) < 0 ? -1 : 1;
}

/* Move the current answer forward as far as the socket allows. */
static void conn_progress(struct http_conn *c) {
  struct http_request *hr = c->hr;
  if (!hr || c->state != CS_ACTIVE)
    return;
  if (hr->client_gone) {
    conn_close(c);
    return;
  }
  if (hr->reply == REPLY_NONE) {
    watch_input(c); /* hang-ups while the answer is pending */
    return;
  }
  if (!hr->head_sent) {
    hr->head_sent = 1;
    if (hr->reply == REPLY_JSON && !hr->reply_body) /* a handler's body failed (OOM) */
      respond_oai(hr, 500, "internal_error", "out of memory");
    size_t len = hr->reply == REPLY_JSON && hr->reply_body ? strlen(hr->reply_body) : 0;
    if ((hr->reply == REPLY_JSON && !hr->reply_body) || build_head(c, hr, len) != 0) {
      log_msg(LOG_ERROR, "out of memory building a reply head");
      hr->client_gone = 1;
      conn_close(c);
      return;
    }
    if (hr->reply == REPLY_JSON) {
      hr->first_byte_ms = loop_now_ms();
      c->body_ptr = hr->reply_body;
      c->body_left = hr->is_head ? 0 : len;
    }
  }
  for (;;) {
    int rc = flush(c);
    if (rc < 0) {
      hr->client_gone = 1;
      conn_close(c);
      return;
    }
    if (rc == 0) {
      wait_writable(c);
      return;
    }
    if (hr->reply == REPLY_JSON || hr->stream_done) {
      conn_request_done(c);
      return;
    }
    rc = pull_stream(c, hr);
    if (rc < 0) {
      hr->client_gone = 1;
      conn_close(c);
      return;
    }
    if (rc == 0) { /* nothing ready: http_request_wake brings us back */
      loop_timer_disarm(&c->w->loop, &c->timer);
      watch_input(c);
      return;
    }
  }
}

/* ------------------------------------------------------- reading requests */

static void dispatch(struct http_conn *c) {
  struct http_request *hr = c->hr;
  c->state = CS_ACTIVE;
  loop_timer_disarm(&c->w->loop, &c->timer);
  watch_input(c);
  if (c->in_len == 0) { /* a long stream keeps no read buffer */
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
  }
  hr->started_ms = loop_now_ms();
  hr->dispatched = 1;
  if (hr->reply == REPLY_NONE) {
    int entered = log_request_enter(hr->request_id); /* its log lines carry its id */
    routes_dispatch(hr);
    log_request_leave(entered);
  }
  conn_progress(c);
}

/* Answer with an error of our own and close after it. */
static void reject(struct http_conn *c, int status, const char *code, const char *message) {
  respond_oai(c->hr, status, code, message);
  c->close_after = 1;
  dispatch(c);
}

/* The target without its query: what a refused request logs (a query may
 * hold a key, such as /key/info?key=sk-...). */
static size_t target_path_len(const char *target, size_t len) {
  const char *q = memchr(target, '?', len);
  return q ? (size_t)(q - target) : len;
}

/* A refused head still gets a request, so it is answered and logged. */
static void reject_head(struct http_conn *c, const struct http1_request *req,
                        const struct http1_error *err) {
  struct http_request *hr = request_new(c, 0, 0);
  if (!hr) {
    conn_close(c);
    return;
  }
  if (req->method_len) {
    snprintf(hr->method, sizeof hr->method, "%.*s", (int)req->method_len, req->method);
    snprintf(hr->log_method, sizeof hr->log_method, "%s", hr->method);
  }
  if (req->target_len)
    snprintf(hr->path, sizeof hr->path, "%.*s", (int)target_path_len(req->target, req->target_len),
             req->target);
  reject(c, err->status, err->code, err->message);
}

static void consume_in(struct http_conn *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
}

static int body_too_large(struct http_conn *c, uint64_t len) {
  if (len <= (uint64_t)c->w->cfg->max_body_size)
    return 0;
  struct oai_error e;
  oai_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                "Request body is larger than the limit of %lld bytes",
                (long long)c->w->cfg->max_body_size);
  if (!c->hr->error_format) /* routes never ran: the path picks the shape */
    c->hr->error_format = routes_error_format(c->hr->path);
  http_request_respond_error(c->hr, &e);
  c->close_after = 1;
  dispatch(c);
  return 1;
}

/* A complete head: make the request, then read its body or dispatch. */
static void start_request(struct http_conn *c, const struct http1_request *req) {
  struct http_request *hr = request_new(c, req->head_len, req->n_headers);
  if (!hr) {
    conn_close(c);
    return;
  }
  request_take_head(hr, c->in, req);
  const char *rid = http_request_header(hr, "X-Request-Id");
  if (access_log_request_id_ok(rid))
    fit_str(hr->request_id, sizeof hr->request_id, 0, rid);
  spans_request_begin(&hr->trace, http_request_header(hr, "traceparent"));
  hr->minor_version = req->minor_version;
  hr->keep_alive = req->keep_alive;
  fit_text(hr->log_method, sizeof hr->log_method, 0, req->method, req->method_len);
  hr->is_head = strcmp(hr->log_method, "HEAD") == 0;
  /* HEAD is GET to routes; the front drops the body. */
  if (hr->is_head)
    fit_text(hr->method, sizeof hr->method, 0, "GET", 3);
  else
    fit_text(hr->method, sizeof hr->method, 0, req->method, req->method_len);
  const char *target = hr->head + (req->target - c->in);
  struct http1_error err;
  int path_rc = http1_decode_path(target, req->target_len, hr->path, sizeof hr->path,
                                  &hr->query, &hr->query_len, &err);
  consume_in(c, req->head_len);
  if (path_rc != 0) {
    snprintf(hr->path, sizeof hr->path, "%.*s", (int)target_path_len(target, req->target_len),
             target);
    reject(c, err.status, err.code, err.message);
    return;
  }
  if (!req->chunked && (!req->has_length || req->content_length == 0)) {
    dispatch(c);
    return;
  }
  if (body_too_large(c, req->has_length ? req->content_length : 0))
    return; /* at once, without 100 Continue */
  c->state = CS_BODY;
  c->body_want = req->chunked ? 0 : req->content_length;
  c->body_chunked = req->chunked;
  http1_chunked_init(&c->chunked);
  if (req->expect_continue && req->minor_version == 1 && c->in_len == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)cont, sizeof cont - 1};
    if (write_or_keep(c, &iov, 1) < 0) {
      hr->client_gone = 1;
      conn_close(c);
      return;
    }
  }
  loop_timer_arm(&c->w->loop, &c->timer, (uint64_t)c->w->cfg->client_body_timeout_ms);
}

/* Use what is in c->in for the current phase. */
static void process_input(struct http_conn *c) {
  const struct config *cfg = c->w->cfg;
  while (c->in_len && !c->closed) {
    if (c->state == CS_HEAD) {
      if (!c->head_started) {
        c->head_started = 1;
        idle_leave(c);
        loop_timer_arm(&c->w->loop, &c->timer, (uint64_t)cfg->client_header_timeout_ms);
      }
      struct http1_request req;
      struct http1_error err;
      struct http1_limits lim = {(size_t)cfg->max_header_size, (size_t)cfg->max_header_size};
      int rc = http1_parse_head(c->in, c->in_len, &lim, &req, &err);
      if (rc == HTTP1_NEED_MORE)
        return;
      if (rc == HTTP1_ERROR) {
        c->in_len = 0;
        reject_head(c, &req, &err);
        return;
      }
      start_request(c, &req);
      continue;
    }
    if (c->state != CS_BODY)
      return; /* pipelined bytes wait for the current answer */
    struct http_request *hr = c->hr;
    if (!c->body_chunked) {
      size_t n = c->in_len < c->body_want ? c->in_len : (size_t)c->body_want;
      if (buf_append(&hr->body, c->in, n) != 0) {
        reject(c, 500, "internal_error", "out of memory");
        return;
      }
      consume_in(c, n);
      c->body_want -= n;
      if (c->body_want == 0) {
        dispatch(c);
        return;
      }
      continue;
    }
    size_t got;
    long rc = http1_chunked_decode(&c->chunked, c->in, c->in_len, &got);
    if (rc == HTTP1_CHUNKED_ERROR) {
      c->in_len = 0;
      reject(c, 400, "bad_request", "Malformed chunked request body");
      return;
    }
    if (body_too_large(c, hr->body.len + got)) {
      c->in_len = 0;
      return;
    }
    if (buf_append(&hr->body, c->in, got) != 0) {
      reject(c, 500, "internal_error", "out of memory");
      return;
    }
    if (rc == HTTP1_CHUNKED_MORE) {
      c->in_len = 0;
      return;
    }
    consume_in(c, (size_t)rc);
    dispatch(c);
    return;
  }
}

/* The client closed or broke the connection while we were reading. */
static void read_ended(struct http_conn *c) {
  if (c->hr)
    c->hr->client_gone = 1; /* a body was coming: its request is logged */
  conn_close(c);
}

static void conn_read(struct http_conn *c) {
  const struct config *cfg = c->w->cfg;
  /* A few reads per event, so one fast client cannot hold the loop. */
  for (int round = 0; round < 8 && !c->closed; round++) {
    if (c->state == CS_ACTIVE)
      return; /* pipelined bytes stay in the socket until the answer is out */
    size_t limit = c->state == CS_HEAD ? (size_t)cfg->max_header_size + 1 : IO_CHUNK;
    if (c->state == CS_LINGER)
      c->in_len = 0;
    if (c->in_len == c->in_cap && c->in_cap < limit) {
      size_t cap = c->in_cap ? c->in_cap * 2 : IN_START;
      char *in = realloc(c->in, cap < limit ? cap : limit);
      if (!in) {
        read_ended(c);
        return;
      }
      c->in = in;
      c->in_cap = cap < limit ? cap : limit;
    }
    if (c->in_len == c->in_cap)
      return; /* cannot happen: the parser refuses a full head buffer */
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      read_ended(c);
      return;
    }
    if (c->state == CS_LINGER)
      continue; /* drained and dropped */
    c->in_len += (size_t)n;
    process_input(c);
  }
}

static void on_conn_event(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  struct http_conn *c = ud;
  if (c->state == CS_ACTIVE) {
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (c->hr)
        c->hr->client_gone = 1;
      conn_close(c);
    } else if (events & EPOLLOUT) {
      conn_progress(c);
    } else if (events & EPOLLIN) {
      c->input_held = 1; /* pipelined: read once the answer is out */
      watch_input(c);
    }
    return;
  }
  conn_read(c); /* also finds hang-ups and errors */
}

static void on_conn_timer(struct loop *l, struct loop_timer *t) {
  (void)l;
  struct http_conn *c = t->ud;
  switch (c->state) {
  case CS_HEAD:
    if (!c->head_started) {
      conn_close(c); /* idle keep-alive, or nothing sent since the connect */
      return;
    }
    c->in_len = 0;
    if (!request_new(c, 0, 0)) {
      conn_close(c);
      return;
    }
    reject(c, 408, "request_timeout", "The request header did not arrive in time");
    return;
  case CS_BODY:
    c->in_len = 0;
    reject(c, 408, "request_timeout", "The request body did not arrive in time");
    return;
  case CS_ACTIVE: /* no write progress for client_send_timeout */
    if (c->hr)
      c->hr->client_gone = 1;
    conn_close(c);
    return;
  case CS_LINGER:
    conn_close(c);
    return;
  }
}

static void conn_close(struct http_conn *c) {
  if (c->closed)
    return;
  c->closed = 1;
  struct worker *w = c->w;
  if (c->hr) {
    c->hr->client_gone = 1;
    request_end(c->hr);
  }
  idle_leave(c);
  if (c->in_pending)
    list_del(&c->pending);
  c->in_pending = 0;
  list_del(&c->all);
  w->n_conns--;
  loop_watch_remove(&w->loop, &c->watch);
  loop_timer_disarm(&w->loop, &c->timer);
  close(c->fd);
  free(c->in);
  c->in = NULL;
  c->in_len = c->in_cap = 0;
  buf_free(&c->out);
  c->watch.cb = NULL; /* an event for it later in this batch is skipped */
  loop_defer_free(&w->loop, c);
}

/* ------------------------------------------------------------- accepting */

static int evict_idle(struct worker *w) {
  if (list_empty(&w->idle))
    return 0;
  conn_close(container_of(w->idle.next, struct http_conn, idle));
  return 1;
}

/* At the cap with nobody idle: say so instead of leaving the client in the
 * accept queue. Best effort: one non-blocking write, then close. */
static void refuse(struct worker *w, int fd) {
  static const char body[] =
      "{\"error\":{\"message\":\"The server has too many open connections; retry later\","
      "\"type\":\"server_error\",\"param\":null,\"code\":\"too_many_connections\"}}";
  char reply[512];
  int len = snprintf(reply, sizeof reply,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof body - 1, body);
  if (len > 0 && write(fd, reply, (size_t)len) < 0)
    log_msg(LOG_DEBUG, "worker %d: 503 not sent: %s", w->index, strerror(errno));
  close(fd);
  uint64_t now = loop_now_ms();
  if (now - w->refused_log_ms >= 1000) {
    w->refused_log_ms = now;
    log_msg(LOG_WARN, "worker %d: at max_connections (%zu), refusing new connections",
            w->index, w->max_conns);
  }
}

static void conn_new(struct worker *w, int fd, const struct sockaddr_storage *addr) {
  struct http_conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* tokens go out at once */
  c->w = w;
  c->fd = fd;
  c->addr = *addr;
  c->state = CS_HEAD;
  buf_init(&c->out);
  list_init(&c->idle);
  list_init(&c->pending);
  list_push(&w->conns, &c->all);
  w->n_conns++;
  loop_watch_init(&c->watch, fd, on_conn_event, c);
  loop_timer_init(&c->timer, on_conn_timer, c);
  watch_input(c);
  if (!c->watch.registered) {
    conn_close(c);
    return;
  }
  idle_enter(c);
  loop_timer_arm(&w->loop, &c->timer, (uint64_t)w->cfg->client_header_timeout_ms);
}

static void listeners_watch(struct worker *w, int on) {
  for (int i = 0; i < w->n_listeners; i++) {
    struct http_listener *li = &w->listeners[i];
    if (li->fd < 0)
      continue;
    if (on)
      loop_watch_set(&w->loop, &li->watch, EPOLLIN);
    else
      loop_watch_remove(&w->loop, &li->watch);
  }
}

static void on_accept_timer(struct loop *l, struct loop_timer *t) {
  (void)l;
  struct worker *w = t->ud;
  if (!w->stopping)
    listeners_watch(w, 1);
}

static void on_accept(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct http_listener *li = ud;
  struct worker *w = li->w;
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(li->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (evict_idle(w))
          continue;
        /* Level-triggered: without a pause the loop would spin on it. */
        listeners_watch(w, 0);
        loop_timer_arm(&w->loop, &w->accept_timer, 100);
        log_msg(LOG_WARN, "worker %d: accept: %s", w->index, strerror(errno));
      }
      return;
    }
    if (w->n_conns >= w->max_conns && !evict_idle(w)) {
      refuse(w, fd);
      continue;
    }
    conn_new(w, fd, &ss);
  }
}

/* ------------------------------------------------------------- lifecycle */

int http_start(struct worker *w) {
  list_init(&w->conns);
  list_init(&w->idle);
  list_init(&w->pending);
  loop_timer_init(&w->accept_timer, on_accept_timer, w);
  /* max_connections is for the process: each worker takes its share. */
  int workers = w->n_workers > 0 ? w->n_workers : 1;
  w->max_conns = (size_t)(w->cfg->max_connections / workers);
  if (w->max_conns < 1)
    w->max_conns = 1;
  for (int i = 0; i < w->n_listeners; i++) {
    struct http_listener *li = &w->listeners[i];
    li->w = w;
    loop_watch_init(&li->watch, li->fd, on_accept, li);
    if (loop_watch_set(&w->loop, &li->watch, EPOLLIN) != 0)
      return -1;
  }
  return 0;
}

void http_stop_accepting(struct worker *w) {
  listeners_watch(w, 0);
  for (int i = 0; i < w->n_listeners; i++) {
    if (w->listeners[i].fd >= 0)
      close(w->listeners[i].fd);
    w->listeners[i].fd = -1;
  }
  if (w->conns.next)
    loop_timer_disarm(&w->loop, &w->accept_timer);
  while (w->idle.next && evict_idle(w)) /* nothing in progress on these */
    ;
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
  /* Whatever still runs ends as "client gone" when http_free closes it. */
  for (struct http_request *hr = w->requests; hr; hr = hr->next)
    hr->client_gone = 1;
}

void http_free(struct worker *w) {
  http_stop_accepting(w);
  if (!w->conns.next)
    return;
  while (!list_empty(&w->conns))
    conn_close(container_of(w->conns.next, struct http_conn, all));
}

/* Connections woken during the loop's batch (new answer data, a pipelined
 * request): run them now, outside any exchange's own call stack. */
void http_run(struct worker *w) {
  if (!w->pending.next)
    return;
  while (!list_empty(&w->pending)) {
    struct http_conn *c = container_of(w->pending.next, struct http_conn, pending);
    list_del(&c->pending);
    c->in_pending = 0;
    if (c->state == CS_ACTIVE)
      conn_progress(c);
    else if (c->state == CS_HEAD || c->state == CS_BODY)
      process_input(c);
  }
}

int http_timeout_ms(struct worker *w) {
  return w->pending.next && !list_empty(&w->pending) ? 0 : -1;
}
