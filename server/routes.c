#include "routes.h"

#include <stdlib.h>
#include <string.h>

#include "../shared/chat_request.h"
#include "../shared/dialects/messages_request.h"
#include "../shared/completion_request.h"
#include "../shared/models.h"
#include "../shared/origin.h"
#include "dialect_routes.h"
#include "admin.h"
#include "exchange.h"
#include "gateway.h"
#include "http.h"
#include "key_snapshot.h"
#include "metrics_route.h"
#include "limits_redis.h"

typedef void (*route_fn)(struct http_request *hr, const char *subpath);

struct route {
  const char *method;
  const char *path;
  int prefix; /* path is a prefix; the rest is passed as subpath */
  route_fn handler;
};

static void handle_health(struct http_request *hr, const char *subpath);
static void handle_ready(struct http_request *hr, const char *subpath);
static void handle_models_list(struct http_request *hr, const char *subpath);
static void handle_models_get(struct http_request *hr, const char *subpath);
static void handle_chat(struct http_request *hr, const char *subpath);
static void handle_completions(struct http_request *hr, const char *subpath);

/* The one routing table. */
static const struct route ROUTES[] = {
    {"GET", "/health", 0, handle_health},
    {"GET", "/ready", 0, handle_ready},
    {"GET", "/v1/models", 0, handle_models_list},
    {"GET", "/v1/models/", 1, handle_models_get},
    {"POST", "/v1/chat/completions", 0, handle_chat},
    {"POST", "/v1/completions", 0, handle_completions},
    {"POST", "/v1/responses", 0, handle_responses},
    {"POST", "/v1/messages", 0, handle_messages},
    {"POST", "/v1/messages/count_tokens", 0, handle_count_tokens},
    {"GET", "/", 0, handle_root},
    /* The team gateway's admin API (LiteLLM's paths): admin.c. */
    {"POST", "/key/generate", 0, admin_handle},
    {"POST", "/key/update", 0, admin_handle},
    {"POST", "/key/delete", 0, admin_handle},
    {"POST", "/key/block", 0, admin_handle},
    {"POST", "/key/unblock", 0, admin_handle},
    {"POST", "/key/regenerate", 0, admin_handle},
    {"GET", "/key/info", 0, admin_handle},
    {"GET", "/key/list", 0, admin_handle},
    {"GET", "/spend/logs", 0, admin_handle},
    {"GET", "/global/spend/report", 0, admin_handle},
    {"GET", "/metrics", 0, metrics_route_handle},
};

#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

static void respond_simple_error(struct http_request *hr, int status,
                                 const char *type, const char *code,
                                 const char *message) {
  struct oai_error e;
  oai_error_set(&e, status, type, code, NULL, "%s", message);
  http_request_respond_error(hr, &e);
}


/* Does a route serve this path? Sets *rest to the part after a prefix. */
static int route_matches(const struct route *rt, const char *path, const char **rest) {
  size_t n = strlen(rt->path);
  if (rt->prefix ? strncmp(path, rt->path, n) != 0 || !path[n] : strcmp(path, rt->path) != 0)
    return 0;
  *rest = rt->prefix ? path + n : NULL;
  return 1;
}

static int add_headers(struct http_request *hr, const struct origin_header *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (http_request_add_header(hr, h[i].name, h[i].value) != 0)
      return -1;
  return 0;
}

/* Browser safety before any route runs (shared/origin.h): a foreign Host or
 * Origin is refused, an allowed Origin gets CORS headers, and OPTIONS (a
 * preflight) is answered here for every path. Returns 1 when answered. */
static int check_origin(struct http_request *hr, const char *method) {
  const char *origin = http_request_header(hr, "Origin");
  int preflight = strcmp(method, "OPTIONS") == 0;
  struct oai_error e;
  if (origin_check(http_request_config(hr), http_request_header(hr, "Host"), origin, &e) != 0) {
    http_request_respond_error(hr, &e);
    return 1;
  }
  struct origin_header h[ORIGIN_HEADERS_MAX];
  size_t n = 0;
  if (origin && preflight)
    n = origin_preflight_headers(
        origin, http_request_header(hr, "Access-Control-Request-Headers"), h);
  else if (origin)
    n = origin_reply_headers(origin, h);
  else if (preflight)
    h[n++] = (struct origin_header){"Allow", ORIGIN_ALLOWED_METHODS};
  if (add_headers(hr, h, n) != 0) {
    respond_simple_error(hr, 500, "server_error", "internal_error", "out of memory");
    return 1;
  }
  if (preflight)
    http_request_respond(hr, 204, strdup(""));
  return preflight;
}

