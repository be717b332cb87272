/* OpenAI error objects: {"error":{"message","type","param","code"}}.
 * Every failure a client can see is described by one of these, filled in
 * where the failure is found and serialised in one place. */
#ifndef RP_OAI_ERROR_H
#define RP_OAI_ERROR_H

struct oai_error {
  int status;           /* HTTP status to answer with */
  char type[48];        /* e.g. "invalid_request_error", "server_error" */
  char code[48];        /* "" serialises as null */
  char param[128];      /* "" serialises as null */
  char message[1024];
  char retry_after[32]; /* "" = none; sent as Retry-After (429 from upstream) */
};

/* type/code/param may be NULL (serialised as null). The message is
 * printf-formatted and silently truncated to fit. */
void oai_error_set(struct oai_error *e, int status, const char *type,
                   const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Shorthand for the most common case: 400 invalid_request_error. */
#define oai_invalid(e, param, ...)                                             \
  oai_error_set((e), 400, "invalid_request_error", NULL, (param), __VA_ARGS__)

/* Serialise as the JSON body. Returns a malloc'd string or NULL (OOM). */
char *oai_error_json(const struct oai_error *e);

/* The same object as an SSE event for errors after the first byte:
 * "data: {...}\n\n" (no [DONE]). Malloc'd, or NULL. */
char *oai_error_sse(const struct oai_error *e);

#endif
