#include "dialect_routes.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../shared/dialects/messages_encoder.h"
#include "../shared/dialects/messages_request.h"
#include "../shared/dialects/responses_encoder.h"
#include "../shared/dialects/responses_request.h"
#include "../shared/prompt.h"
#include "exchange.h"
#include "http.h"

/* Answer an error in the dialect's shape. */
typedef void (*error_fn)(struct http_request *hr, const struct oai_error *e);

static void openai_error(struct http_request *hr, const struct oai_error *e) {
  http_request_respond_error(hr, e);
}

/* The Replicate token: the proxy's own, or the client's key from
 * Authorization: Bearer or x-api-key (Anthropic clients send either).
 * NULL after answering 401. Per-client keys (the gateway) plug in here. */
static const char *dialect_token(struct http_request *hr, error_fn fail) {
  const char *configured = http_request_config(hr)->replicate_api_token;
  if (configured && configured[0])
    return configured;
  const char *auth = http_request_header(hr, "Authorization");
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
    const char *key = auth + 7;
    while (*key == ' ')
      key++;
    if (*key)
      return key;
  }
  const char *key = http_request_header(hr, "x-api-key");
  if (key && *key)
    return key;
  struct oai_error e;
  oai_error_set(&e, 401, "invalid_request_error", "invalid_api_key", NULL,
                "You didn't provide an API key. Pass your Replicate API token as the "
                "Bearer key (Authorization: Bearer r8_...) or as x-api-key, or "
                "configure replicate_api_token on the proxy.");
  fail(hr, &e);
  return NULL;
}

static void oom(struct http_request *hr, error_fn fail) {
  struct oai_error e;
  oai_error_set(&e, 500, "server_error", "internal_error", NULL, "out of memory");
  fail(hr, &e);
}

/* Start the exchange; on failure everything given is freed and 500 sent. */
static void start(struct http_request *hr, struct chat_request *req, const char *token,
                  struct encoder *enc, error_fn fail) {
  struct exchange *ex = exchange_start_with(http_request_worker(hr), hr, req, token, enc);
  if (ex) {
    http_request_attach(hr, ex);
    return;
  }
  chat_request_free(req);
  oom(hr, fail);
}

void handle_responses(struct http_request *hr, const char *subpath) {
  (void)subpath;
  const char *token = dialect_token(hr, openai_error);
  if (!token)
    return;
  size_t len;
  const char *body = http_request_body(hr, &len);
  struct responses_request req;
  struct oai_error e;
  if (responses_request_parse(body, len, http_request_config(hr)->model, &req, &e) != 0) {
    http_request_respond_error(hr, &e);
    return;
  }
  struct encoder enc;
  int rc = encoder_responses(&enc, req.history, req.store);
  req.history = NULL; /* the encoder owns it now */
  if (rc != 0) {
    responses_request_free(&req);
    oom(hr, openai_error);
    return;
  }
  start(hr, &req.chat, token, &enc, openai_error);
}

/* Claude Code probes the base URL with HEAD / before its first request.
 * GET / is routed here too so that it stays the 404 it was (a HEAD-only
 * route would make it a 405). */
void handle_root(struct http_request *hr, const char *subpath) {
  (void)subpath;
  if (strcmp(http_request_method(hr), "HEAD") == 0) {
    http_request_respond(hr, 200, strdup(""));
    return;
  }
  struct oai_error e;
  oai_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "Invalid URL (%s /)",
                http_request_method(hr));
  http_request_respond_error(hr, &e);
}

/* ---- Anthropic Messages ---- */

static void anthropic_error(struct http_request *hr, const struct oai_error *e) {
  int status;
  char *body = messages_error_json(e, &status);
  if (!body) {
    http_request_respond_error(hr, e);
    return;
  }
  if (e->retry_after[0])
    http_request_add_header(hr, "Retry-After", e->retry_after);
  http_request_respond(hr, status, body);
}

void handle_messages(struct http_request *hr, const char *subpath) {
  (void)subpath;
  const char *token = dialect_token(hr, anthropic_error);
  if (!token)
    return;
  size_t len;
  const char *body = http_request_body(hr, &len);
  const struct config *cfg = http_request_config(hr);
  struct chat_request req;
  struct oai_error e;
  if (messages_request_parse(body, len, cfg->model, &cfg->extra_models, 0, &req, &e) != 0) {
    anthropic_error(hr, &e);
    return;
  }
  struct encoder enc;
  if (encoder_messages(&enc) != 0) {
    chat_request_free(&req);
    oom(hr, anthropic_error);
    return;
  }
  start(hr, &req, token, &enc, anthropic_error);
}

/* The local estimate of the prompt the model would see; no upstream call. */
void handle_count_tokens(struct http_request *hr, const char *subpath) {
  (void)subpath;
  if (!dialect_token(hr, anthropic_error))
    return;
  size_t len;
  const char *body = http_request_body(hr, &len);
  const struct config *cfg = http_request_config(hr);
  struct chat_request req;
  struct oai_error e;
  if (messages_request_parse(body, len, cfg->model, &cfg->extra_models, 1, &req, &e) != 0) {
    anthropic_error(hr, &e);
    return;
  }
  struct buf prompt = BUF_INIT, out = BUF_INIT;
  int rc = prompt_render(cfg->prompt_format, &req, &prompt);
  long n = usage_estimate_tokens(prompt.data, prompt.len);
  chat_request_free(&req);
  buf_free(&prompt);
  if (rc != 0 || buf_printf(&out, "{\"input_tokens\":%ld}", n) != 0) {
    buf_free(&out);
    oom(hr, anthropic_error);
    return;
  }
  http_request_respond(hr, 200, buf_take(&out));
}