void routes_dispatch(struct http_request *hr) {
  if (check_origin(hr, http_request_method(hr)))
    return;
  routes_redispatch(hr);
}

void routes_redispatch(struct http_request *hr) {
  const char *method = http_request_method(hr), *path = http_request_path(hr);
  /* Clients configured with a base URL lacking /v1 (".../chat/completions")
   * are served too. */
  char v1_path[HTTP_PATH_MAX + 3];
  int has_v1 = strncmp(path, "/v1/", 4) == 0;
  if (!has_v1) { /* built only when needed, and not by snprintf (~700 instructions) */
    size_t n = strnlen(path, sizeof v1_path - 4);
    memcpy(v1_path, "/v1", 3);
    memcpy(v1_path + 3, path, n);
    v1_path[3 + n] = '\0';
  }
  const char *const candidates[] = {path, has_v1 ? NULL : v1_path};
  const struct route *path_match = NULL;
  for (size_t c = 0; c < 2 && candidates[c]; c++) {
    for (size_t i = 0; i < N_ROUTES; i++) {
      const char *rest;
      if (!route_matches(&ROUTES[i], candidates[c], &rest))
        continue;
      path_match = &ROUTES[i];
      if (strcmp(method, ROUTES[i].method) == 0) {
        ROUTES[i].handler(hr, rest);
        return;
      }
    }
    if (path_match)
      break;
  }
  http_error_format_fn fmt = routes_error_format(path);
  if (fmt)
    http_request_set_error_format(hr, fmt);
  if (!path_match) {
    routes_respond_not_found(hr);
    return;
  }
  struct oai_error e;
  http_request_add_header(hr, "Allow", path_match->method);
  oai_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                "Method %s is not allowed for %s", method, path);
  http_request_respond_error(hr, &e);
}

/* "Invalid URL (GET /x). This server serves: POST /v1/chat/completions, ..."
 * built from ROUTES, so a client with a wrong base URL learns the right
 * paths. Only the /v1 API is listed: health and admin paths are for
 * operators, who have the README. */
void routes_respond_not_found(struct http_request *hr) {
  char list[640] = "";
  size_t used = 0;
  for (size_t i = 0; i < N_ROUTES; i++) {
    if (strncmp(ROUTES[i].path, "/v1/", 4) != 0)
      continue;
    int n = snprintf(list + used, sizeof list - used, "%s%s %s%s", used ? ", " : "",
                     ROUTES[i].method, ROUTES[i].path, ROUTES[i].prefix ? "{id}" : "");
    if (n < 0 || (size_t)n >= sizeof list - used)
      break; /* cannot happen with this table; the list stays whole up to here */
    used += (size_t)n;
  }
  /* The path is clipped so a long one cannot push the list out. */
  struct oai_error e;
  oai_error_set(&e, 404, "invalid_request_error", "not_found", NULL,
                "Invalid URL (%s %.200s). This server serves: %s", http_request_method(hr),
                http_request_path(hr), list);
  http_request_respond_error(hr, &e);
}

/* Anthropic clients parse errors in Anthropic's shape, so anything under
 * /v1/messages (a mistyped subpath, a GET, a too-large body) answers in it. */
http_error_format_fn routes_error_format(const char *path) {
  if (strncmp(path, "/v1/messages", 12) == 0 || strncmp(path, "/messages", 9) == 0)
    return messages_error_json;
  return NULL;
}

static void handle_health(struct http_request *hr, const char *subpath) {
  (void)subpath;
  http_request_respond(hr, 200, strdup("{\"status\":\"ok\"}"));
}

/* /health = the process is alive; /ready = send traffic here. Not ready
 * once SIGTERM is seen (draining, then stopping), so load balancers move
 * new requests elsewhere before the listener closes. */
