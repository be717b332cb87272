#ifndef MAILBOX_H
#define MAILBOX_H

/* A per-worker mailbox: a background thread posts finished work, the
 * worker's loop is woken through an eventfd and handles it on its own
 * thread. Shared by the admin store queue and the Redis limits client. */

#include <pthread.h>

#include "loop.h"

struct worker;

/* Embedded in a job: its link in a mailbox (apart from any queue link). */
struct mail {
  struct mail *next;
};

typedef void (*mail_fn)(struct mail *m);

/* All mailboxes of one user. `mu` is the user's own mutex: it guards the
 * list of boxes and every box's mail (held by mailbox_for and mailbox_post,
 * taken by the drain on the worker). */
struct mailbox_set {
  pthread_mutex_t *mu;
  const char *tag;  /* for log lines */
  mail_fn deliver;  /* on the worker thread, without mu; owns the mail */
  struct mailbox *boxes;
};

struct mailbox {
  struct mailbox *next;
  struct mailbox_set *set;
  struct worker *w;
  int fd;
  struct loop_watch watch;
  struct mail *done;
};

/* The worker's mailbox, made on its first call (on its own thread, so its
 * loop is only touched there). Call with set->mu held. NULL on failure. */
struct mailbox *mailbox_for(struct mailbox_set *set, struct worker *w);

/* From any thread, with set->mu held: hand `m` to the box's worker. */
void mailbox_post(struct mailbox *box, struct mail *m);

/* At shutdown, once no worker runs: free every box; `discard` frees the
 * mail nobody will read. */
void mailbox_free_all(struct mailbox_set *set, mail_fn discard);

#endif
