#include "log.h"

#include "../shared/access_log.h" /* REQUEST_ID_MAX */

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set by the main thread (startup, SIGHUP), read by every thread. */
static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_FORMAT_TEXT;
static _Thread_local char current_request[REQUEST_ID_MAX + 1];

#define LINE_MAX_BYTES 4096

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
void log_set_format(enum log_format format) { atomic_store(&current_format, (int)format); }

int log_request_enter(const char *request_id) {
  if (current_request[0] || !request_id || !request_id[0])
    return 0;
  snprintf(current_request, sizeof current_request, "%s", request_id);
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

/* A JSON string body: quotes, backslashes and control bytes escaped, so a
 * message with a newline is still one line. */
static void put_json(struct line *l, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\', esc[1] = (char)*p;
      put(l, esc, 2);
    } else if (*p < 0x20 || *p == 0x7f) {
      int k = snprintf(esc, sizeof esc, "\\u%04x", *p);
      put(l, esc, k > 0 ? (size_t)k : 0);
    } else {
      put(l, (const char *)p, 1);
    }
  }
}

static void emit(enum log_level level, int with_request, const struct log_field *fields, size_t n,
                 const char *fmt, va_list ap) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  if ((int)level > atomic_load_explicit(&current_level, memory_order_relaxed))
    return;
  char msg[LINE_MAX_BYTES / 2];
  vsnprintf(msg, sizeof msg, fmt, ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[96];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  struct line l = {.n = 0};
  l.s[0] = '\0';
  const char *rid = with_request && current_request[0] ? current_request : NULL;
  if (atomic_load_explicit(&current_format, memory_order_relaxed) == LOG_FORMAT_JSON) {
    puts_(&l, "{\"time\":\"");
    puts_(&l, when);
    puts_(&l, "\",\"level\":\"");
    puts_(&l, names[level]);
    puts_(&l, "\",\"msg\":\"");
    put_json(&l, msg);
    puts_(&l, "\"");
    if (rid) {
      puts_(&l, ",\"request_id\":\"");
      put_json(&l, rid);
      puts_(&l, "\"");
    }
    for (size_t i = 0; i < n; i++) {
      puts_(&l, ",\"");
      put_json(&l, fields[i].key);
      puts_(&l, "\":\"");
      put_json(&l, fields[i].value ? fields[i].value : "");
      puts_(&l, "\"");
    }
    /* A line cut at the bound still closes its object. */
    if (l.n > sizeof l.s - 4)
      l.n = sizeof l.s - 4;
    l.s[l.n] = '\0';
    puts_(&l, "}");
  } else {
    char head[128];
    snprintf(head, sizeof head, "%s %-5s ", when, names[level]);
    puts_(&l, head);
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
  fprintf(stderr, "%s\n", l.s); /* one call: lines from workers don't mix */
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

static void access_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void access_text(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(LOG_INFO, 0, NULL, 0, fmt, ap);
  va_end(ap);
}

void log_access_text(const char *line) { access_text("%s", line); }
