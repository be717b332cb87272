#include "log.h"

#include "../shared/access_log.h" /* REQUEST_ID_MAX */

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by the main thread (startup, SIGHUP), read by every thread. */
static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_FORMAT_TEXT;
static _Thread_local char current_request[REQUEST_ID_MAX + 1];

#define LINE_MAX_BYTES 4096

/* A worker's lines, held until the end of its loop iteration (log_batch_flush):
 * one write for the lines of every request an iteration ended, not one a
 * request (each write to a pipe also wakes its reader: journald, docker,
 * the test harness). Other threads write each line at once. */
#define BATCH_BYTES 16384
static _Thread_local struct {
  int on;
  size_t len;
  char s[BATCH_BYTES];
} batch;

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
void log_set_format(enum log_format format) { atomic_store(&current_format, (int)format); }

int log_request_enter(const char *request_id) {
  if (current_request[0] || !request_id || !request_id[0])
    return 0;
  size_t n = strnlen(request_id, sizeof current_request - 1); /* not snprintf: twice a request */
  memcpy(current_request, request_id, n);
  current_request[n] = '\0';
  return 1;
}

void log_request_leave(int entered) {
  if (entered)
    current_request[0] = '\0';
}

/* A bounded line being built; a part that does not fit is cut, never spilled. */
struct line {
  char s[LINE_MAX_BYTES];
  size_t n;
};

static void put(struct line *l, const char *s, size_t len) {
  size_t room = sizeof l->s - 1 - l->n;
  if (len > room)
    len = room;
  memcpy(l->s + l->n, s, len);
  l->n += len;
  l->s[l->n] = '\0';
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

/* len more bytes, with keep bytes still free after them for what closes the
 * line (and the NUL): a JSON line is cut between whole pieces, never inside
 * an escape or before its closing quote and brace. */
static int put_whole(struct line *l, const char *s, size_t len, size_t keep) {
  if (l->n + len + keep >= sizeof l->s)
    return -1;
  put(l, s, len);
  return 0;
}

/* A JSON string body: quotes, backslashes and control bytes escaped, so a
 * message with a newline is still one line. -1 when cut (keep as above). */
static int put_json(struct line *l, const char *s, size_t keep) {
  size_t start = l->n;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    size_t k = 1;
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\', esc[1] = (char)*p;
      k = 2;
    } else if (*p < 0x20 || *p == 0x7f) {
      int w = snprintf(esc, sizeof esc, "\\u%04x", *p);
      k = w > 0 ? (size_t)w : 0;
    } else {
      esc[0] = (char)*p;
    }
    if (put_whole(l, esc, k, keep) != 0) {
      if ((*p & 0xC0) == 0x80) /* cut inside a UTF-8 character: drop its first bytes too */
        while (l->n > start && ((unsigned char)l->s[--l->n] & 0xC0) == 0x80)
          ;
      l->s[l->n] = '\0';
      return -1;
    }
  }
  return 0;
}

/* ,"key":"value" whole, or nothing (one byte kept for the closing brace). */
static void put_member(struct line *l, const char *key, const char *value) {
  size_t mark = l->n;
  if (put_whole(l, ",\"", 2, 1) != 0 || put_json(l, key, 1) != 0 ||
      put_whole(l, "\":\"", 3, 1) != 0 || put_json(l, value, 1) != 0 ||
      put_whole(l, "\"", 1, 1) != 0) {
    l->n = mark;
    l->s[mark] = '\0';
  }
}

/* All of s to fd, or as much as the fd takes (a log line is never worth
 * blocking the event loop on an error). */
static void write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

/* A whole line (with its newline) to stderr: into the thread's batch when it
 * has one, else in one write (lines from threads do not mix). */
static void out(const char *s, size_t n) {
  if (batch.on) {
    if (batch.len + n > sizeof batch.s)
      log_batch_flush();
    if (n <= sizeof batch.s) {
      memcpy(batch.s + batch.len, s, n);
      batch.len += n;
      return;
    }
  }
  write_all(STDERR_FILENO, s, n);
}

/* Room for n bytes at the end of the thread's batch (flushed first when it
 * lacks them), or NULL (no batch, or n larger than it): a line is written
 * there in place and taken with batch.len += its length, not built on the
 * stack and copied. */
static char *batch_room(size_t n) {
  if (!batch.on || n > sizeof batch.s)
    return NULL;
  if (batch.len + n > sizeof batch.s)
    log_batch_flush();
  return batch.s + batch.len;
}

/* Where an access line of at most need bytes is built: in place at the end
 * of the batch; without one, on the stack when it fits 4 KiB, else on the
 * heap (big, which the caller frees), then sent in one write: lines from
 * workers do not mix (stderr is unbuffered: nothing queued to pass). */
struct line_room {
  char stack[4096];
  struct buf big;
  int in_batch;
};

