#include "exchange.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../shared/backoff.h"
#include "../shared/deepseek_tokens.h"
#include "../shared/fit_text.h"
#include "../shared/pipeline.h"
#include "../shared/prediction.h"
#include "../shared/prediction_list.h"
#include "../shared/prompt.h"
#include "../shared/rand_pool.h"
#include "../shared/response.h"
#include "../shared/sse.h"
#include "../shared/upstream_error.h"
#include "http.h"
#include "spans.h"

/* The model's own default when the client sends no max_tokens. */
#define MODEL_DEFAULT_MAX_TOKENS 1024

/* Stops every request gets: the model's end-of-turn markers, should they
 * survive into the output. */
static const char *const IMPLICIT_STOPS[] = {DS_EOS, DS_USER};
#define N_IMPLICIT_STOPS (sizeof IMPLICIT_STOPS / sizeof IMPLICIT_STOPS[0])

enum choice_state {
  CH_CREATING,  /* POST create in flight */
  CH_CREATE_WAIT, /* a create failed without creating anything: sent again soon */
  CH_RESOLVING, /* the create's answer was lost: looking for it in the list */
  CH_PARKED,    /* created; a stream waits until every choice exists */
  CH_POLL_WAIT, /* waiting for the next poll */
  CH_POLLING,   /* GET urls.get in flight */
  CH_STREAMING, /* GET urls.stream (SSE) in flight */
  CH_DONE,
};

enum done_reason { DONE_OK, DONE_CANCELED, DONE_ERROR };

struct choice {
  struct exchange *ex;
  int index;
  enum choice_state state;
  const char *body;  /* create body (owned by the exchange) */
  const char *echo;  /* legacy echo: the prompt, or NULL */
  long prompt_estimate;
  struct up_transfer *xfer; /* NULL once handed to up_orphan */
  struct exchange_orphan *orphan; /* that create, while its outcome is unknown */
  struct loop_timer poll_timer;
  char *pred_id, *url_get, *url_cancel, *url_stream;
  int upstream_finished; /* the prediction is known to be over */
  int saw_done;          /* SSE `done` arrived: now only metrics are wanted */
  int retries;           /* consecutive transient failures of polls */
  int done_reason;       /* enum done_reason of that `done` */
  int stop_matched;      /* a stop sequence matched inside the SSE callback */
  int out_of_memory;     /* ... or memory ran out there */
  long input_tokens, output_tokens;
  size_t seen_len; /* bytes of raw output processed */
  long long create_sent_ms; /* wall clock when the create went out */
  uint64_t create_mono_ms;  /* loop clock then: the poll schedule's origin */
  int polls;                /* polls of the prediction so far */
  uint64_t poll_sent_mono_ms; /* loop clock when the last one went out */
  int recreated;            /* created again after the list proved it absent */
  int stream_reopens;       /* streams opened again after no connection came up */
  int list_pages;           /* pages of the list read for the lost create */
  int list_matched;         /* list_match holds the oldest match so far */
  struct prediction list_match;
  int list_retries;         /* list reads sent again after a failure that may pass */
  int create_retries;       /* creates sent again after a failure that may pass */
  long create_waited_ms;    /* backoff spent on them (bounded by a budget) */
  struct pipeline *pipe;
  struct sse_parser sse;
  struct buf sse_error; /* detail of an SSE `error` event */
  const char *finish_reason;
  const char *stop_sequence; /* the client's stop that matched, or NULL */
};

struct exchange {
  struct worker *w;
  struct http_request *hr;
  enum pipeline_kind kind;
  struct chat_request req;   /* for text completions: the sampling part */
  char **prompts;            /* text completions */
  size_t n_prompts;
  int echo;
  char **bodies;             /* one create body per distinct prompt */
  char *create_url;
  size_t *prompt_lens;       /* ... and its prompt's length (usage estimate) */
  size_t n_bodies;
  const char *stops[CHAT_STOP_MAX + N_IMPLICIT_STOPS];
  size_t n_stops;
  char *token;
  struct choice *choices;
  int n;
  int n_created;
  int n_done;
  char id[96];
  long created;
  int stream_open;  /* headers sent: errors now go in-band */
  int stream_ended; /* [DONE] queued */
  int failed;
  struct buf out;   /* SSE bytes for the client; those before out_pos are sent */
  size_t out_pos;
  int paused;       /* back-pressure: upstream streams paused */
  struct loop_timer resume;
  /* request_timeout bounds the wait for Replicate, not for a client that
   * lags: time paused for the client moves the deadline back. */
  uint64_t paused_at_ms, paused_credit_ms;
  int deadline_due; /* the deadline passed while paused: re-checked on resume */
  struct encoder enc; /* the client's wire format */
  uint64_t last_write_ms;
  struct loop_timer deadline;
  struct loop_timer keepalive;
  enum metrics_cancel cancel_reason; /* why predictions still running get canceled */
  char request_id[REQUEST_ID_MAX + 1]; /* copied: hr goes away on a hang-up */
  struct trace_ctx trace; /* the request's span: upstream calls are its children */
  /* The window with Replicate at work (monotonic us): first call's start to
   * the last call's end; poll gaps inside it are waits on Replicate too. */
  uint64_t up_first_us, up_last_us;
  char error_code[48]; /* exchange_fail's code (or type), for the access line */
  struct buf logged_output; /* log_bodies: choice 0's first raw output bytes */
  int logged_cut;           /* ... and there was more */
};

/* Replicate's clock may run a little behind ours: a prediction created
 * this long before we sent still counts as ours. */
#define CLOCK_SKEW_MS 5000

/* Pages of 100 read at most for one lost create: 5,000 predictions made
 * within the clock-skew window of its own; older pages cannot hold it. */
#define LIST_MAX_PAGES 50

/* The URL of the list's first (newest) page into b: 0, or -1 (out of
 * memory). Later pages' URLs come from each page's `next`. */
static int list_first_url(struct buf *b, const char *upstream) {
  return buf_printf(b, "%s/v1/predictions", upstream);
}

struct exchange_orphan {
  struct choice *c;       /* the choice, while its exchange lives */
  exchange_created_fn fn; /* the settlement waiting on it, or NULL */
  void *ctx;
  struct worker *w;       /* outlives it: the transfer is the worker's */
  long long since_ms;     /* the create went out then, less CLOCK_SKEW_MS */
  long long until_ms;     /* ... and reached Replicate by then (connect_timeout and skew on) */
};

/* A choice's transfer with room for what an orphaned create learns: up_orphan
 * frees the transfer as a whole (it is the first member), record included,
 * whether its callback ran or the worker stopped first. */
struct choice_xfer {
  struct up_transfer t;
  struct exchange_orphan orphan;
};

static void choice_start_poll(struct choice *c);
static void choice_terminal(struct choice *c, const struct prediction *p);
static void on_create_done(struct up_transfer *t);
static void on_list_done(struct up_transfer *t);
static void on_poll_done(struct up_transfer *t);
static void on_stream_done(struct up_transfer *t);
static void on_deadline(struct loop *l, struct loop_timer *t);
static int on_stream_data(struct up_transfer *t, const char *data, size_t len);

static const struct config *cfg(const struct exchange *ex) { return ex->w->cfg; }

static struct response_meta meta(const struct exchange *ex) {
  struct response_meta m = {ex->id, ex->created, ex->req.model};
  return m;
}

static void replace(char **slot, const char *value) {
  if (!value)
    return;
  char *copy = strdup(value);
  if (!copy)
    return;
  free(*slot);
  *slot = copy;
}

/* Move *from into *slot when there is one: for strings of a prediction
 * that is freed right after (a copy was a malloc and a free for nothing). */
static void take(char **slot, char **from) {
  if (!*from)
    return;
  free(*slot);
  *slot = *from;
  *from = NULL;
}

/* ------------------------------------------------------------ finishing */

static void cancel_prediction(struct choice *c) {
  if (c->upstream_finished || !c->url_cancel)
    return;
  c->upstream_finished = 1;
  if (c->ex->w->up.metrics)
    metrics_cancel(c->ex->w->up.metrics, c->ex->cancel_reason);
  if (up_post_detached(&c->ex->w->up, c->url_cancel, c->ex->token, c->pred_id,
                       &c->ex->trace) != 0)
    log_msg(LOG_WARN, "could not send cancel for prediction %s", c->pred_id);
}

/* A create answered with a prediction too large to read (the sync reply
 * carries the output): cancel it by the id at the start of the reply, or it
 * runs on, paid for nothing. */
static void cancel_oversized(const struct up_transfer *t, const char *token) {
  char *id = prediction_peek_id(t->body.data, t->body.len);
  struct buf url = BUF_INIT;
  if (!id || buf_printf(&url, "%s/v1/predictions/%s/cancel", t->client->upstream, id) != 0 ||
      up_post_detached(t->client, url.data, token, id,
                       spans_parent(t, &(struct trace_ctx){0})) != 0)
    log_msg(LOG_ERROR, "a prediction whose reply was over max_upstream_reply could not be "
            "canceled (%s)", id ? id : "no id before the cut");
  free(id);
  buf_free(&url);
}

/* An orphaned create's outcome, while its exchange still lives (it failed
 * and is answering, or its settlement has not begun): the prediction becomes
 * the choice's, so the settlement counts it like any other. */
static void choice_adopt(struct choice *c, const struct exchange_created *r) {
  if (!r->pred_id)
    return;
  replace(&c->pred_id, r->pred_id);
  replace(&c->url_get, r->url_get);
  c->upstream_finished = 1; /* canceled already, if it ran */
  if (r->terminal && r->input_tokens >= 0 && r->output_tokens >= 0) {
    c->input_tokens = r->input_tokens;
    c->output_tokens = r->output_tokens;
  }
}

/* Tell whoever settles the request what an orphaned create made: its
 * outcome is known from here on. */
