#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

uint64_t loop_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int loop_init(struct loop *l) {
  memset(l, 0, sizeof *l);
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  return l->epfd < 0 ? -1 : 0;
}

static void empty_graveyard(struct loop *l) {
  for (size_t i = 0; i < l->graveyard_len; i++)
    free(l->graveyard[i]);
  l->graveyard_len = 0;
}

int loop_defer_free(struct loop *l, void *p) {
  if (l->graveyard_len == l->graveyard_cap) {
    size_t cap = l->graveyard_cap ? l->graveyard_cap * 2 : 32;
    void **g = realloc(l->graveyard, cap * sizeof *g);
    if (!g) {
      free(p);
      return -1;
    }
    l->graveyard = g;
    l->graveyard_cap = cap;
  }
  l->graveyard[l->graveyard_len++] = p;
  return 0;
}

void loop_free(struct loop *l) {
  if (l->epfd >= 0)
    close(l->epfd);
  empty_graveyard(l);
  free(l->graveyard);
  free(l->heap);
  memset(l, 0, sizeof *l);
  l->epfd = -1;
}

void loop_watch_init(struct loop_watch *w, int fd, loop_fd_cb cb, void *ud) {
  w->fd = fd;
  w->cb = cb;
  w->ud = ud;
  w->registered = 0;
}

int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = w};
  int op = w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(l->epfd, op, w->fd, &ev) != 0)
    return -1;
  w->registered = 1;
  return 0;
}

void loop_watch_remove(struct loop *l, struct loop_watch *w) {
  if (!w->registered)
    return;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  w->registered = 0;
}

/* ---- timer heap (min-heap on due_ms) ---- */

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ud) {
  t->due_ms = 0;
  t->heap_index = SIZE_MAX;
  t->cb = cb;
  t->ud = ud;
}

int loop_timer_armed(const struct loop_timer *t) { return t->heap_index != SIZE_MAX; }

static void heap_place(struct loop *l, size_t i, struct loop_timer *t) {
  l->heap[i] = t;
  t->heap_index = i;
}

static void heap_up(struct loop *l, size_t i) {
  struct loop_timer *t = l->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (l->heap[parent]->due_ms <= t->due_ms)
      break;
    heap_place(l, i, l->heap[parent]);
    i = parent;
  }
  heap_place(l, i, t);
}

static void heap_down(struct loop *l, size_t i) {
  struct loop_timer *t = l->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= l->heap_len)
      break;
    if (child + 1 < l->heap_len && l->heap[child + 1]->due_ms < l->heap[child]->due_ms)
      child++;
    if (l->heap[child]->due_ms >= t->due_ms)
      break;
    heap_place(l, i, l->heap[child]);
    i = child;
  }
  heap_place(l, i, t);
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t) {
  if (!loop_timer_armed(t))
    return;
  size_t i = t->heap_index;
  struct loop_timer *last = l->heap[--l->heap_len];
  t->heap_index = SIZE_MAX;
  if (last == t)
    return;
  heap_place(l, i, last);
  heap_up(l, i);
  heap_down(l, last->heap_index);
}

int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms) {
  loop_timer_disarm(l, t);
  if (l->heap_len == l->heap_cap) {
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
    struct loop_timer **h = realloc(l->heap, cap * sizeof *h);
    if (!h)
      return -1;
    l->heap = h;
    l->heap_cap = cap;
  }
  t->due_ms = loop_now_ms() + delay_ms;
  heap_place(l, l->heap_len++, t);
  heap_up(l, t->heap_index);
  return 0;
}

static void run_due_timers(struct loop *l) {
  uint64_t now = loop_now_ms();
  while (l->heap_len && l->heap[0]->due_ms <= now) {
    struct loop_timer *t = l->heap[0];
    loop_timer_disarm(l, t);
    t->cb(l, t); /* may re-arm t or free its owner */
  }
}

int loop_run_once(struct loop *l, int max_wait_ms) {
  int wait = max_wait_ms;
  if (l->heap_len) {
    uint64_t now = loop_now_ms(), due = l->heap[0]->due_ms;
    int until = due <= now ? 0 : (due - now > 60000 ? 60000 : (int)(due - now));
    if (wait < 0 || until < wait)
      wait = until;
  }
  struct epoll_event events[256];
  int n = epoll_wait(l->epfd, events, 256, wait);
  if (n < 0)
    return errno == EINTR ? 0 : -1;
  for (int i = 0; i < n; i++) {
    struct loop_watch *w = events[i].data.ptr;
    if (w->cb)
      w->cb(l, events[i].events, w->ud);
    if (l->after_event)
      l->after_event(l->after_event_ud);
  }
  empty_graveyard(l);
  run_due_timers(l);
  empty_graveyard(l);
  return 0;
}
