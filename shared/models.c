#include "models.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

/* What a missing configured model means: the one the proxy is built for. */
#define DEFAULT_MODEL "deepseek-ai/deepseek-v3.1"
/* 2025-08-21, DeepSeek-V3.1's release: a fixed `created` keeps the listing
 * stable across restarts. */
#define MODEL_CREATED 1755734400

/* Every name a client may send; all route to the configured model.
 * deepseek-chat / deepseek-reasoner are DeepSeek's own API names for the
 * same V3.1 model without / with thinking (openai-api.md §8); a request's
 * reasoning_effort overrides the alias either way. */
static const struct model_alias aliases[] = {
    {"deepseek-v3.1", 0},
    {"deepseek-chat", 0},
    {"deepseek-reasoner", 1},
    {"deepseek-ai/deepseek-v3.1", 0},
};
#define N_ALIASES (sizeof aliases / sizeof aliases[0])

/* Returned for the configured model's own name when the table lacks it. */
static const struct model_alias configured_row = {"configured", 0};

static const char *configured_or_default(const char *configured_model) {
  return configured_model && configured_model[0] ? configured_model
                                                 : DEFAULT_MODEL;
}

static const struct model_alias *table_find(const char *name) {
  for (size_t i = 0; i < N_ALIASES; i++)
    if (strcmp(aliases[i].id, name) == 0)
      return &aliases[i];
  return NULL;
}

const struct model_alias *models_resolve(const char *name,
                                         const char *configured_model) {
  if (!name)
    return NULL;
  const struct model_alias *row = table_find(name);
  if (row)
    return row;
  if (strcmp(name, configured_or_default(configured_model)) == 0)
    return &configured_row;
  return NULL;
}

/* {"id","object":"model","created","owned_by"}; owner is the part of the
 * Replicate name before '/' ("replicate" when there is none). */
static cJSON *model_object(const char *id, const char *configured_model) {
  const char *conf = configured_or_default(configured_model);
  const char *slash = strchr(conf, '/');
  char *owner = slash && slash > conf ? strndup(conf, (size_t)(slash - conf))
                                      : strdup("replicate");
  cJSON *obj = cJSON_CreateObject();
  if (!owner || !obj || !cJSON_AddStringToObject(obj, "id", id) ||
      !cJSON_AddStringToObject(obj, "object", "model") ||
      !cJSON_AddNumberToObject(obj, "created", MODEL_CREATED) ||
      !cJSON_AddStringToObject(obj, "owned_by", owner)) {
    cJSON_Delete(obj);
    obj = NULL;
  }
  free(owner);
  return obj;
}

static int add_model(cJSON *data, const char *id,
                     const char *configured_model) {
  cJSON *obj = model_object(id, configured_model);
  if (!obj)
    return -1;
  cJSON_AddItemToArray(data, obj);
  return 0;
}

char *models_list_json(const char *configured_model) {
  const char *conf = configured_or_default(configured_model);
  char *out = NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root || !cJSON_AddStringToObject(root, "object", "list"))
    goto done;
  cJSON *data = cJSON_AddArrayToObject(root, "data");
  if (!data)
    goto done;
  for (size_t i = 0; i < N_ALIASES; i++)
    if (add_model(data, aliases[i].id, conf) != 0)
      goto done;
  if (!table_find(conf) && add_model(data, conf, conf) != 0)
    goto done;
  out = cJSON_PrintUnformatted(root);
done:
  cJSON_Delete(root);
  return out;
}

char *models_get_json(const char *id, const char *configured_model) {
  if (!models_resolve(id, configured_model))
    return NULL;
  cJSON *obj = model_object(id, configured_model);
  if (!obj)
    return NULL;
  char *out = cJSON_PrintUnformatted(obj);
  cJSON_Delete(obj);
  return out;
}
