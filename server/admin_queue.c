#include "admin_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../shared/keys.h"
#include "admin.h"
#include "http.h"
#include "worker.h"

/* One worker's mailbox: jobs done by the store thread, to answer there. */
struct mailbox {
  struct mailbox *next;
  struct worker *w;
  int fd;
  struct loop_watch watch;
  struct job *done;
};

struct job {
  struct job *next;
  struct http_request *hr; /* NULL once the client is gone (worker thread only) */
  struct mailbox *box;
  char op[32];
  cJSON *args;
  char self[KEYS_TOKEN_LEN + 1];
  int has_self;
  int status;
  char *body;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int started, stopping;
  struct job *head, **tail;
  struct mailbox *boxes;
} Q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void job_free(struct job *j) {
  cJSON_Delete(j->args);
  free(j->body);
  free(j);
}

/* Worker thread: answer every finished job of this worker. */
static void on_mail(struct loop *l, uint32_t events, void *ud) {
  (void)l;
  (void)events;
  struct mailbox *box = ud;
  uint64_t v;
  if (read(box->fd, &v, sizeof v) < 0 && errno != EAGAIN)
    log_msg(LOG_WARN, "admin: mailbox read failed");
  pthread_mutex_lock(&Q.mu);
  struct job *j = box->done;
  box->done = NULL;
  pthread_mutex_unlock(&Q.mu);
  while (j) {
    struct job *next = j->next;
    if (j->hr) {
      http_request_on_done(j->hr, NULL, NULL);
      http_request_respond(j->hr, j->body ? j->status : 500, j->body);
      j->body = NULL;
      http_request_wake(j->hr);
    }
    job_free(j);
    j = next;
  }
}

/* Worker thread: the request ended before its answer came. */
static void on_request_gone(struct http_request *hr, void *ctx) {
  (void)hr;
  struct job *j = ctx;
  j->hr = NULL;
}

static void *store_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&Q.mu);
  for (;;) {
    while (!Q.head && !Q.stopping)
      pthread_cond_wait(&Q.cv, &Q.mu);
    struct job *j = Q.head;
    if (!j)
      break; /* stopping and nothing left */
    Q.head = j->next;
    if (!Q.head)
      Q.tail = &Q.head;
    pthread_mutex_unlock(&Q.mu);
    j->body = admin_execute(j->op, j->args, j->has_self ? j->self : NULL, &j->status);
    pthread_mutex_lock(&Q.mu);
    j->next = j->box->done;
    j->box->done = j;
    uint64_t one = 1;
    if (write(j->box->fd, &one, sizeof one) < 0)
      log_msg(LOG_WARN, "admin: cannot wake a worker");
  }
  pthread_mutex_unlock(&Q.mu);
  return NULL;
}

/* The worker's mailbox, made on its first admin call (on its own thread, so
 * its loop is only touched there). Called with Q.mu held. */
static struct mailbox *mailbox_for(struct worker *w) {
  for (struct mailbox *b = Q.boxes; b; b = b->next)
    if (b->w == w)
      return b;
  struct mailbox *b = calloc(1, sizeof *b);
  if (!b)
    return NULL;
  b->w = w;
  b->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  loop_watch_init(&b->watch, b->fd, on_mail, b);
  if (b->fd < 0 || loop_watch_set(&w->loop, &b->watch, EPOLLIN) != 0) {
    if (b->fd >= 0)
      close(b->fd);
    free(b);
    return NULL;
  }
  b->next = Q.boxes;
  Q.boxes = b;
  return b;
}

int admin_queue_submit(struct http_request *hr, const char *op, cJSON *args,
                       const char *self_token) {
  struct job *j = calloc(1, sizeof *j);
  if (!j || strlen(op) >= sizeof j->op) {
    free(j);
    cJSON_Delete(args);
    return -1;
  }
  j->hr = hr;
  j->args = args;
  memcpy(j->op, op, strlen(op) + 1);
  if (self_token) {
    j->has_self = 1;
    snprintf(j->self, sizeof j->self, "%s", self_token);
  }
  pthread_mutex_lock(&Q.mu);
  j->box = mailbox_for(http_request_worker(hr));
  if (j->box && !Q.started && !Q.stopping) {
    Q.tail = &Q.head;
    Q.started = pthread_create(&Q.thread, NULL, store_thread, NULL) == 0;
  }
  if (!j->box || !Q.started || Q.stopping) {
    pthread_mutex_unlock(&Q.mu);
    job_free(j);
    return -1;
  }
  *Q.tail = j;
  Q.tail = &j->next;
  pthread_cond_signal(&Q.cv);
  pthread_mutex_unlock(&Q.mu);
  http_request_on_done(hr, on_request_gone, j);
  return 0;
}

void admin_queue_stop(void) {
  pthread_mutex_lock(&Q.mu);
  Q.stopping = 1;
  pthread_cond_signal(&Q.cv);
  int started = Q.started;
  pthread_mutex_unlock(&Q.mu);
  if (started)
    pthread_join(Q.thread, NULL);
  Q.started = 0;
  /* The workers are gone: nobody reads the mailboxes any more. */
  while (Q.boxes) {
    struct mailbox *b = Q.boxes;
    Q.boxes = b->next;
    while (b->done) {
      struct job *j = b->done;
      b->done = j->next;
      job_free(j);
    }
    close(b->fd);
    free(b);
  }
}
