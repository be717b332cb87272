#include "../../shared/models.h"

#include <stdlib.h>

#include "test.h"

#define CONF "deepseek-ai/deepseek-v3.1"
#define OBJ(id, owner)                                                         \
  "{\"id\":\"" id "\",\"object\":\"model\",\"created\":1755734400,"           \
  "\"owned_by\":\"" owner "\"}"

void suite_models(void) {
  const struct model_alias *a;
  char *s;

  TEST("resolve aliases");
  static const char *const names[] = {"deepseek-v3.1", "deepseek-chat",
                                      "deepseek-ai/deepseek-v3.1"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    a = models_resolve(names[i], CONF);
    CHECK(a != NULL);
    if (a) {
      CHECK_STR(a->id, names[i]);
      CHECK_INT(a->thinking, 0);
    }
    /* Aliases route to whatever model is configured. */
    CHECK(models_resolve(names[i], "acme/my-model") == a);
  }

  TEST("deepseek-reasoner turns thinking on");
  a = models_resolve("deepseek-reasoner", CONF);
  CHECK(a != NULL);
  if (a) {
    CHECK_STR(a->id, "deepseek-reasoner");
    CHECK_INT(a->thinking, 1);
  }
  CHECK(models_resolve("deepseek-reasoner", "acme/my-model") == a);
  CHECK(models_resolve("DeepSeek-Reasoner", CONF) == NULL);

  TEST("resolve unknown names");
  CHECK(models_resolve("gpt-4o", CONF) == NULL);
  CHECK(models_resolve("", CONF) == NULL);
  CHECK(models_resolve("DeepSeek-Chat", CONF) == NULL);
  CHECK(models_resolve("deepseek-v3.1 ", CONF) == NULL);
  CHECK(models_resolve(NULL, CONF) == NULL);
  CHECK(models_resolve("acme/my-model", CONF) == NULL);

  TEST("resolve the configured name");
  a = models_resolve("acme/my-model", "acme/my-model");
  CHECK(a != NULL);
  if (a) {
    CHECK_STR(a->id, "configured");
    CHECK_INT(a->thinking, 0);
  }
  CHECK(models_resolve("acme/my-mode", "acme/my-model") == NULL);
  /* Configured name that is also in the table: the table row. */
  a = models_resolve(CONF, CONF);
  CHECK(a != NULL && strcmp(a->id, CONF) == 0);
  /* No configured model means the default one. */
  CHECK(models_resolve(CONF, NULL) != NULL);

  TEST("list, default model");
  s = models_list_json(CONF);
  CHECK_STR(s, "{\"object\":\"list\",\"data\":[" OBJ("deepseek-v3.1", "deepseek-ai")
               "," OBJ("deepseek-chat", "deepseek-ai") ","
               OBJ("deepseek-reasoner", "deepseek-ai") ","
               OBJ("deepseek-ai/deepseek-v3.1", "deepseek-ai") "]}");
  free(s);
  s = models_list_json(NULL);
  CHECK(s && strstr(s, OBJ("deepseek-chat", "deepseek-ai")) != NULL);
  free(s);

  TEST("list, other configured model");
  s = models_list_json("acme/my-model");
  CHECK_STR(s, "{\"object\":\"list\",\"data\":[" OBJ("deepseek-v3.1", "acme")
               "," OBJ("deepseek-chat", "acme") "," OBJ("deepseek-reasoner", "acme")
               "," OBJ("deepseek-ai/deepseek-v3.1", "acme") ","
               OBJ("acme/my-model", "acme") "]}");
  free(s);
  s = models_list_json("bare-name");
  CHECK(s && strstr(s, OBJ("bare-name", "replicate")) != NULL);
  free(s);

  TEST("get");
  s = models_get_json("deepseek-chat", CONF);
  CHECK_STR(s, OBJ("deepseek-chat", "deepseek-ai"));
  free(s);
  s = models_get_json("deepseek-reasoner", CONF);
  CHECK_STR(s, OBJ("deepseek-reasoner", "deepseek-ai"));
  free(s);
  s = models_get_json("acme/my-model", "acme/my-model");
  CHECK_STR(s, OBJ("acme/my-model", "acme"));
  free(s);
  s = models_get_json("deepseek-v3.1", "acme/my-model");
  CHECK_STR(s, OBJ("deepseek-v3.1", "acme"));
  free(s);
  CHECK(models_get_json("gpt-4o", CONF) == NULL);
  CHECK(models_get_json("acme/my-model", CONF) == NULL);
  CHECK(models_get_json("", CONF) == NULL);
}
