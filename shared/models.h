/* Model aliases: the one table of names clients may send. Every alias
 * routes to the configured Replicate model (config key `model`). */
#ifndef RP_MODELS_H
#define RP_MODELS_H

#include <stddef.h>

struct model_alias {
  const char *id; /* the name a client sends and /v1/models lists */
  int thinking;   /* 1: this alias turns the model's thinking input on */
};

/* Resolve a client's model name. The configured model's own full name
 * (e.g. "deepseek-ai/deepseek-v3.1") is always accepted even when it is
 * not in the table. Returns a row with static lifetime or, for the
 * configured name, a row whose id is a static "configured" marker; NULL
 * when the name is unknown. */
const struct model_alias *models_resolve(const char *name,
                                         const char *configured_model);

/* Bodies for GET /v1/models and GET /v1/models/{id} in OpenAI's shape
 * ({"object":"list","data":[{"id","object":"model","created","owned_by"}]}).
 * models_get_json returns NULL for an unknown id. Malloc'd. */
char *models_list_json(const char *configured_model);
char *models_get_json(const char *id, const char *configured_model);

#endif
