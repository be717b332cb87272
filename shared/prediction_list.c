#include "prediction_list.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long long prediction_time_ms(const char *iso) {
  if (!iso)
    return -1;
  int y, mo, d, h, mi, s, used = 0;
  if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 ||
      used != 19)
    return -1;
  const char *p = iso + used;
  long long ms = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3)
        ms = ms * 10 + (*p - '0');
    if (digits == 0)
      return -1;
    for (; digits < 3; digits++)
      ms *= 10;
  }
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi, .tm_sec = s};
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return -1;
  return (long long)t * 1000 + ms;
}

static int excluded(const char *id, const char *const *exclude, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (exclude[i] && strcmp(exclude[i], id) == 0)
      return 1;
  return 0;
}

int prediction_list_find(const char *json, size_t len, const char *create_body,
                         long long since_ms, long long until_ms, const char *const *exclude,
                         size_t n_exclude, struct prediction *out, int *covered) {
  memset(out, 0, sizeof *out);
  *covered = 0;
  cJSON *body = cJSON_Parse(create_body ? create_body : "");
  cJSON *list = cJSON_ParseWithLength(json ? json : "", len);
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
  const cJSON *results = cJSON_GetObjectItemCaseSensitive(list, "results");
  int rc = -1;
  if (!input || !cJSON_IsArray(results))
    goto done;
  const cJSON *next = cJSON_GetObjectItemCaseSensitive(list, "next");
  *covered = !next || cJSON_IsNull(next);
  const cJSON *match = NULL, *item;
  cJSON_ArrayForEach(item, results) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(item, "created_at");
    long long at = cJSON_IsString(created) ? prediction_time_ms(created->valuestring) : -1;
    if (at >= 0 && at < since_ms) {
      *covered = 1; /* newest first: the rest is older still */
      break;
    }
    if (until_ms > 0 && at > until_ms)
      continue; /* made after ours could have been */
    if (cJSON_IsString(id) && !excluded(id->valuestring, exclude, n_exclude) &&
        cJSON_Compare(input, cJSON_GetObjectItemCaseSensitive(item, "input"), 1))
      match = item; /* keep going: the oldest match wins */
  }
  rc = 0;
  if (match) {
    char *text = cJSON_PrintUnformatted(match);
    rc = text && prediction_parse(text, strlen(text), out) == 0 ? 1 : -1;
    free(text);
  }
done:
  cJSON_Delete(body);
  cJSON_Delete(list);
  return rc;
}

char *prediction_list_next(const char *json, size_t len) {
  cJSON *list = cJSON_ParseWithLength(json ? json : "", len);
  const cJSON *next = cJSON_GetObjectItemCaseSensitive(list, "next");
  char *url = cJSON_IsString(next) && next->valuestring[0] ? strdup(next->valuestring) : NULL;
  cJSON_Delete(list);
  return url;
}
