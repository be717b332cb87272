#include "../../shared/prediction_list.h"

#include "test.h"

#define BODY "{\"input\":{\"prompt\":\"hi\",\"max_tokens\":5}}"
#define ITEM(id, at, input)                                                       \
  "{\"id\":\"" id "\",\"status\":\"processing\",\"created_at\":\"" at "\","      \
  "\"input\":" input ",\"urls\":{\"get\":\"http://x/v1/predictions/" id "\"}}"
#define SAME "{\"max_tokens\":5,\"prompt\":\"hi\"}"
#define OTHER "{\"prompt\":\"hi!\",\"max_tokens\":5}"

/* 2024-10-04T18:07:40.000Z */
static const long long T0 = 1728065260000LL;

static void times(void) {
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40Z"), T0);
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40.328Z"), T0 + 328);
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40.328123456Z"), T0 + 328);
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40.3+00:00"), T0 + 300);
  CHECK_INT(prediction_time_ms("2024-10-04 18:07:40Z"), -1);
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40.Z"), -1);
  CHECK_INT(prediction_time_ms("2024-10-04T18:07:40+02:00"), -1);
  CHECK_INT(prediction_time_ms(NULL), -1);
}

static void find(void) {
  struct prediction p;
  int covered;
  /* Newest first: the oldest matching entry inside the window wins. */
  const char *list = "{\"next\":null,\"results\":["
      ITEM("newer", "2024-10-04T18:07:42.000Z", SAME) ","
      ITEM("other", "2024-10-04T18:07:41.500Z", OTHER) ","
      ITEM("ours", "2024-10-04T18:07:41.000Z", SAME) ","
      ITEM("old", "2024-10-04T18:07:30.000Z", SAME) "]}";
  CHECK_INT(prediction_list_find(list, strlen(list), BODY, T0, 0, NULL, 0, &p, &covered), 1);
  CHECK(p.id && strcmp(p.id, "ours") == 0);
  CHECK(p.url_get && strcmp(p.url_get, "http://x/v1/predictions/ours") == 0);
  CHECK_INT(p.status, PRED_PROCESSING);
  CHECK_INT(covered, 1);
  prediction_free(&p);

  /* Ids the request owns already are skipped. */
  const char *mine[] = {"ours"};
  CHECK_INT(prediction_list_find(list, strlen(list), BODY, T0, 0, mine, 1, &p, &covered), 1);
  CHECK(p.id && strcmp(p.id, "newer") == 0);
  prediction_free(&p);

  /* A window that ends before "ours": only "old"'s side of it counts, and
   * "newer" is past its end (an identical prediction made later). */
  CHECK_INT(prediction_list_find(list, strlen(list), BODY, T0 - 20000, T0 + 500, NULL, 0, &p,
                                 &covered), 1);
  CHECK(p.id && strcmp(p.id, "old") == 0);
  prediction_free(&p);
  CHECK_INT(prediction_list_find(list, strlen(list), BODY, T0, T0 + 1500, NULL, 0, &p, &covered),
            1);
  CHECK(p.id && strcmp(p.id, "ours") == 0);
  prediction_free(&p);
  CHECK_INT(prediction_list_find(list, strlen(list), BODY, T0 + 1100, T0 + 1900, NULL, 0, &p,
                                 &covered), 0);
  CHECK_INT(covered, 1);

  /* Absent, and the page reaches past the window: proven absent. */
  const char *none = "{\"next\":\"http://x/v1/predictions?cursor=abc\",\"results\":["
      ITEM("other", "2024-10-04T18:07:41.500Z", OTHER) ","
      ITEM("old", "2024-10-04T18:07:30.000Z", SAME) "]}";
  CHECK_INT(prediction_list_find(none, strlen(none), BODY, T0, 0, NULL, 0, &p, &covered), 0);
  CHECK_INT(covered, 1);
  CHECK(p.id == NULL);

  /* Absent, but the page ends inside the window with more to come. */
  const char *partial = "{\"next\":\"http://x/v1/predictions?cursor=abc\",\"results\":["
      ITEM("other", "2024-10-04T18:07:41.500Z", OTHER) "]}";
  CHECK_INT(prediction_list_find(partial, strlen(partial), BODY, T0, 0, NULL, 0, &p, &covered), 0);
  CHECK_INT(covered, 0);

  /* An empty list with no next page: absent. */
  const char *empty = "{\"next\":null,\"previous\":null,\"results\":[]}";
  CHECK_INT(prediction_list_find(empty, strlen(empty), BODY, T0, 0, NULL, 0, &p, &covered), 0);
  CHECK_INT(covered, 1);

  /* Not a list; a body without input. */
  CHECK_INT(prediction_list_find("{\"id\":\"x\"}", 10, BODY, T0, 0, NULL, 0, &p, &covered), -1);
  CHECK_INT(prediction_list_find("nope", 4, BODY, T0, 0, NULL, 0, &p, &covered), -1);
  CHECK_INT(prediction_list_find(empty, strlen(empty), "{}", T0, 0, NULL, 0, &p, &covered), -1);
}

void suite_prediction_list(void) {
  times();
  find();
}
