#include "mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

/* Worker thread: take the box's mail under the lock, deliver it without. */
static void on_mail(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct mailbox *box = ud;
  uint64_t v;
  if (read(box->fd, &v, sizeof v) < 0 && errno != EAGAIN)
    log_msg(LOG_WARN, "%s: mailbox read failed", box->set->tag);
  pthread_mutex_lock(box->set->mu);
  struct mail *m = box->done;
  box->done = NULL;
  pthread_mutex_unlock(box->set->mu);
  while (m) {
    struct mail *next = m->next;
    box->set->deliver(m);
    m = next;
  }
}

struct mailbox *mailbox_for(struct mailbox_set *set, struct worker *w) {
  for (struct mailbox *b = set->boxes; b; b = b->next)
    if (b->w == w)
      return b;
  struct mailbox *b = calloc(1, sizeof *b);
  if (!b)
    return NULL;
  b->set = set;
  b->w = w;
  b->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  loop_watch_init(&b->watch, b->fd, on_mail, b);
  if (b->fd < 0 || loop_watch_set(&w->loop, &b->watch, EPOLLIN) != 0) {
    if (b->fd >= 0)
      close(b->fd);
    free(b);
    return NULL;
  }
  b->next = set->boxes;
  set->boxes = b;
  return b;
}

void mailbox_post(struct mailbox *box, struct mail *m) {
  m->next = box->done;
  box->done = m;
  uint64_t one = 1;
  if (write(box->fd, &one, sizeof one) < 0)
    log_msg(LOG_WARN, "%s: cannot wake a worker", box->set->tag);
}

void mailbox_free_all(struct mailbox_set *set, mail_fn discard) {
  while (set->boxes) {
    struct mailbox *b = set->boxes;
    set->boxes = b->next;
    while (b->done) {
      struct mail *m = b->done;
      b->done = m->next;
      discard(m);
    }
    close(b->fd);
    free(b);
  }
}
