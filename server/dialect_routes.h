/* Handlers of the other wire formats: the Responses API and Anthropic's
 * Messages API. Each parses its dialect into the one internal request and
 * starts the one exchange with its dialect's encoder. */
#ifndef RP_DIALECT_ROUTES_H
#define RP_DIALECT_ROUTES_H

struct http_request;

void handle_responses(struct http_request *hr, const char *subpath);
void handle_messages(struct http_request *hr, const char *subpath);
void handle_count_tokens(struct http_request *hr, const char *subpath);
/* HEAD / answers 200 (Claude Code's probe); GET / stays a 404. */
void handle_root(struct http_request *hr, const char *subpath);

#endif