static void handle_ready(struct http_request *hr, const char *subpath) {
  (void)subpath;
  const struct worker *w = http_request_worker(hr);
  const struct config *cfg = http_request_config(hr);
  if (atomic_load(&w->draining) || w->stopping) {
    respond_simple_error(hr, 503, "server_error", "shutting_down",
                         "The proxy is shutting down; send new requests to another instance");
    return;
  }
  /* The embedded database is this instance's own: unreadable, it cannot
   * serve keys. A shared one (PostgreSQL) down is down for every replica:
   * reported, not a reason for all of them to leave the pool at once
   * (the ledger queues meanwhile). Likewise an open circuit (every
   * instance sees the same Replicate) and Redis (redis_failure decides). */
  int shared_db = cfg->database_url && cfg->database_url[0];
  int db_ok = key_snapshot_store_ok();
  if (!db_ok && !shared_db) {
    respond_simple_error(hr, 503, "server_error", "database_unavailable",
                         "The proxy cannot read its database (keys and ledger)");
    return;
  }
  char body[256];
  int n = snprintf(body, sizeof body, "{\"status\":\"ready\"");
  enum circuit_state cs = circuit_state_get(w->up.circuit);
  if (cs != CIRCUIT_CLOSED)
    n += snprintf(body + n, sizeof body - (size_t)n, ",\"circuit\":\"%s\"",
                  circuit_state_name(cs));
  if (shared_db)
    n += snprintf(body + n, sizeof body - (size_t)n, ",\"database\":\"%s\"", db_ok ? "up" : "down");
  if (redis_limits_enabled())
    n += snprintf(body + n, sizeof body - (size_t)n, ",\"redis\":\"%s\",\"redis_failure\":\"%s\"",
                  redis_limits_down() ? "down" : "up", cfg->redis_fail_closed ? "closed" : "open");
  snprintf(body + n, sizeof body - (size_t)n, "}");
  http_request_respond(hr, 200, strdup(body));
}

static void handle_models_list(struct http_request *hr, const char *subpath) {
  (void)subpath;
  http_request_respond(hr, 200, models_list_json(http_request_config(hr)->model));
}

static void handle_models_get(struct http_request *hr, const char *subpath) {
  char *json = models_get_json(subpath, http_request_config(hr)->model);
  if (json) {
    http_request_respond(hr, 200, json);
    return;
  }
  struct oai_error e;
  oai_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                "The model '%s' does not exist", subpath);
  http_request_respond_error(hr, &e);
}

static void handle_chat(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct admission *adm = gateway_authorize(hr, "/v1/chat/completions");
  if (!adm)
    return;
  size_t body_len;
  const char *body = http_request_body(hr, &body_len);
  struct chat_request req;
  struct oai_error e;
  const struct config *cfg = http_request_config(hr);
  if (chat_request_parse(body, body_len, cfg->model, cfg->max_n, &req, &e) != 0) {
    http_request_respond_error(hr, &e);
    return;
  }
  struct gateway_request gr = {req.model, req.has & HAS_MAX_TOKENS ? req.max_tokens : 0,
                               req.n > 0 ? req.n : 1, req.stream, body, body_len};
  if (gateway_admit(hr, adm, &gr) != 0) {
    chat_request_free(&req);
    return;
  }
  struct exchange *ex = exchange_start(http_request_worker(hr), hr, &req,
                                       gateway_upstream_token(adm));
  if (ex) {
    http_request_attach(hr, ex);
  } else {
    chat_request_free(&req);
    respond_simple_error(hr, 500, "server_error", "internal_error", "out of memory");
  }
}

static void handle_completions(struct http_request *hr, const char *subpath) {
  (void)subpath;
  struct admission *adm = gateway_authorize(hr, "/v1/completions");
  if (!adm)
    return;
  size_t body_len;
  const char *body = http_request_body(hr, &body_len);
  struct completion_request req;
  struct oai_error e;
  const struct config *cfg = http_request_config(hr);
  if (completion_request_parse(body, body_len, cfg->model, cfg->max_n, &req, &e) != 0) {
    http_request_respond_error(hr, &e);
    return;
  }
  int per_prompt = req.base.n > 0 ? req.base.n : 1;
  struct gateway_request gr = {req.base.model,
                               req.base.has & HAS_MAX_TOKENS ? req.base.max_tokens : 0,
                               per_prompt * (int)req.n_prompts, req.base.stream, body, body_len};
  if (gateway_admit(hr, adm, &gr) != 0) {
    completion_request_free(&req);
    return;
  }
  struct exchange *ex = exchange_start_text(http_request_worker(hr), hr, &req,
                                            gateway_upstream_token(adm));
  if (ex) {
    http_request_attach(hr, ex);
  } else {
    completion_request_free(&req);
    respond_simple_error(hr, 500, "server_error", "internal_error", "out of memory");
  }
}