static void orphan_told(struct exchange_orphan *o, const struct exchange_created *r) {
  if (o->fn)
    o->fn(o->ctx, r);
  else if (o->c)
    choice_adopt(o->c, r);
  if (o->c)
    o->c->orphan = NULL;
}

/* What an orphan keeps in its transfer's `owned` string, which goes with the
 * transfer (a stopping worker frees it too) and has its first string wiped:
 * the token, the create body (the exchange's copy may be freed first), then
 * the ids the exchange already had (a lookup must not take them for its
 * own), each NUL-terminated, ended by an empty string. */
static char *orphan_keep(const struct choice *c) {
  const struct exchange *ex = c->ex;
  const char *body = c->body ? c->body : "";
  struct buf b = BUF_INIT;
  int rc = buf_append(&b, ex->token, strlen(ex->token) + 1);
  rc |= buf_append(&b, body, strlen(body) + 1);
  for (int i = 0; i < ex->n; i++)
    if (ex->choices[i].pred_id)
      rc |= buf_append(&b, ex->choices[i].pred_id, strlen(ex->choices[i].pred_id) + 1);
  rc |= buf_append_char(&b, '\0');
  if (rc != 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}

static const char *kept_next(const char *s) { return s + strlen(s) + 1; }

/* The oldest list entry so far that an orphaned create may have made. */
struct orphan_found {
  const char *id, *url_get, *url_cancel; /* urls NULL when absent */
  long input_tokens, output_tokens;
  int terminal;
};

/* One page of the list read for an orphaned create whose answer was lost,
 * as a detached transfer (its first member: freed as a whole after its
 * callback, or by a stopping worker): the orphan's record and kept strings
 * go from page to page, with the oldest match so far. */
struct orphan_page {
  struct up_transfer t;
  struct exchange_orphan o;
  int pages; /* read so far, this one included */
  int matched, terminal;
  long input_tokens, output_tokens;
  char match[]; /* matched: id, url_get, url_cancel, NUL-terminated ("" absent) */
};

/* A page of the list waits no longer than a poll of final counts does. */
#define ORPHAN_LIST_TIMEOUT_MS 10000

static void on_orphan_list_done(struct up_transfer *t);

static char *put_str(char *at, const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  memcpy(at, s ? s : "", n);
  return at + n;
}

/* Read a page of the list (url NULL: the newest) for the orphan whose
 * transfer `from` has ended: its kept strings move to the new page's
 * transfer, its record and the match so far m (or NULL) are copied.
 * 0, or -1 (from keeps its strings). */
static int orphan_list_page(struct up_transfer *from, const struct exchange_orphan *o,
                            int pages, const char *url, const struct orphan_found *m) {
  struct buf first = BUF_INIT;
  size_t tail = m ? strlen(m->id) + strlen(m->url_get ? m->url_get : "") +
                        strlen(m->url_cancel ? m->url_cancel : "") + 3
                  : 0;
  struct orphan_page *pg = calloc(1, sizeof *pg + tail);
  if (!pg || (!url && list_first_url(&first, o->w->cfg->upstream) != 0)) {
    free(pg);
    buf_free(&first);
    return -1;
  }
  pg->o = *o;
  pg->pages = pages + 1;
  if (m) {
    pg->matched = 1;
    pg->terminal = m->terminal;
    pg->input_tokens = m->input_tokens;
    pg->output_tokens = m->output_tokens;
    put_str(put_str(put_str(pg->match, m->id), m->url_get), m->url_cancel);
  }
  up_transfer_init(&pg->t, on_orphan_list_done, NULL, NULL);
  struct trace_ctx parent;
  struct up_request r = {.method = "GET", .url = url ? url : first.data, .token = from->owned,
                         .timeout_ms = ORPHAN_LIST_TIMEOUT_MS,
                         .max_body = (size_t)o->w->cfg->max_upstream_reply,
                         .request_id = from->request_id[0] ? from->request_id : NULL,
                         .trace = spans_parent(from, &parent)};
  int rc = up_start(&o->w->up, &pg->t, &r);
  buf_free(&first);
  if (rc != 0) {
    up_transfer_free(&pg->t);
    free(pg);
    return -1;
  }
  up_orphan(&pg->t, on_orphan_list_done, from->owned);
  from->owned = NULL;
  if (pg->o.c)
    pg->o.c->orphan = &pg->o; /* where a settlement that begins later waits */
  return 0;
}

/* A page of the list for an orphaned create: as on_list_done for a live
 * choice (the oldest match wins; absence is proven once the list reaches
 * back past the send time), but what it finds is canceled and reported to
 * the settlement, and nothing is ever created again. */
static void on_orphan_list_done(struct up_transfer *t) {
  struct orphan_page *pg = (struct orphan_page *)t;
  struct exchange_created r = {NULL, NULL, -1, -1, 0};
  if (t->result != CURLE_OK || t->status < 200 || t->status > 299) {
    log_msg(LOG_ERROR, "an abandoned create got no answer after sending, and listing "
            "predictions to find it failed (page %d: %s, HTTP %ld): a prediction may run that "
            "nobody cancels or charges", pg->pages,
            t->result != CURLE_OK ? up_result_phrase(t) : "reply", t->status);
    orphan_told(&pg->o, &r);
    return;
  }
  const char *body = kept_next(t->owned);
  size_t n_ids = 0;
  for (const char *id = kept_next(body); *id; id = kept_next(id))
    n_ids++;
  const char **ids = calloc(n_ids ? n_ids : 1, sizeof *ids);
  struct prediction p = {0};
  int covered = 0, rc = -1;
  if (ids) {
    size_t k = 0;
    for (const char *id = kept_next(body); *id; id = kept_next(id))
      ids[k++] = id;
    rc = prediction_list_find(t->body.data, t->body.len, body, pg->o.since_ms, pg->o.until_ms,
                              ids, n_ids, &p, &covered);
  }
  free(ids);
  struct orphan_found f, *m = NULL;
  if (rc == 1) { /* each page is older than the last: its match is older too */
    f = (struct orphan_found){p.id, p.url_get, p.url_cancel, p.input_tokens, p.output_tokens,
                              prediction_is_terminal(p.status)};
    m = &f;
  } else if (pg->matched) {
    const char *get = kept_next(pg->match), *cancel = kept_next(get);
    f = (struct orphan_found){pg->match, *get ? get : NULL, *cancel ? cancel : NULL,
                              pg->input_tokens, pg->output_tokens, pg->terminal};
    m = &f;
  }
  if (rc >= 0 && !covered && pg->pages < LIST_MAX_PAGES) {
    char *next = prediction_list_next(t->body.data, t->body.len);
    int reading = next && orphan_list_page(t, &pg->o, pg->pages, next, m) == 0;
    free(next);
    if (reading) {
      prediction_free(&p);
      return;
    }
  }
  if (m) {
    log_msg(LOG_INFO, "prediction %s found in the list: an abandoned create whose answer was "
            "lost made it%s", m->id, m->terminal ? "" : "; canceling it");
    if (!m->terminal && m->url_cancel &&
        up_post_detached(t->client, m->url_cancel, t->owned, m->id,
                         spans_parent(t, &(struct trace_ctx){0})) != 0)
      log_msg(LOG_WARN, "could not send cancel for prediction %s", m->id);
    r = (struct exchange_created){m->id, m->url_get, m->input_tokens, m->output_tokens,
                                  m->terminal};
  } else if (rc == 0 && covered) {
    log_msg(LOG_INFO, "an abandoned create whose answer was lost made no prediction (the list "
            "reaches back past its sending)");
  } else {
    log_msg(LOG_ERROR, "an abandoned create got no answer after sending, and %s (%d pages "
            "read): a prediction may run that nobody cancels or charges",
            rc < 0 ? "the list of predictions was unreadable"
                   : "the list did not reach back far enough",
            pg->pages);
  }
  orphan_told(&pg->o, &r);
  prediction_free(&p);
}

/* A create that finished after its exchange was given up: cancel what it
 * made, with the token the transfer carries, and tell whoever settles the
 * request what that was. One whose answer was lost is looked up in the list
 * first, as a live choice's is. */
static void on_orphan_create_done(struct up_transfer *t) {
  struct exchange_orphan *o = &((struct choice_xfer *)t)->orphan;
  struct exchange_created r = {NULL, NULL, -1, -1, 0};
  struct prediction p = {0};
  char *peeked = NULL;
  if (t->too_large && t->status >= 200 && t->status <= 299) {
    cancel_oversized(t, t->owned);
    r.pred_id = peeked = prediction_peek_id(t->body.data, t->body.len); /* counts unreadable */
  } else if (t->result == CURLE_OK && t->status >= 200 && t->status <= 299 &&
             prediction_parse(t->body.data ? t->body.data : "", t->body.len, &p) == 0) {
    r = (struct exchange_created){p.id, p.url_get, p.input_tokens, p.output_tokens,
                                  prediction_is_terminal(p.status)};
    if (!r.terminal && p.url_cancel &&
        up_post_detached(t->client, p.url_cancel, t->owned, p.id,
                         spans_parent(t, &(struct trace_ctx){0})) != 0)
      log_msg(LOG_WARN, "could not send cancel for prediction %s", p.id);
  } else if (up_fate_unknown(t)) {
    log_msg(LOG_WARN, "an abandoned create got no answer after sending (%s); looking for its "
            "prediction in the list", up_result_phrase(t));
    if (orphan_list_page(t, o, 0, NULL, NULL) == 0)
      return; /* the lookup tells the settlement */
    log_msg(LOG_ERROR, "an abandoned create got no answer after sending (%s), and the list "
            "of predictions could not be read: a prediction may run that nobody cancels or "
            "charges", up_result_phrase(t));
  }
  orphan_told(o, &r);
  prediction_free(&p);
  free(peeked);
}

void exchange_orphan_wait(struct exchange_orphan *o, exchange_created_fn fn, void *ctx) {
  o->fn = fn;
  o->ctx = ctx;
}

int exchange_creates_pending(const struct exchange *ex) {
  int n = 0;
  for (int i = 0; i < ex->n; i++)
    n += ex->choices[i].orphan != NULL;
  return n;
}

static void choice_stop_work(struct choice *c) {
  loop_timer_disarm(&c->ex->w->loop, &c->poll_timer);
  if (!c->xfer)
    return;
  if (c->state == CH_CREATING && up_running(c->xfer)) {
    /* Aborting would leave a prediction nobody cancels: let it finish. */
    char *kept = orphan_keep(c);
    if (kept) {
      struct exchange_orphan *o = &((struct choice_xfer *)c->xfer)->orphan;
      /* A prediction made later with the same input is another request's
       * (an SDK that timed out and retried): never canceled for this one. */
      *o = (struct exchange_orphan){
          .c = c, .w = c->ex->w, .since_ms = c->create_sent_ms - CLOCK_SKEW_MS,
          .until_ms = c->create_sent_ms + cfg(c->ex)->connect_timeout_ms + CLOCK_SKEW_MS};
      c->orphan = o;
      up_orphan(c->xfer, on_orphan_create_done, kept);
      c->xfer = NULL;
      return;
    }
  }
  up_stop(c->xfer);
}

static void stop_everything(struct exchange *ex) {
  loop_timer_disarm(&ex->w->loop, &ex->deadline);
  loop_timer_disarm(&ex->w->loop, &ex->keepalive);
  loop_timer_disarm(&ex->w->loop, &ex->resume);
  for (int i = 0; i < ex->n; i++) {
    choice_stop_work(&ex->choices[i]);
    if (ex->choices[i].state != CH_DONE)
      cancel_prediction(&ex->choices[i]);
  }
}

static size_t pending(const struct exchange *ex) { return ex->out.len - ex->out_pos; }

/* A client that reads slower than Replicate writes must not make the proxy
 * buffer the difference: above client_output_buffer the upstream streams
 * are paused (each stops at its next piece) until the client drains. */
static void apply_backpressure(struct exchange *ex) {
  if (ex->paused || pending(ex) <= (size_t)cfg(ex)->client_output_buffer)
    return;
  ex->paused = 1;
  ex->paused_at_ms = loop_now_ms();
  loop_timer_disarm(&ex->w->loop, &ex->resume);
  log_msg(LOG_DEBUG, "%s: %zu bytes waiting for the client; upstream paused", ex->id,
          pending(ex));
  for (int i = 0; i < ex->n; i++)
    if (ex->choices[i].xfer && up_running(ex->choices[i].xfer))
      up_pause(ex->choices[i].xfer, 1);
}

/* Deferred to a timer: unpausing may deliver data at once, which must not
 * happen inside the client's read callback. */
static void on_resume(struct loop *l, struct loop_timer *t) {
  struct exchange *ex = t->ud;
  ex->paused = 0;
  ex->paused_credit_ms += loop_now_ms() - ex->paused_at_ms;
  log_msg(LOG_DEBUG, "%s: client drained; upstream resumed", ex->id);
  if (ex->deadline_due && !ex->stream_ended && !ex->failed) {
    ex->deadline_due = 0; /* check again: the paused time is owed */
    on_deadline(l, &ex->deadline);
  }
  for (int i = 0; i < ex->n && !ex->paused; i++) /* data delivered may pause again */
    if (ex->choices[i].xfer && up_running(ex->choices[i].xfer))
      up_pause(ex->choices[i].xfer, 0);
}

static void stream_write(struct exchange *ex, int rc) {
  if (rc != 0)
    log_msg(LOG_ERROR, "out of memory building a stream chunk");
  apply_backpressure(ex);
  ex->last_write_ms = loop_now_ms();
  if (ex->hr)
    http_request_wake(ex->hr);
}

/* The exchange failed: an error response before the stream opened, an
 * in-band error event and [DONE] after. */
static void exchange_fail(struct exchange *ex, const struct oai_error *e) {
  if (ex->failed || ex->stream_ended)
    return;
  ex->failed = 1;
  snprintf(ex->error_code, sizeof ex->error_code, "%s", e->code[0] ? e->code : e->type);
  int entered = log_request_enter(ex->request_id); /* also from a stream's data callback */
  log_msg(LOG_WARN, "request failed: %d %s: %s", e->status, e->code, e->message);
  log_request_leave(entered);
  stop_everything(ex);
  if (!ex->hr)
    return;
  if (!ex->stream_open) {
    int status = e->status;
    char *body = ex->enc.ops->error_body ? ex->enc.ops->error_body(e, &status) : NULL;
    if (body && e->retry_after[0])
      http_request_add_header(ex->hr, "Retry-After", e->retry_after);
    if (body)
      http_request_respond(ex->hr, status, body);
    else
      http_request_respond_error(ex->hr, e);
    http_request_wake(ex->hr);
    return;
  }
  struct response_meta m = meta(ex);
  int rc = ex->enc.ops->fail(ex->enc.st, &ex->out, &m, e);
  ex->stream_ended = 1;
  stream_write(ex, rc);
}

static void fail_oom(struct exchange *ex) {
  struct oai_error e;
  oai_error_set(&e, 500, "server_error", "internal_error", NULL, "out of memory");
  exchange_fail(ex, &e);
}

static long output_tokens(const struct choice *c) {
  if (c->output_tokens >= 0)
    return c->output_tokens;
  return usage_estimate_tokens(NULL, c->seen_len);
}

static struct usage total_usage(const struct exchange *ex) {
  struct usage u = {0, 0, ex->req.thinking ? 0 : -1, 1, 0};
  for (int i = 0; i < ex->n; i++) {
    const struct choice *c = &ex->choices[i];
    long out = output_tokens(c);
    u.prompt_tokens += c->input_tokens >= 0 ? c->input_tokens : c->prompt_estimate;
    u.completion_tokens += out;
    /* Replicate counts only all output tokens: reasoning gets its share. */
    size_t reasoning = c->pipe ? pipeline_reasoning_bytes(c->pipe) : 0;
    if (ex->req.thinking && c->seen_len && reasoning) {
      long share = (long)((double)out * (double)reasoning / (double)c->seen_len + 0.5);
      u.reasoning_tokens += share > 0 ? share : (out > 0); /* some reasoning: >= 1 */
    }
  }
  u.cost = usage_cost(u.prompt_tokens, u.completion_tokens, cfg(ex)->input_price_per_mtok,
                      cfg(ex)->output_price_per_mtok);
  return u;
}

static const char *length_or_stop(const struct exchange *ex, const struct choice *c) {
  long limit = ex->req.has & HAS_MAX_TOKENS ? ex->req.max_tokens : MODEL_DEFAULT_MAX_TOKENS;
  return output_tokens(c) >= limit ? "length" : "stop";
}

static void finish_nonstream(struct exchange *ex) {
  struct choice_result *results = calloc((size_t)ex->n, sizeof *results);
  struct buf *echoed = calloc((size_t)ex->n, sizeof *echoed);
  if (!results || !echoed) {
    free(results);
    free(echoed);
    fail_oom(ex);
    return;
  }
  int oom = 0;
  for (int i = 0; i < ex->n; i++) {
    struct choice *c = &ex->choices[i];
    pipeline_result(c->pipe, &results[i]);
    results[i].finish_reason = c->finish_reason;
    results[i].stop_sequence = c->stop_sequence;
    if (c->echo) {
      oom |= buf_append_str(&echoed[i], c->echo) != 0 ||
             buf_append(&echoed[i], results[i].content, results[i].content_len) != 0;
      results[i].content = echoed[i].data;
      results[i].content_len = echoed[i].len;
    }
  }
  struct usage u = total_usage(ex);
  struct response_meta m = meta(ex);
  char *body = oom ? NULL : ex->enc.ops->whole(ex->enc.st, &m, results, (size_t)ex->n, &u);
  for (int i = 0; i < ex->n; i++)
    buf_free(&echoed[i]);
  free(echoed);
  free(results);
  loop_timer_disarm(&ex->w->loop, &ex->deadline);
  if (!body) {
    fail_oom(ex);
    return;
  }
  if (!ex->hr) {
    free(body);
    return;
  }
  http_request_respond(ex->hr, 200, body);
  http_request_wake(ex->hr);
}

static void finish_stream(struct exchange *ex) {
  loop_timer_disarm(&ex->w->loop, &ex->deadline);
  loop_timer_disarm(&ex->w->loop, &ex->keepalive);
  struct usage u = total_usage(ex);
  struct response_meta m = meta(ex);
  int rc = ex->enc.ops->end(ex->enc.st, &ex->out, &m, &u);
  ex->stream_ended = 1;
  stream_write(ex, rc);
}

/* The choice's output is complete (or cut by a stop): flush the pipeline,
 * decide the finish reason, and finish the exchange with the last choice. */
static void choice_complete(struct choice *c) {
  struct exchange *ex = c->ex;
  if (c->state == CH_DONE || ex->failed)
    return;
  choice_stop_work(c);
  struct response_meta m = meta(ex);
  struct oai_error e;
  const char *limit_reason = length_or_stop(ex, c); /* token counts are final */
  if (!pipeline_stop_matched(c->pipe) && strcmp(limit_reason, "length") == 0)
    pipeline_allow_truncated_json(c->pipe);
  int rc = pipeline_finish(c->pipe, &ex->out, &m, &e);
  if (rc == -2) {
    exchange_fail(ex, &e);
    return;
  }
  if (rc != 0) {
    fail_oom(ex);
    return;
  }
  c->state = CH_DONE;
  const char *matched = pipeline_matched_stop(c->pipe);
  for (size_t i = 0; matched && i < ex->req.n_stop; i++)
    if (matched == ex->req.stop[i]) /* not one of the implicit end markers */
      c->stop_sequence = matched;
  const char *calls = pipeline_call_finish_reason(c->pipe);
  c->finish_reason = calls                          ? calls
                     : pipeline_stop_matched(c->pipe) ? "stop"
                                                    : limit_reason;
  if (ex->req.stream) {
    rc = ex->enc.ops->finish(ex->enc.st, &ex->out, &m, c->index, c->finish_reason,
                             c->stop_sequence);
    stream_write(ex, rc);
  }
  if (++ex->n_done == ex->n)
    (ex->req.stream ? finish_stream : finish_nonstream)(ex);
}

/* A stop sequence matched: the rest of the prediction is wasted money. */
static void choice_stopped(struct choice *c) {
  enum metrics_cancel was = c->ex->cancel_reason;
  c->ex->cancel_reason = MC_STOP;
  cancel_prediction(c);
  c->ex->cancel_reason = was;
  choice_complete(c);
}

/* --------------------------------------------------------------- output */

/* New raw model output for a choice. Returns 1 when a stop matched, -1 when
 * out of memory (the caller fails the exchange), else 0. Safe inside curl's
 * write callback: it only appends to buffers. */
static int choice_output(struct choice *c, const char *text, size_t len) {
  struct exchange *ex = c->ex;
  c->seen_len += len;
  if (c->index == 0 && cfg(ex)->log_bodies) { /* bounded: the access line shows this much */
    size_t room = ACCESS_LOG_BODY_MAX - ex->logged_output.len;
    if (len > room)
      ex->logged_cut = 1;
    if (buf_append(&ex->logged_output, text, len < room ? len : room) != 0)
      return -1;
  }
  struct response_meta m = meta(ex);
  size_t before = ex->out.len;
  int rc = pipeline_feed(c->pipe, text, len, &ex->out, &m);
  if (ex->out.len != before)
    stream_write(ex, 0);
  return rc;
}

/* Output that arrived as a whole prediction (create reply or poll): only
 * the part not seen yet. Returns as choice_output. */
static int choice_output_from(struct choice *c, const struct prediction *p) {
  if (c->saw_done || p->output_len <= c->seen_len)
    return 0;
  return choice_output(c, p->output + c->seen_len, p->output_len - c->seen_len);
}

static int handle_output_rc(struct choice *c, int rc) {
  if (rc < 0)
    fail_oom(c->ex);
  else if (rc == 1)
    choice_stopped(c);
  return rc;
}

/* A prediction reached a terminal state (from create or a poll). */
static void choice_terminal(struct choice *c, const struct prediction *p) {
  c->upstream_finished = 1;
  if (p->input_tokens >= 0)
    c->input_tokens = p->input_tokens;
  if (p->output_tokens >= 0)
    c->output_tokens = p->output_tokens;
  if (p->status != PRED_SUCCEEDED) {
    struct oai_error e;
    upstream_error_from_prediction(p, &e);
    exchange_fail(c->ex, &e);
    return;
  }
  if (!p->has_output && c->seen_len == 0) {
    /* data_removed, or an output that never existed: not an empty answer. */
    struct oai_error e;
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "Replicate's prediction %s succeeded without output%s", c->pred_id,
                  " (it may have been removed)");
    exchange_fail(c->ex, &e);
    return;
  }
  if (handle_output_rc(c, choice_output_from(c, p)) != 0)
    return;
  choice_complete(c);
}

