/* One epoll event loop per worker thread, with a timer heap. Everything a
 * worker does (client connections, upstream transfers, timers) runs here. */
#ifndef RP_LOOP_H
#define RP_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

typedef void (*loop_fd_cb)(struct loop *l, uint32_t events, void *ud);

/* Registered with epoll; its address is the epoll data, so it must stay put
 * while registered. */
struct loop_watch {
  int fd;
  loop_fd_cb cb;
  void *ud;
  int registered;
};

struct loop_timer;
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t);

struct loop_timer {
  uint64_t due_ms;
  size_t heap_index; /* SIZE_MAX when not armed */
  loop_timer_cb cb;
  void *ud;
};

struct loop {
  int epfd;
  struct loop_timer **heap;
  size_t heap_len, heap_cap;
  void **graveyard; /* freed after the current batch of events */
  size_t graveyard_len, graveyard_cap;
  /* Run after each fd event's callback, outside every callback: work an
   * event made ready (a stream's token for its client) goes out at once
   * instead of waiting for the rest of the batch. NULL: nothing. */
  void (*after_event)(void *ud);
  void *after_event_ud;
};

/* The monotonic clock, in milliseconds: the one time source. */
uint64_t loop_now_ms(void);

int loop_init(struct loop *l);
void loop_free(struct loop *l);

void loop_watch_init(struct loop_watch *w, int fd, loop_fd_cb cb, void *ud);
/* Add or modify (events: EPOLLIN|EPOLLOUT|EPOLLRDHUP...). 0 or -1. */
int loop_watch_set(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_watch_remove(struct loop *l, struct loop_watch *w);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ud);
/* (Re)arm to fire once after delay_ms. 0 or -1 (OOM). */
int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
int loop_timer_armed(const struct loop_timer *t);

/* Free p after the current batch of events has been dispatched: a watch
 * removed by one callback may still be named by a later event of the same
 * batch. Set its cb to NULL so that event is skipped. Returns 0 or -1
 * (then p was freed at once). */
int loop_defer_free(struct loop *l, void *p);

/* Wait for events (at most max_wait_ms, -1 = until the next timer), then run
 * callbacks for ready fds and due timers. Returns 0 or -1 on epoll failure. */
int loop_run_once(struct loop *l, int max_wait_ms);

#endif
