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
#include "gateway.h"
#include "http.h"
#include "routes.h"

/* Errors go through http_request_respond_error: the Messages handlers set
 * their error format first, so every answer there is in Anthropic's shape. */
static void oom(struct http_request *hr) {
  struct oai_error e;
  oai_error_set(&e, 500, "server_error", "internal_error", NULL, "out of memory");
  http_request_respond_error(hr, &e);
}

/* Admit (model access, limits, budget: the same gateway as chat), then
 * start the exchange; on failure everything given is freed and answered. */
static void start(struct http_request *hr, struct admission *adm, struct chat_request *req,
                  struct encoder *enc) {
  size_t len;
  const char *body = http_request_body(hr, &len);
  struct gateway_request gr = {req->model, req->has & HAS_MAX_TOKENS ? req->max_tokens : 0, 1,
                               req->stream, body, len};
  if (gateway_admit(hr, adm, &gr) != 0) {
    encoder_free(enc);
    chat_request_free(req);
    return;
  }
  struct exchange *ex = exchange_start_with(http_request_worker(hr), hr, req,
                                            gateway_upstream_token(adm), enc);
  if (ex) {
    http_request_attach(hr, ex);
    return;
  }
  chat_request_free(req);
  oom(hr);
}

void handle_responses(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct admission *adm = gateway_authorize(hr, "/v1/responses");
  if (!adm)
    return;
  size_t len;
  const char *body = http_request_body(hr, &len);
  const struct config *cfg = http_request_config(hr);
  char scope[KEYS_TOKEN_LEN + 1];
  struct responses_request req;
  struct oai_error e;
  if (gateway_scope(hr, adm, scope) != 0) {
    oom(hr);
    return;
  }
  if (responses_request_parse(body, len, cfg->model, &cfg->extra_models, scope, &req, &e) != 0) {
    http_request_respond_error(hr, &e);
    return;
  }
  struct encoder enc;
  int rc = encoder_responses(&enc, req.history, req.store, scope);
  req.history = NULL; /* the encoder owns it now */
  if (rc != 0) {
    responses_request_free(&req);
    oom(hr);
    return;
  }
  start(hr, adm, &req.chat, &enc);
}

/* Claude Code probes the base URL with HEAD / before its first request
 * (the front presents HEAD as GET); GET / stays a 404. */
void handle_root(struct http_request *hr, const char *subpath) {
  (void)subpath;
  if (http_request_is_head(hr)) {
    http_request_respond(hr, 200, strdup(""));
    return;
  }
  routes_respond_not_found(hr);
}

/* ---- Anthropic Messages ---- */

/* What both Messages routes do first: Anthropic-shaped errors (gateway
 * refusals too), the key, then the body parsed into req. The admission, or
 * NULL once the request was answered. */
static struct admission *messages_begin(struct http_request *hr, const char *route,
                                        int count_only, struct chat_request *req) {
  http_request_set_error_format(hr, messages_error_json);
  struct admission *adm = gateway_authorize(hr, route);
  if (!adm)
    return NULL;
  size_t len;
  const char *body = http_request_body(hr, &len);
  const struct config *cfg = http_request_config(hr);
  struct oai_error e;
  if (messages_request_parse(body, len, cfg->model, &cfg->extra_models, count_only, req, &e) !=
      0) {
    http_request_respond_error(hr, &e);
    return NULL;
  }
  return adm;
}

void handle_messages(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct chat_request req;
  struct admission *adm = messages_begin(hr, "/v1/messages", 0, &req);
  if (!adm)
    return;
  struct encoder enc;
  if (encoder_messages(&enc) != 0) {
    chat_request_free(&req);
    oom(hr);
    return;
  }
  start(hr, adm, &req, &enc);
}

/* The local estimate of the prompt the model would see; no upstream call. */
void handle_count_tokens(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct chat_request req;
  if (!messages_begin(hr, "/v1/messages/count_tokens", 1, &req))
    return;
  const struct config *cfg = http_request_config(hr);
  struct buf prompt = BUF_INIT, out = BUF_INIT;
  int rc = prompt_render(cfg->prompt_format, &req, &prompt);
  long n = usage_estimate_tokens(prompt.data, prompt.len);
  chat_request_free(&req);
  buf_free(&prompt);
  if (rc != 0 || buf_printf(&out, "{\"input_tokens\":%ld}", n) != 0) {
    buf_free(&out);
    oom(hr);
    return;
  }
  http_request_respond(hr, 200, buf_take(&out));
}