/* The room's start, or NULL when memory runs out. */
static char *line_room(struct line_room *r, size_t need) {
  r->big = (struct buf)BUF_INIT;
  char *o = batch_room(need);
  r->in_batch = o != NULL;
  if (o)
    return o;
  if (need <= sizeof r->stack)
    return r->stack;
  return buf_reserve(&r->big, need) == 0 ? r->big.data : NULL;
}

/* The n bytes of line at o: taken into the batch, or written. */
static void line_done(const struct line_room *r, const char *o, size_t n) {
  if (r->in_batch)
    batch.len += n;
  else
    out(o, n);
}

void log_batch_begin(void) { batch.on = 1; }

void log_batch_flush(void) {
  if (batch.len)
    write_all(STDERR_FILENO, batch.s, batch.len);
  batch.len = 0;
}

void log_batch_end(void) {
  log_batch_flush();
  batch.on = 0;
}

/* A message's room: a longer one is cut (a text access line too). */
#define MSG_MAX (LINE_MAX_BYTES / 2 - 1)

/* " %-5s " of each level: the text line's prefix after the time. */
#define TEXT_LEVEL_LEN 7
static const char TEXT_LEVELS[][TEXT_LEVEL_LEN + 1] = {" error ", " warn  ", " info  ", " debug "};

/* Now as 2024-01-02T03:04:05.678Z at o; returns the end. */
static char *now_text(char *o) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return access_log_iso_time(o, ts.tv_sec, (unsigned)(ts.tv_nsec / 1000000));
}

static void emit(enum log_level level, int with_request, const struct log_field *fields, size_t n,
                 const char *fmt, va_list ap) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if ((int)level > atomic_load_explicit(&current_level, memory_order_relaxed))
    return;
  char msg[MSG_MAX + 1];
  vsnprintf(msg, sizeof msg, fmt, ap);
  char when[ACCESS_LOG_TIME_LEN + 1];
  *now_text(when) = '\0';
  struct line l = {.n = 0};
  l.s[0] = '\0';
  const char *rid = with_request && current_request[0] ? current_request : NULL;
  if (atomic_load_explicit(&current_format, memory_order_relaxed) == LOG_FORMAT_JSON) {
    puts_(&l, "{\"time\":\"");
    puts_(&l, when);
    puts_(&l, "\",\"level\":\"");
    puts_(&l, names[level]);
    puts_(&l, "\",\"msg\":\"");
    /* Cut, it still leaves room for its quote, the brace and its request id
     * (escaped, at most 6 bytes a byte). */
    put_json(&l, msg, 2 + (rid ? sizeof ",\"request_id\":\"\"" - 1 + 6 * strlen(rid) : 0));
    puts_(&l, "\"");
    if (rid)
      put_member(&l, "request_id", rid);
    for (size_t i = 0; i < n; i++)
      put_member(&l, fields[i].key, fields[i].value ? fields[i].value : "");
    puts_(&l, "}");
  } else {
    puts_(&l, when);
    put(&l, TEXT_LEVELS[level], TEXT_LEVEL_LEN);
    puts_(&l, msg);
    for (size_t i = 0; i < n; i++) {
      puts_(&l, " ");
      puts_(&l, fields[i].key);
      puts_(&l, "=");
      puts_(&l, fields[i].value ? fields[i].value : "");
    }
    if (rid) {
      puts_(&l, " rid=");
      puts_(&l, rid);
    }
  }
  l.s[l.n++] = '\n'; /* put() keeps a byte for the NUL: the newline takes it */
  out(l.s, l.n);
}

void log_msg(enum log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, 1, NULL, 0, fmt, ap);
  va_end(ap);
}

void log_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt,
                ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, 1, fields, n, fmt, ap);
  va_end(ap);
}

void log_access_text(const struct access_log_entry *e) {
  if (LOG_INFO > atomic_load_explicit(&current_level, memory_order_relaxed))
    return;
  /* log_msg's line: the time, the level, the message (cut as log_msg cuts
   * one), written in place; no printf, no copy. */
  enum { HEAD = ACCESS_LOG_TIME_LEN + TEXT_LEVEL_LEN };
  struct line_room r;
  char *o = line_room(&r, HEAD + access_log_text_bound(e));
  if (o) {
    char *p = now_text(o);
    memcpy(p, TEXT_LEVELS[LOG_INFO], TEXT_LEVEL_LEN);
    p += TEXT_LEVEL_LEN;
    size_t n = access_log_text_to(p, e) - 1; /* its '\n' comes after the cut */
    p += n < MSG_MAX ? n : MSG_MAX;
    *p++ = '\n';
    line_done(&r, o, (size_t)(p - o));
  }
  buf_free(&r.big);
}

void log_access_json(const struct access_log_entry *e, struct access_log_lens *lens) {
  /* The bound counts every byte escaped six-fold: log_bodies lines are the
   * ones past 4 KiB. */
  struct line_room r;
  struct access_log_lens own, *l = lens ? lens : &own;
  char *o = line_room(&r, access_log_json_bound(e, l));
  if (o)
    line_done(&r, o, access_log_json_to(o, e, l));
  buf_free(&r.big);
}
