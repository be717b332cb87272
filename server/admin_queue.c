#include "admin_queue.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/keys.h"
#include "admin.h"
#include "http.h"
#include "mailbox.h"
#include "worker.h"

struct job {
  struct job *next;
  struct mail mail; /* its answer, back to its worker */
  struct http_request *hr; /* NULL once the client is gone (worker thread only) */
  struct mailbox *box;
  char op[32];
  cJSON *args;
  char self[KEYS_TOKEN_LEN + 1];
  int has_self;
  int status;
  char *body;
};

static void deliver(struct mail *m);

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int started, stopping;
  struct job *head, **tail;
  struct mailbox_set boxes;
} Q = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .boxes = {.mu = &Q.mu, .tag = "admin", .deliver = deliver}};

static void job_free(struct job *j) {
  cJSON_Delete(j->args);
  free(j->body);
  free(j);
}

static struct job *job_of(struct mail *m) {
  return (struct job *)(void *)((char *)m - offsetof(struct job, mail));
}

/* Worker thread: answer one finished job of this worker. */
static void deliver(struct mail *m) {
  struct job *j = job_of(m);
  if (j->hr) {
    http_request_on_done(j->hr, NULL, NULL);
    http_request_respond(j->hr, j->body ? j->status : 500, j->body);
    j->body = NULL;
    http_request_wake(j->hr);
  }
  job_free(j);
}

static void discard(struct mail *m) { job_free(job_of(m)); }

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
    mailbox_post(j->box, &j->mail);
  }
  pthread_mutex_unlock(&Q.mu);
  return NULL;
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
  j->box = mailbox_for(&Q.boxes, http_request_worker(hr));
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
  mailbox_free_all(&Q.boxes, discard);
}