/* ------------------------------------------------------------- upstream */

/* The client hears what kind of failure it was; curl's detail (it names
 * Replicate's host and port) goes to the log only. */
static void fail_transport(struct exchange *ex, const struct up_transfer *t) {
  struct oai_error e;
  const char *why = up_result_phrase(t);
  log_msg(LOG_WARN, "upstream transfer failed: %s", t->error);
  if (t->too_large)
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "Replicate's reply was larger than max_upstream_reply (%lld bytes)",
                  cfg(ex)->max_upstream_reply);
  else if (t->result == CURLE_OPERATION_TIMEDOUT)
    oai_error_set(&e, 504, "server_error", "upstream_timeout", NULL,
                  "Replicate did not answer in time");
  else if (up_result_is_unreachable(t->result))
    oai_error_set(&e, 502, "server_error", "upstream_unreachable", NULL,
                  "could not reach Replicate (%s)", why);
  else
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "Replicate connection failed (%s)", why);
  exchange_fail(ex, &e);
}

/* Common checks of a finished create/poll reply. Returns 0 with *p parsed,
 * or -1 after failing the exchange. */
static int read_prediction(struct choice *c, struct prediction *p) {
  struct up_transfer *t = c->xfer;
  if (t->result != CURLE_OK) {
    fail_transport(c->ex, t);
    return -1;
  }
  if (t->status < 200 || t->status > 299) {
    struct oai_error e;
    upstream_error_from_http((int)t->status, t->body.data, t->body.len,
                             t->retry_after[0] ? t->retry_after : NULL, &e);
    /* A prediction that vanishes mid-poll is Replicate's fault, not a
     * missing resource of the client's. */
    if (c->state == CH_POLLING && t->status == 404)
      oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                    "Replicate no longer knows prediction %s", c->pred_id);
    exchange_fail(c->ex, &e);
    return -1;
  }
  if (prediction_parse(t->body.data ? t->body.data : "", t->body.len, p) != 0) {
    struct oai_error e;
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "Replicate sent a reply that is not a prediction");
    exchange_fail(c->ex, &e);
    return -1;
  }
  return 0;
}

