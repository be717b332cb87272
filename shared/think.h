/* Splits thinking-mode output into reasoning and content, fed in pieces:
 * everything before the first "</think>" is reasoning (a leading "<think>"
 * is stripped), the rest is content. Text that could still be the start of
 * "</think>" is held back; the markers never reach the caller. */
#ifndef RP_THINK_H
#define RP_THINK_H

#include <stddef.h>

#include "buf.h"

enum think_part { THINK_REASONING, THINK_CONTENT };

/* Return 0 to go on; non-zero stops the feed and is returned by it. */
typedef int (*think_cb)(void *ud, enum think_part part, const char *text,
                        size_t len);

struct think_splitter {
  int state;       /* private */
  struct buf held; /* private: a possible marker prefix */
  size_t reasoning_bytes; /* reasoning text released so far */
};

void think_init(struct think_splitter *t);
void think_free(struct think_splitter *t);
/* Returns 0, the callback's non-zero value, or -1 (out of memory). */
int think_feed(struct think_splitter *t, const char *data, size_t len,
               think_cb cb, void *ud);
/* End of output: release what is held (as the current part). */
int think_finish(struct think_splitter *t, think_cb cb, void *ud);

#endif
