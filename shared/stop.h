/* Stop-sequence matcher for text that arrives in pieces. It releases text as
 * soon as it can no longer be part of a match and holds back only the
 * longest suffix that is a prefix of some stop sequence. */
#ifndef RP_STOP_H
#define RP_STOP_H

#include <stddef.h>

#include "buf.h"

#define STOP_MAX_SEQUENCES 8

struct stop_matcher {
  const char *stops[STOP_MAX_SEQUENCES]; /* borrowed; must outlive matcher */
  size_t stop_len[STOP_MAX_SEQUENCES];
  size_t n;
  struct buf held; /* text not yet released */
  int matched;
  /* private: streaming KMP, one automaton per stop sequence */
  size_t *fail;                        /* all failure tables, one block;
                                          NULL until a byte could start a stop */
  size_t fail_off[STOP_MAX_SEQUENCES]; /* where each stop's table starts */
  size_t fail_total;                   /* entries in that block */
  /* state[k]: longest suffix of the stream that is a prefix of stops[k];
   * held.len is their maximum */
  size_t state[STOP_MAX_SEQUENCES];
  size_t pending; /* offset in held of a complete match that an earlier-
                     starting longer stop may still beat; (size_t)-1 if none */
  unsigned char first[32]; /* bit set: the bytes some stop starts with */
};

/* Empty strings in stops are ignored. Returns 0, or -1 if there are more
 * than STOP_MAX_SEQUENCES non-empty stops. Either way stop_matcher_free may
 * be called. The matching tables are built by the first push that meets a
 * byte some stop starts with (most replies never do), and memory running
 * out then is that push's -1. */
int stop_matcher_init(struct stop_matcher *m, const char *const *stops,
                      size_t n);
void stop_matcher_free(struct stop_matcher *m);

/* Feed text; append releasable text to out. Returns 1 when a stop sequence
 * matched (out then ends right before the earliest match and later pushes
 * release nothing), 0 when not, -1 when out of memory. */
int stop_matcher_push(struct stop_matcher *m, const char *text, size_t len,
                      struct buf *out);
/* End of text: release whatever is held. Returns 0 or -1. One exception:
 * when one stop occurs inside another (stops "bc" and "abcd", text ends
 * "abc"), the held text may contain a complete match whose earliest-start
 * status was still open; it is now settled, so out ends before it and
 * m->matched is set (the return value is still 0). */
int stop_matcher_finish(struct stop_matcher *m, struct buf *out);

#endif