/* Paused time not yet added to the deadline. */
static uint64_t paused_credit(const struct exchange *ex) {
  return ex->paused_credit_ms + (ex->paused ? loop_now_ms() - ex->paused_at_ms : 0);
}

static long remaining_ms(const struct exchange *ex) {
  uint64_t credit = paused_credit(ex);
  if (!loop_timer_armed(&ex->deadline))
    return ex->deadline_due && credit ? (long)credit : 1;
  uint64_t now = loop_now_ms();
  return ex->deadline.due_ms > now ? (long)(ex->deadline.due_ms - now + credit) : 1;
}

static void start_or_fail(struct choice *c, const struct up_request *r0) {
  struct up_request r = *r0;
  r.request_id = c->ex->request_id;
  r.trace = &c->ex->trace;
  r.resend_count = c->state == CH_CREATING ? c->create_retries
                   : c->state == CH_POLLING ? c->retries : 0;
  if (up_start(&c->ex->w->up, c->xfer, &r) != 0) {
    struct oai_error e;
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL, "%s", c->xfer->error);
    exchange_fail(c->ex, &e);
  }
}

static uint64_t mono_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A call to Replicate ended: widen the exchange's upstream window. */
static void upstream_window(struct exchange *ex, const struct up_transfer *t) {
  if (!ex->up_first_us || t->started_us < ex->up_first_us)
    ex->up_first_us = t->started_us;
  uint64_t now = mono_now_us();
  if (now > ex->up_last_us)
    ex->up_last_us = now;
}

static void choice_create(struct choice *c);

static void choice_list_page(struct choice *c, const char *url);

static void on_poll_timer(struct loop *l, struct loop_timer *t) {
  struct choice *c = t->ud;
  if (c->state == CH_CREATE_WAIT) {
    choice_create(c);
    return;
  }
  if (c->state == CH_RESOLVING) { /* a list read failed: from the first page again */
    choice_list_page(c, NULL);
    return;
  }
  /* A poll of a stream brings more output: not while the client lags (if
   * the timer cannot be armed, poll anyway rather than hang). */
  if (c->ex->paused && !c->saw_done &&
      loop_timer_arm(l, t, (uint64_t)cfg(c->ex)->poll_interval_ms) == 0)
    return;
  if (!c->url_get) {
    struct oai_error e;
    oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "Replicate's prediction has no urls.get to follow");
    exchange_fail(c->ex, &e);
    return;
  }
  c->state = CH_POLLING;
  c->polls++;
  c->poll_sent_mono_ms = loop_now_ms();
  up_transfer_free(c->xfer); /* the previous transfer's body */
  up_transfer_init(c->xfer, on_poll_done, NULL, c);
  struct up_request r = {.method = "GET", .url = c->url_get, .token = c->ex->token,
                         .timeout_ms = remaining_ms(c->ex),
                         .max_body = (size_t)cfg(c->ex)->max_upstream_reply};
  start_or_fail(c, &r);
}

/* The poll schedule (backoff_poll_delay_ms) counts from the create's send
 * and the last poll's. */
static uint64_t next_poll_delay(const struct choice *c) {
  uint64_t now = loop_now_ms();
  uint64_t elapsed = now > c->create_mono_ms ? now - c->create_mono_ms : 0;
  uint64_t since_sent = now > c->poll_sent_mono_ms ? now - c->poll_sent_mono_ms : 0;
  return backoff_poll_delay_ms(elapsed, since_sent, c->polls,
                               (uint64_t)cfg(c->ex)->poll_interval_ms);
}

static void choice_start_poll(struct choice *c) {
  c->state = CH_POLL_WAIT;
  /* If the timer cannot be armed, poll now rather than hang. */
  if (loop_timer_arm(&c->ex->w->loop, &c->poll_timer, next_poll_delay(c)) != 0)
    on_poll_timer(&c->ex->w->loop, &c->poll_timer);
}

static void choice_start_stream(struct choice *c) {
  c->state = CH_STREAMING;
  up_transfer_free(c->xfer);
  up_transfer_init(c->xfer, on_stream_done, on_stream_data, c);
  /* max_body bounds an error reply's body; the stream itself is relayed. */
  struct up_request r = {.method = "GET", .url = c->url_stream, .token = c->ex->token,
                         .sse = 1, /* no curl timeout: it would count time paused
                                      * for the client; the deadline stops it */
                         .max_body = (size_t)cfg(c->ex)->max_upstream_reply};
  start_or_fail(c, &r);
  if (c->ex->paused && up_running(c->xfer))
    up_pause(c->xfer, 1);
}

/* Every prediction of a streaming request exists: commit to 200, send each
 * choice's first chunk, then start reading. Errors after this go in-band. */
