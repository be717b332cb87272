/* What happens to one choice's model output on its way to the client:
 *   raw output -> think splitter (thinking mode) -> reasoning | content
 *   content -> stop matcher -> tool-call parser (tools offered) -> text | calls
 *   text -> JSON-mode buffer (response_format) | the client
 * Pure: bytes in, typed events to an encoder (streams: text, reasoning,
 * calls; see dialects/encoder.h) or a result (non-streaming) out, fed in
 * any chunking. One pipeline per choice. */
#ifndef RP_PIPELINE_H
#define RP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "chat_request.h"
#include "dialects/encoder.h"
#include "oai_error.h"
#include "response.h"

enum pipeline_kind { PIPE_CHAT, PIPE_TEXT };

struct pipeline_opts {
  enum pipeline_kind kind;
  int stream;   /* append chunk events to `out`; else keep the result */
  int index;    /* the choice index in chunks */
  int thinking; /* split reasoning from content */
  const char *const *stops; /* borrowed (must outlive the pipeline) */
  size_t n_stops;
  const struct chat_request *req; /* tools and JSON mode (NULL: none) */
  uint64_t id_seed; /* tool call ids come from this (getrandom in the server) */
  /* Where stream events go (borrowed); NULL: Chat Completions chunks
   * (PIPE_CHAT) or text completion events (PIPE_TEXT). */
  const struct encoder *enc;
  const char *call_id_prefix; /* NULL: "call_" */
};

struct pipeline;

struct pipeline *pipeline_new(const struct pipeline_opts *o);
void pipeline_free(struct pipeline *p);

/* Raw model output. Streams append their chunks to out. Returns 0, 1 when
 * a stop sequence matched (the rest of the output is not wanted), or -1
 * when out of memory. */
int pipeline_feed(struct pipeline *p, const char *text, size_t len,
                  struct buf *out, const struct response_meta *m);

/* End of output: flush every stage. Returns 0, -1 (out of memory), or -2
 * when JSON mode could not produce valid JSON (err says why). */
int pipeline_finish(struct pipeline *p, struct buf *out,
                    const struct response_meta *m, struct oai_error *err);

/* The output was cut by max_tokens: in JSON mode hand back what there is
 * (finish_reason "length") instead of failing. Call before finish. */
void pipeline_allow_truncated_json(struct pipeline *p);

/* After pipeline_finish. */
int pipeline_stop_matched(const struct pipeline *p);
/* The stop sequence that matched (one of opts.stops, borrowed), or NULL. */
const char *pipeline_matched_stop(const struct pipeline *p);
/* "tool_calls"/"function_call" when calls were made, else NULL. */
const char *pipeline_call_finish_reason(const struct pipeline *p);
/* Bytes of reasoning and of everything else the model produced. */
size_t pipeline_reasoning_bytes(const struct pipeline *p);
/* Fill the message fields of a non-streaming result (pointers into p). */
void pipeline_result(struct pipeline *p, struct choice_result *r);

#endif