static void open_stream(struct exchange *ex) {
  ex->stream_open = 1;
  if (ex->w->up.metrics)
    metrics_stream_opened(ex->w->up.metrics);
  http_request_open_stream(ex->hr);
  int rc = 0;
  struct response_meta m = meta(ex);
  for (int i = 0; i < ex->n && rc == 0; i++) {
    const struct choice *c = &ex->choices[i];
    rc = ex->enc.ops->open(ex->enc.st, &ex->out, &m, i);
    if (rc == 0 && c->echo)
      rc = ex->enc.ops->text(ex->enc.st, &ex->out, &m, i, c->echo, strlen(c->echo));
  }
  stream_write(ex, rc);
  if (rc != 0) {
    fail_oom(ex);
    return;
  }
  loop_timer_arm(&ex->w->loop, &ex->keepalive, (uint64_t)cfg(ex)->keepalive_interval_ms);
  for (int i = 0; i < ex->n && !ex->failed; i++) {
    struct choice *c = &ex->choices[i];
    if (c->url_stream)
      choice_start_stream(c);
    else
      choice_start_poll(c); /* no stream URL: relay the output as it grows */
  }
}

/* A prediction exists for this choice (from the create reply, or found in
 * the list after the reply was lost). Its id and urls are taken (left NULL
 * in p), the rest only read. */
static void choice_created(struct choice *c, struct prediction *p) {
  struct exchange *ex = c->ex;
  take(&c->pred_id, &p->id); /* never NULL: prediction_parse requires an id */
  take(&c->url_get, &p->url_get);
  take(&c->url_cancel, &p->url_cancel);
  take(&c->url_stream, &p->url_stream);
  if (c->index == 0) {
    size_t at = fit_str(ex->id, sizeof ex->id, 0, ex->enc.ops->id_prefix);
    fit_str(ex->id, sizeof ex->id, at, c->pred_id);
  }
  ex->n_created++;
  log_msg(LOG_DEBUG, "prediction %s created (%s)", c->pred_id, prediction_status_name(p->status));
  if (ex->req.stream) {
    /* Nothing is sent before every choice exists (errors stay plain JSON). */
    c->state = CH_PARKED;
    if (prediction_is_terminal(p->status)) { /* finished already: one poll */
      free(c->url_stream);
      c->url_stream = NULL;
    }
    if (ex->n_created == ex->n)
      open_stream(ex);
  } else if (prediction_is_terminal(p->status)) {
    choice_terminal(c, p);
  } else {
    choice_start_poll(c);
  }
}

static long long wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request's deadline is the exchange's timer; the create itself may
 * outlive it by this much, so that a create still running then (handed to
 * up_orphan) learns its prediction's id and cancels it instead of timing out
 * blind. Prefer: wait holds a reply for at most 60 s. */
#define CREATE_GRACE_MS 70000

/* Each create is a paid prediction: curl must never send one twice on its
 * own (no_resend), and one whose answer is lost is looked up first. */
static void choice_create(struct choice *c) {
  struct exchange *ex = c->ex;
  uint64_t wait_ms = 0;
  if (cfg(ex)->circuit_cooldown_ms > 0 &&
      !circuit_allow(ex->w->up.circuit, loop_now_ms(), &wait_ms)) {
    struct oai_error e;
    oai_error_set(&e, 503, "server_error", "upstream_unavailable", NULL,
                  "Replicate is failing; the proxy stops sending it predictions for a "
                  "while. Retry after the Retry-After delay");
    snprintf(e.retry_after, sizeof e.retry_after, "%llu",
             (unsigned long long)(wait_ms + 999) / 1000);
    exchange_fail(ex, &e);
    return;
  }
  c->state = CH_CREATING;
  c->create_sent_ms = wall_ms();
  c->create_mono_ms = loop_now_ms();
  up_transfer_free(c->xfer);
  up_transfer_init(c->xfer, on_create_done, NULL, c);
  /* Sync mode saves the polls for short answers; streams want urls.stream
   * at once. */
  struct up_request r = {.method = "POST", .url = ex->create_url, .body = c->body,
                         .token = ex->token, .prefer_wait = !ex->req.stream,
                         .timeout_ms = remaining_ms(ex) + CREATE_GRACE_MS, .no_resend = 1,
                         .max_body = (size_t)cfg(ex)->max_upstream_reply};
  start_or_fail(c, &r);
}

/* List reads that fail for a reason that may pass (connection, 429, 5xx)
 * are sent again: giving up means a 502 for a prediction that may exist. */
#define LIST_RETRIES 3
#define LIST_BACKOFF_MS 250

/* Read one page of the list: url NULL for the first (newest) page. */
static void choice_list_page(struct choice *c, const char *url) {
  struct exchange *ex = c->ex;
  struct buf first = BUF_INIT;
  if (!url) {
    c->list_pages = 0;
    if (list_first_url(&first, cfg(ex)->upstream) != 0) {
      buf_free(&first);
      fail_oom(ex);
      return;
    }
    url = first.data;
  }
  c->state = CH_RESOLVING;
  if (c->list_pages == 0 && c->list_matched) { /* read again from the top */
    prediction_free(&c->list_match);
    c->list_matched = 0;
  }
  c->list_pages++;
  up_transfer_free(c->xfer);
  up_transfer_init(c->xfer, on_list_done, NULL, c);
  struct up_request r = {.method = "GET", .url = url, .token = ex->token,
                         .timeout_ms = remaining_ms(ex),
                         .max_body = (size_t)cfg(ex)->max_upstream_reply};
  start_or_fail(c, &r);
  buf_free(&first);
}

static void choice_resolve(struct choice *c) {
  log_msg(LOG_WARN, "create for choice %d: %s after sending (%s); looking for its prediction "
          "before creating again", c->index, up_result_phrase(c->xfer), c->xfer->error);
  c->list_retries = 0;
  choice_list_page(c, NULL);
}

static void fail_unresolved(struct choice *c, const char *why) {
  log_msg(LOG_ERROR, "create for choice %d: %s; a prediction may exist that nobody cancels",
          c->index, why);
  struct oai_error e;
  oai_error_set(&e, 502, "server_error", "upstream_error", NULL,
                "Replicate's answer to the prediction request was lost and it could not be "
                "told whether the prediction exists; not created again to avoid paying twice");
  exchange_fail(c->ex, &e);
}

static int transient(const struct up_transfer *t);

static void on_list_done(struct up_transfer *t) {
  struct choice *c = t->ud;
  upstream_window(c->ex, t);
  struct exchange *ex = c->ex;
  if (t->result != CURLE_OK || t->status < 200 || t->status > 299) {
    long delay = LIST_BACKOFF_MS << c->list_retries;
    long hint = up_retry_after_ms(t);
    if (hint > delay)
      delay = hint;
    if (transient(t) && c->list_retries < LIST_RETRIES && delay < remaining_ms(ex) &&
        loop_timer_arm(&ex->w->loop, &c->poll_timer, (uint64_t)delay) == 0) {
      c->list_retries++;
      log_msg(LOG_WARN, "create for choice %d: listing predictions failed (%s, HTTP %ld); "
              "retry %d of %d in %ld ms", c->index,
              t->result != CURLE_OK ? up_result_phrase(t) : "reply", t->status,
              c->list_retries, LIST_RETRIES, delay);
      return; /* on_poll_timer reads the list again, from its first page */
    }
    char why[CURL_ERROR_SIZE + 64];
    snprintf(why, sizeof why, "listing predictions failed (%s, HTTP %ld)",
             t->result != CURLE_OK ? t->error : "reply", t->status);
    fail_unresolved(c, why);
    return;
  }
  const char **mine = calloc((size_t)ex->n, sizeof *mine);
  if (!mine) {
    fail_oom(ex);
    return;
  }
  size_t n_mine = 0;
  for (int i = 0; i < ex->n; i++)
    if (ex->choices[i].pred_id)
      mine[n_mine++] = ex->choices[i].pred_id;
  struct prediction p;
  int covered = 0;
  int rc = prediction_list_find(t->body.data, t->body.len, c->body,
                                c->create_sent_ms - CLOCK_SKEW_MS, 0, mine, n_mine, &p, &covered);
  free(mine);
  if (rc == 1) { /* each page is older than the last: its match is older too */
    if (c->list_matched)
      prediction_free(&c->list_match);
    c->list_match = p;
    c->list_matched = 1;
  }
  if (rc >= 0 && !covered && c->list_pages < LIST_MAX_PAGES) {
    /* The page ends before the create was sent: older predictions are on
     * the next (under load, ours among them; and a match here may be a
     * later identical request's while ours, the oldest, is further on). */
    char *next = prediction_list_next(t->body.data, t->body.len);
    if (next) {
      choice_list_page(c, next);
      free(next);
      return;
    }
  }
  if (c->list_matched) {
    log_msg(LOG_INFO, "prediction %s found in the list: the lost create made it",
            c->list_match.id);
    struct prediction m = c->list_match;
    c->list_matched = 0;
    choice_created(c, &m);
    prediction_free(&m);
  } else if (rc == 0 && covered && !c->recreated) {
    log_msg(LOG_INFO, "create for choice %d: no prediction was made; creating it again",
            c->index);
    c->recreated = 1;
    choice_create(c);
  } else {
    fail_unresolved(c, rc < 0 ? "the list of predictions was unreadable"
                       : covered ? "the create was lost twice"
                                 : "the list did not reach back far enough");
  }
}

/* Total backoff a choice may spend on create retries. */
#define CREATE_RETRY_BUDGET_MS 20000

/* Feed the circuit: an error Replicate itself caused (no answer, 5xx) counts
 * against it; any other answer shows it is up. */
static void circuit_note(struct exchange *ex, const struct up_transfer *t) {
  /* Outcomes that say nothing of Replicate's health are not recorded (an
   * unreported half-open probe is retried after a cool-down): the request's
   * own timeout; a connection that timed out coming up (under a burst of new
   * connections a few handshakes may wait long while Replicate serves the
   * rest; a refused or unreachable host still counts); an HTTP/2 stream
   * reset or framing error (the server spoke HTTP/2, and one such cut fails
   * every create on that connection at once: with libcurl 7.88 under load a
   * framing error opened the circuit and 2,073 of 5,000 streams got a 503);
   * a create curl would have sent again on a new connection (a refused
   * stream, a dead reused connection) and the proxy would not (3,221 of
   * 5,000 TLS streams got a 503 when ten were cut at once). */
  if (t->status < 500 && (t->result == CURLE_OPERATION_TIMEDOUT || t->connect_timed_out ||
                          t->result == CURLE_HTTP2 || t->result == CURLE_HTTP2_STREAM ||
                          t->resend_refused))
    return;
  int down = (t->result != CURLE_OK && !t->too_large) || t->status >= 500;
  struct up_client *up = &ex->w->up;
  if (cfg(ex)->circuit_cooldown_ms == 0)
    return;
  /* The circuit is the process's: the worker whose outcome changed it logs it. */
  int changed = circuit_record(up->circuit, loop_now_ms(), !down);
  if (changed == CIRCUIT_CLOSED_NOW)
    log_fields(LOG_WARN, &(struct log_field){"circuit", "closed"}, 1,
               "circuit to Replicate closed: a create succeeded");
  if (changed == CIRCUIT_OPENED) {
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", cfg(ex)->circuit_cooldown_ms);
    struct log_field f[] = {{"circuit", "open"}, {"cooldown_ms", ms}};
    log_fields(LOG_ERROR, f, 2, "circuit to Replicate open: creates refused for %ld ms, then one probe",
               cfg(ex)->circuit_cooldown_ms);
    if (up->metrics)
      atomic_fetch_add_explicit(&up->metrics->circuit_opened, 1, memory_order_relaxed);
  }
}

/* A create that surely made nothing (refused connection, 429, 5xx) is sent
 * again after a full-jitter backoff, honouring Retry-After and Replicate's
 * "resets in ~Ns". Creates come before any byte reaches the client, and a
 * create whose fate is unknown never gets here (it is looked up). Returns 1
 * when a retry is scheduled. */
static int retry_create(struct choice *c) {
  struct up_transfer *t = c->xfer;
  struct exchange *ex = c->ex;
  int transient_fail = t->too_large ? 0
                       : t->result != CURLE_OK ? t->result != CURLE_OPERATION_TIMEDOUT
                                               : t->status == 429 || t->status >= 500;
  if (!transient_fail || c->create_retries >= cfg(ex)->upstream_max_retries ||
      circuit_state_get(ex->w->up.circuit) != CIRCUIT_CLOSED)
    return 0;
  uint32_t rnd = 0;
  if (rand_pool_fill(&rnd, sizeof rnd) != 0)
    rnd = (uint32_t)loop_now_ms();
  long delay = backoff_full_jitter_ms(c->create_retries, rnd);
  long hint = up_retry_after_ms(t), text = backoff_resets_in_ms(t->body.data, t->body.len);
  if (text > hint)
    hint = text;
  if (hint > delay)
    delay = hint;
  if (delay >= remaining_ms(ex) || c->create_waited_ms + delay > CREATE_RETRY_BUDGET_MS)
    return 0;
  if (loop_timer_arm(&ex->w->loop, &c->poll_timer, (uint64_t)delay) != 0)
    return 0;
  c->create_retries++;
  c->create_waited_ms += delay;
  c->state = CH_CREATE_WAIT;
  if (ex->w->up.metrics)
    metrics_retry(ex->w->up.metrics, MU_CREATE);
  log_msg(LOG_WARN, "create for choice %d failed (%s, HTTP %ld); retry %d of %ld in %ld ms",
          c->index, t->result != CURLE_OK ? up_result_phrase(t) : "reply", t->status,
          c->create_retries, cfg(ex)->upstream_max_retries, delay);
  return 1;
}

static void on_create_done(struct up_transfer *t) {
  struct choice *c = t->ud;
  upstream_window(c->ex, t);
  struct prediction p;
  circuit_note(c->ex, t);
  if (up_fate_unknown(t)) {
    choice_resolve(c);
    return;
  }
  if (retry_create(c))
    return;
  if (t->too_large && t->status >= 200 && t->status <= 299)
    cancel_oversized(t, c->ex->token);
  if (read_prediction(c, &p) != 0)
    return;
  choice_created(c, &p);
  prediction_free(&p);
}

/* While a prediction runs, a throttled or failed poll is no reason to give
 * up on it (and pay for nothing): retry with backoff, within bounds. */
#define POLL_RETRIES 5
#define BACKOFF_CAP_MS 10000

static int transient(const struct up_transfer *t) {
  if (t->too_large)
    return 0;
  if (t->result != CURLE_OK) /* a timeout is the request's own deadline */
    return t->result != CURLE_OPERATION_TIMEDOUT;
  return t->status == 429 || t->status >= 500;
}

/* Returns 1 when the failed poll will be retried. */
static int retry_poll(struct choice *c) {
  struct up_transfer *t = c->xfer;
  struct exchange *ex = c->ex;
  if (!transient(t) || c->retries >= POLL_RETRIES)
    return 0;
  long delay = cfg(ex)->poll_interval_ms << c->retries;
  if (delay > BACKOFF_CAP_MS)
    delay = BACKOFF_CAP_MS;
  long hint = up_retry_after_ms(t);
  if (hint > delay)
    delay = hint;
  if (delay >= remaining_ms(ex))
    return 0; /* the retry would come after the deadline */
  if (loop_timer_arm(&ex->w->loop, &c->poll_timer, (uint64_t)delay) != 0)
    return 0; /* out of memory: fail now rather than hang */
  c->retries++;
  if (ex->w->up.metrics)
    metrics_retry(ex->w->up.metrics, MU_POLL);
  if (t->result != CURLE_OK)
    log_msg(LOG_WARN, "prediction %s: poll failed (%s: %s); retry %d of %d in %ld ms",
            c->pred_id, up_result_phrase(t), t->error, c->retries, POLL_RETRIES, delay);
  else
    log_msg(LOG_WARN, "prediction %s: poll failed (HTTP %ld); retry %d of %d in %ld ms",
            c->pred_id, t->status, c->retries, POLL_RETRIES, delay);
  c->state = CH_POLL_WAIT;
  return 1;
}

static void on_poll_done(struct up_transfer *t) {
  struct choice *c = t->ud;
  upstream_window(c->ex, t);
  struct prediction p;
  if (retry_poll(c))
    return;
  if (c->saw_done && (t->result != CURLE_OK || t->status < 200 || t->status > 299)) {
    /* The stream delivered all the output; only Replicate's token counts are
     * missing (e.g. a reply over max_upstream_reply): estimate them. */
    log_msg(LOG_WARN, "prediction %s: no final state (%s, HTTP %ld); usage estimated",
            c->pred_id, t->result != CURLE_OK ? up_result_phrase(t) : "reply", t->status);
    c->upstream_finished = 1;
    choice_complete(c);
    return;
  }
  if (read_prediction(c, &p) != 0)
    return;
  c->retries = 0;
  if (prediction_is_terminal(p.status)) {
    choice_terminal(c, &p);
  } else if (!c->saw_done && c->ex->req.stream) {
    /* Polling a stream without urls.stream: send what grew. */
    if (handle_output_rc(c, choice_output_from(c, &p)) == 0)
      choice_start_poll(c);
  } else {
    choice_start_poll(c);
  }
  prediction_free(&p);
}

/* ---- SSE from urls.stream ---- */

/* Text of a JSON string member, or NULL; leniently, for event payloads. */
static char *json_member(const char *data, size_t len, const char *key) {
  cJSON *root = cJSON_ParseWithLength(data, len);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  char *out = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
  cJSON_Delete(root);
  return out;
}

/* Runs inside curl's write callback: it must not touch this transfer's easy
 * handle, so it only records what happened and returns non-zero to end the
 * transfer; on_stream_done acts on it. */
static int on_sse_event(void *ud, const struct sse_event *ev) {
  struct choice *c = ud;
  if (ev->event_len == 6 && memcmp(ev->event, "output", 6) == 0) {
    int rc = choice_output(c, ev->data, ev->data_len);
    if (rc < 0)
      c->out_of_memory = 1;
    else if (rc == 1)
      c->stop_matched = 1;
    return rc != 0;
  }
  if (ev->event_len == 5 && memcmp(ev->event, "error", 5) == 0) {
    char *detail = json_member(ev->data, ev->data_len, "detail");
    buf_reset(&c->sse_error);
    if (detail)
      buf_append_str(&c->sse_error, detail);
    else
      buf_append(&c->sse_error, ev->data, ev->data_len);
    free(detail);
    return 0;
  }
  if (ev->event_len == 4 && memcmp(ev->event, "done", 4) == 0) {
    /* Replicate keeps the stream open after done: close it ourselves. */
    char *reason = json_member(ev->data, ev->data_len, "reason");
    c->done_reason = !reason                         ? DONE_OK
                     : strcmp(reason, "canceled") == 0 ? DONE_CANCELED
                     : strcmp(reason, "error") == 0    ? DONE_ERROR
                                                       : DONE_OK;
    free(reason);
    if (c->sse_error.len)
      c->done_reason = DONE_ERROR;
    c->saw_done = 1;
    return 2;
  }
  return 0; /* logs and unknown events are not for the client */
}

static int on_stream_data(struct up_transfer *t, const char *data, size_t len) {
  struct choice *c = t->ud;
  int rc = sse_parser_feed(&c->sse, data, len, on_sse_event, c);
  return rc == 0 ? 0 : -1; /* stop reading after done, a stop match or junk */
}

static void stream_ended_by_done(struct choice *c) {
  struct exchange *ex = c->ex;
  if (c->done_reason != DONE_OK) {
    c->upstream_finished = 1;
    struct prediction p;
    memset(&p, 0, sizeof p);
    p.status = c->done_reason == DONE_CANCELED ? PRED_CANCELED : PRED_FAILED;
    p.error = c->sse_error.len ? c->sse_error.data : NULL;
    struct oai_error e;
    upstream_error_from_prediction(&p, &e);
    exchange_fail(ex, &e);
    return;
  }
  if (c->seen_len >= (size_t)cfg(ex)->max_upstream_reply) {
    /* The final state carries the whole output again: over the bound for
     * sure, so skip it and estimate the token counts. */
    log_msg(LOG_INFO, "prediction %s: %zu bytes of output; usage estimated", c->pred_id,
            c->seen_len);
    c->upstream_finished = 1;
    choice_complete(c);
    return;
  }
  /* Output complete: fetch the finished prediction for its token counts. */
  on_poll_timer(&ex->w->loop, &c->poll_timer);
}

/* Times a stream whose connection never came up is opened again before
 * following the prediction by polls instead. */
#define STREAM_REOPENS 2

static void on_stream_done(struct up_transfer *t) {
  struct choice *c = t->ud;
  struct exchange *ex = c->ex;
  upstream_window(ex, t);
  if (c->state == CH_DONE || ex->failed)
    return;
  if (c->out_of_memory) {
    fail_oom(ex);
    return;
  }
  if (c->stop_matched) {
    choice_stopped(c);
    return;
  }
  if (c->saw_done) {
    stream_ended_by_done(c);
    return;
  }
  if (up_connect_failed(t) && c->stream_reopens < STREAM_REOPENS) {
    /* No connection came up, so nothing of the stream was read: open it
     * again (on a connection that works) rather than fall back to polls. */
    c->stream_reopens++;
    log_msg(LOG_WARN, "prediction %s: stream connection failed (%s: %s); opening it again",
            c->pred_id, up_result_phrase(t), t->error);
    choice_start_stream(c);
    return;
  }
  int cut = t->status >= 200 && t->status <= 299 && t->result != CURLE_OPERATION_TIMEDOUT;
  if ((cut || transient(t)) && c->url_get) {
    /* The stream was cut, or could not be opened for a reason that may pass
     * (429, 5xx, its host unreachable), while the prediction runs on: follow
     * it by polling and send only the part of the output not sent yet
     * (Replicate's replay of a re-opened stream is not documented). */
    if (!cut && t->result != CURLE_OK)
      log_msg(LOG_WARN, "prediction %s: stream failed (%s: %s); following it by polling",
              c->pred_id, up_result_phrase(t), t->error);
    else if (!cut)
      log_msg(LOG_WARN, "prediction %s: stream failed (HTTP %ld); following it by polling",
              c->pred_id, t->status);
    else
      log_msg(LOG_WARN, "prediction %s: stream cut after %zu bytes (%s); following it by "
              "polling", c->pred_id, c->seen_len,
              t->result == CURLE_OK ? "closed" : up_result_phrase(t));
    free(c->url_stream);
    c->url_stream = NULL;
    choice_start_poll(c);
    return;
  }
  struct oai_error e;
  if (t->status && (t->status < 200 || t->status > 299)) {
    upstream_error_from_http((int)t->status, t->body.data, t->body.len, NULL, &e);
  } else if (t->result != CURLE_OK && (!t->status || t->result == CURLE_OPERATION_TIMEDOUT)) {
    fail_transport(ex, t); /* never connected, or too slow */
    return;
  } else {
    oai_error_set(&e, 502, "server_error", "upstream_stream_ended", NULL,
                  "Replicate's stream ended before the prediction finished");
  }
  exchange_fail(ex, &e);
}

/* ------------------------------------------------------------- timers */

static void on_deadline(struct loop *l, struct loop_timer *t) {
  struct exchange *ex = t->ud;
  if (ex->paused) { /* waiting on the client, not on Replicate */
    ex->deadline_due = 1;
    return;
  }
  uint64_t credit = ex->paused_credit_ms;
  ex->paused_credit_ms = 0;
  if (credit && loop_timer_arm(l, t, credit) == 0)
    return;
  ex->cancel_reason = MC_TIMEOUT;
  struct oai_error e;
  oai_error_set(&e, 504, "server_error", "upstream_timeout", NULL,
                "The prediction did not finish within %ld ms", cfg(ex)->request_timeout_ms);
  exchange_fail(ex, &e);
}

static void on_keepalive(struct loop *l, struct loop_timer *t) {
  struct exchange *ex = t->ud;
  if (ex->stream_ended)
    return;
  uint64_t now = loop_now_ms(), period = (uint64_t)cfg(ex)->keepalive_interval_ms;
  if (now - ex->last_write_ms >= period)
    stream_write(ex, buf_append_str(&ex->out, ": keep-alive\n\n"));
  loop_timer_arm(l, t, period);
}

/* ------------------------------------------------------------- lifecycle */

/* n rounded up so whatever follows it in a block is aligned for anything. */
static size_t block_round(size_t n) {
  const size_t a = _Alignof(max_align_t);
  return (n + a - 1) / a * a;
}

static struct exchange *exchange_new(struct worker *w, struct http_request *hr,
                                     const char *token, int n_choices, size_t n_bodies) {
  /* The choices, the create bodies' slots, the prompts' lengths and the
   * token in one block beside the exchange: they were four allocations and
   * four frees a request. Two blocks, not one: measured with glibc's
   * malloc, whose thread cache serves blocks up to 1 KiB, one block of both
   * cost more (with mimalloc, the default, the count is the same either
   * way). (n_choices and n_bodies are bounded by the request's n.) */
  size_t at_bodies = block_round((size_t)n_choices * sizeof(struct choice));
  size_t at_lens = at_bodies + block_round(n_bodies * sizeof(char *));
  size_t at_token = at_lens + n_bodies * sizeof(size_t);
  size_t token_len = strlen(token);
  struct exchange *ex = calloc(1, sizeof *ex);
  char *block = ex ? calloc(1, at_token + token_len + 1) : NULL;
  if (!block) {
    free(ex);
    return NULL;
  }
  ex->w = w;
  ex->hr = hr;
  ex->cancel_reason = MC_OTHER;
  fit_str(ex->request_id, sizeof ex->request_id, 0, http_request_id(hr));
  ex->trace = *http_request_trace(hr);
  ex->token = memcpy(block + at_token, token, token_len + 1);
  ex->n = n_choices;
  ex->choices = (struct choice *)block; /* the block's start: freed as it */
  ex->bodies = (char **)(block + at_bodies);
  ex->prompt_lens = (size_t *)(block + at_lens);
  ex->n_bodies = n_bodies;
  buf_init(&ex->out);
  /* Timers first: freeing a half-built exchange disarms them. */
  loop_timer_init(&ex->deadline, on_deadline, ex);
  loop_timer_init(&ex->keepalive, on_keepalive, ex);
  loop_timer_init(&ex->resume, on_resume, ex);
  int no_memory = 0;
  for (int i = 0; i < n_choices; i++) {
    ex->choices[i].ex = ex;
    struct choice_xfer *cx = calloc(1, sizeof *cx); /* room for an orphaned create */
    ex->choices[i].xfer = cx ? &cx->t : NULL;
    no_memory |= !ex->choices[i].xfer;
    loop_timer_init(&ex->choices[i].poll_timer, on_poll_timer, &ex->choices[i]);
    buf_init(&ex->choices[i].sse_error);
    sse_parser_init(&ex->choices[i].sse);
  }
  if (no_memory) {
    exchange_free(ex);
    return NULL;
  }
  return ex;
}

/* Shared second half of both starts: choices, timers, the creates. */
static struct exchange *exchange_launch(struct exchange *ex) {
  struct worker *w = ex->w;
  for (size_t i = 0; i < ex->req.n_stop; i++)
    ex->stops[ex->n_stops++] = ex->req.stop[i];
  for (size_t i = 0; i < N_IMPLICIT_STOPS; i++)
    ex->stops[ex->n_stops++] = IMPLICIT_STOPS[i];
  ex->created = (long)time(NULL);
  fit_str(ex->id, sizeof ex->id, 0, "pending");
  ex->last_write_ms = loop_now_ms();
  loop_timer_arm(&w->loop, &ex->deadline, (uint64_t)w->cfg->request_timeout_ms);

  uint64_t seed = 0;
  if (rand_pool_fill(&seed, sizeof seed) != 0)
    seed = loop_now_ms() ^ (uint64_t)(uintptr_t)ex;
  int per_prompt = ex->req.n > 0 ? ex->req.n : 1;
  int init_failed = 0;
  for (int i = 0; i < ex->n; i++) {
    struct choice *c = &ex->choices[i];
    size_t prompt_index = (size_t)(i / per_prompt);
    c->ex = ex;
    c->index = i;
    c->body = ex->bodies[prompt_index];
    c->echo = ex->echo ? ex->prompts[prompt_index] : NULL;
    c->prompt_estimate = usage_estimate_tokens(NULL, ex->prompt_lens[prompt_index]);
    c->input_tokens = c->output_tokens = -1;
    struct pipeline_opts o = {
        .kind = ex->kind, .stream = ex->req.stream, .index = i,
        .thinking = ex->kind == PIPE_CHAT && ex->req.thinking,
        .stops = ex->stops, .n_stops = ex->n_stops,
        .req = ex->kind == PIPE_CHAT ? &ex->req : NULL,
        .id_seed = seed + (uint64_t)i * 0x9E3779B97F4A7C15ull,
        .enc = &ex->enc, .call_id_prefix = ex->enc.ops->call_id_prefix};
    c->pipe = pipeline_new(&o);
    if (!c->pipe)
      init_failed = 1;
  }
  struct buf url = BUF_INIT;
  if (buf_append_strs(&url, w->cfg->upstream, "/v1/models/", w->cfg->model, "/predictions", (char *)NULL) != 0)
    init_failed = 1;
  ex->create_url = buf_take(&url);
  if (init_failed || !ex->create_url)
    fail_oom(ex);
  for (int i = 0; i < ex->n && !ex->failed; i++)
    choice_create(&ex->choices[i]);
  return ex;
}

struct exchange *exchange_start(struct worker *w, struct http_request *hr,
                                struct chat_request *req, const char *token) {
  struct encoder enc;
  if (encoder_chat(&enc, req->legacy_functions, req->include_usage) != 0)
    return NULL;
  return exchange_start_with(w, hr, req, token, &enc);
}

struct exchange *exchange_start_with(struct worker *w, struct http_request *hr,
                                     struct chat_request *req, const char *token,
                                     struct encoder *enc) {
  struct exchange *ex = exchange_new(w, hr, token, req->n > 0 ? req->n : 1, 1);
  if (!ex) {
    encoder_free(enc);
    return NULL;
  }
  ex->enc = *enc;
  enc->st = NULL;
  struct buf prompt = BUF_INIT;
  if (prompt_render(w->cfg->prompt_format, req, &prompt) != 0 ||
      !(ex->bodies[0] = chat_request_prediction_body(req, prompt.data ? prompt.data : ""))) {
    buf_free(&prompt);
    exchange_free(ex);
    return NULL;
  }
  ex->prompt_lens[0] = prompt.len;
  buf_free(&prompt);
  ex->kind = PIPE_CHAT;
  ex->req = *req;
  memset(req, 0, sizeof *req);
  return exchange_launch(ex);
}

struct exchange *exchange_start_text(struct worker *w, struct http_request *hr,
                                     struct completion_request *req, const char *token) {
  int per_prompt = req->base.n > 0 ? req->base.n : 1;
  struct exchange *ex =
      exchange_new(w, hr, token, per_prompt * (int)req->n_prompts, req->n_prompts);
  if (!ex)
    return NULL;
  if (encoder_text(&ex->enc, req->base.include_usage) != 0) {
    exchange_free(ex);
    return NULL;
  }
  for (size_t i = 0; i < req->n_prompts; i++) {
    ex->bodies[i] = chat_request_prediction_body(&req->base, req->prompts[i]);
    ex->prompt_lens[i] = strlen(req->prompts[i]);
    if (!ex->bodies[i]) {
      exchange_free(ex);
      return NULL;
    }
  }
  ex->kind = PIPE_TEXT;
  ex->req = req->base;
  ex->prompts = req->prompts;
  ex->n_prompts = req->n_prompts;
  ex->echo = req->echo;
  memset(req, 0, sizeof *req);
  return exchange_launch(ex);
}

/* Bytes sent are skipped by out_pos and compacted away only once they are
 * the larger part: moving the rest down on every small read would copy a
 * full buffer over and over. */
#define COMPACT_MIN (64 * 1024)

ssize_t exchange_read(struct exchange *ex, char *out, size_t max) {
  size_t avail = pending(ex);
  if (avail == 0)
    return ex->stream_ended ? -1 : 0;
  size_t n = avail < max ? avail : max;
  memcpy(out, ex->out.data + ex->out_pos, n);
  ex->out_pos += n;
  if (ex->out_pos == ex->out.len) {
    buf_reset(&ex->out);
    ex->out_pos = 0;
  } else if (ex->out_pos >= COMPACT_MIN && ex->out_pos >= ex->out.len / 2) {
    buf_consume(&ex->out, ex->out_pos);
    ex->out_pos = 0;
  }
  if (ex->paused && pending(ex) < (size_t)cfg(ex)->client_output_buffer / 2 &&
      !loop_timer_armed(&ex->resume))
    loop_timer_arm(&ex->w->loop, &ex->resume, 0);
  return (ssize_t)n;
}

void exchange_abort(struct exchange *ex, int shutting_down) {
  ex->cancel_reason = shutting_down ? MC_SHUTDOWN : MC_HANGUP;
  if (!shutting_down) {
    /* The client is gone: nobody reads what the predictions produce. */
    ex->hr = NULL;
    stop_everything(ex);
    ex->failed = 1;
    return;
  }
  struct oai_error e;
  oai_error_set(&e, 503, "server_error", "shutting_down",
                NULL, "The proxy is shutting down; retry the request");
  exchange_fail(ex, &e);
}

void exchange_summary(const struct exchange *ex, struct exchange_summary *s) {
  struct usage u = total_usage(ex);
  const struct choice *c = ex->n > 0 ? &ex->choices[0] : NULL;
  *s = (struct exchange_summary){
      .model = ex->req.model,
      .stream = ex->req.stream,
      .stream_opened = ex->stream_open,
      .prompt_tokens = u.prompt_tokens,
      .completion_tokens = u.completion_tokens,
      .finish_reason = c ? c->finish_reason : NULL,
      .prediction_id = c ? c->pred_id : NULL,
      .n_choices = ex->n,
      .failed = ex->failed,
      .error_code = ex->error_code[0] ? ex->error_code : NULL,
      .output = ex->logged_output.data,
      .output_len = ex->logged_output.len,
      .output_cut = ex->logged_cut,
  };
  uint64_t first = ex->up_first_us, last = ex->up_last_us;
  for (int i = 0; i < ex->n; i++) {
    const struct choice *ci = &ex->choices[i];
    s->retries += ci->retries + ci->create_retries;
    if (ci->xfer && up_running(ci->xfer)) { /* still running (a hang-up): up to now */
      last = mono_now_us();
      if (!first || ci->xfer->started_us < first)
        first = ci->xfer->started_us;
    }
  }
  s->upstream_us = first && last > first ? last - first : 0;
}

void exchange_free(struct exchange *ex) {
  if (ex->choices) {
    stop_everything(ex);
    for (int i = 0; i < ex->n; i++) {
      struct choice *c = &ex->choices[i];
      if (c->orphan)
        c->orphan->c = NULL; /* its create lives on: only its waiter may hear of it */
      if (c->xfer)
        up_transfer_free(c->xfer);
      free(c->xfer);
      free(c->pred_id);
      free(c->url_get);
      free(c->url_cancel);
      free(c->url_stream);
      if (c->list_matched)
        prediction_free(&c->list_match);
      buf_free(&c->sse_error);
      sse_parser_free(&c->sse);
      pipeline_free(c->pipe);
    }
  }
  for (size_t i = 0; ex->bodies && i < ex->n_bodies; i++)
    free(ex->bodies[i]);
  free(ex->create_url);
  for (size_t i = 0; i < ex->n_prompts; i++)
    free(ex->prompts[i]);
  free(ex->prompts);
  if (ex->token)
    memset(ex->token, 0, strlen(ex->token));
  free(ex->choices); /* with the bodies' slots, prompt lengths and token */
  chat_request_free(&ex->req);
  buf_free(&ex->out);
  buf_free(&ex->logged_output);
  encoder_free(&ex->enc);
  free(ex);
}

/* ---------------------------------------------------------- settlement */

int exchange_outcome(const struct exchange *ex, struct exchange_outcome *o) {
  memset(o, 0, sizeof *o);
  o->n = ex->n;
  o->stream = ex->req.stream;
  o->id = ex->id;
  struct buf ids = BUF_INIT;
  int oom = 0;
  for (int i = 0; i < ex->n; i++) {
    const struct choice *c = &ex->choices[i];
    if (c->finish_reason && !o->finish_reason)
      o->finish_reason = c->finish_reason;
    if (!c->pred_id)
      continue; /* never created: nothing consumed */
    /* Counts Replicate did not report are estimates from the text seen. */
    if (c->input_tokens < 0 || c->output_tokens < 0)
      o->estimated = 1;
    /* As total_usage counts them, so the ledger matches the answer's usage. */
    o->prompt_tokens += c->input_tokens >= 0 ? c->input_tokens : c->prompt_estimate;
    o->completion_tokens += output_tokens(c);
    oom |= (ids.len && buf_append_str(&ids, ",") != 0) || buf_append_str(&ids, c->pred_id) != 0;
  }
  if (oom) {
    buf_free(&ids);
    return -1;
  }
  o->prediction_ids = ids.data; /* NULL when none was created */
  return 0;
}

int exchange_pred_usage(const struct exchange *ex, struct exchange_pred_usage **out, size_t *n,
                        char **token) {
  *out = NULL;
  *n = 0;
  *token = NULL;
  struct exchange_pred_usage *u = calloc((size_t)(ex->n > 0 ? ex->n : 1), sizeof *u);
  char *tok = strdup(ex->token ? ex->token : "");
  if (!u || !tok)
    goto oom;
  size_t k = 0;
  for (int i = 0; i < ex->n; i++) {
    const struct choice *c = &ex->choices[i];
    if (!c->pred_id && c->orphan) {
      /* Its create may be the whole generation (Prefer: wait): wait for it. */
      u[k++] = (struct exchange_pred_usage){.create = c->orphan, .input_tokens = -1,
                                            .output_tokens = -1,
                                            .input_estimate = c->prompt_estimate};
      continue;
    }
    if (!c->pred_id)
      continue; /* never created: nothing consumed */
    struct exchange_pred_usage *p = &u[k++];
    p->input_tokens = c->input_tokens;
    p->output_tokens = c->output_tokens;
    p->input_estimate = c->prompt_estimate;
    p->output_estimate = usage_estimate_tokens(NULL, c->seen_len);
    if (c->input_tokens >= 0 && c->output_tokens >= 0)
      continue;
    struct buf url = BUF_INIT;
    if (c->url_get)
      p->url_get = strdup(c->url_get);
    else if (buf_printf(&url, "%s/v1/predictions/%s", cfg(ex)->upstream, c->pred_id) == 0)
      p->url_get = url.data;
    if (!p->url_get)
      goto oom;
  }
  *out = u;
  *n = k;
  *token = tok;
  return 0;
oom:
  exchange_pred_usage_free(u, u ? (size_t)ex->n : 0);
  free(tok);
  return -1;
}

void exchange_pred_usage_free(struct exchange_pred_usage *u, size_t n) {
  for (size_t i = 0; u && i < n; i++)
    free(u[i].url_get);
  free(u);
}
