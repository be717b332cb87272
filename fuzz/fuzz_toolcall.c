/* libFuzzer target for shared/toolcall.c. Input: byte 0 = options; bit 0:
 * no tools offered (else "get_weather" and "get_time"); bit 1: every later
 * byte picks a piece from a table of markers (all spellings, cut-off ones,
 * end-of-sentence), tool names, JSON and fence fragments, so blocks, calls
 * and the JSON fallback actually occur; clear: the bytes are the text; bit
 * 2: a fourth run whose callback stops at event (byte 0 >> 3) + 1.
 * The text is fed whole, at pseudo-random cuts and byte by byte, then
 * finished. Checked: the event stream (adjacent content merged, calls with
 * index, name, arguments) is identical every time; calls are numbered 0, 1,
 * ... and tc_parser_calls agrees; every call names an offered tool and has
 * arguments that are one JSON object; content events are non-empty; with
 * tools offered no content event holds a whole block opener
 * (<｜tool▁calls▁begin｜>, <｜tool▁call▁begin｜> or a variant); with no tools
 * the content is exactly the text; text with no '<' that does not start
 * (after whitespace) with '{', '[' or '`' comes out unchanged as content; a
 * stopping callback's value is returned by that feed (and every later call)
 * and no event follows it. */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/deepseek_tokens.h"
#include "../shared/toolcall.h"

#define FW DS_FW
#define LB DS_LB
static const char *const pieces[] = {
    DS_TCS_B, DS_TCS_E, DS_TC_B, DS_TC_E, DS_SEP, DS_EOS,
    "<" FW "tool_calls_begin" FW ">", "<" FW "tool calls begin" FW ">",
    "<" FW "tool\\_calls\\_begin" FW ">", "<" FW "tool" LB "calls" FW ">",
    "<" FW "tool_call_begin" FW ">", "<" FW "tool_call_end" FW ">",
    "<" FW "tool sep" FW ">", "<" FW "tool calls end" FW ">",
    ("<" FW "tool" LB "ca"), ("<" FW), "<", FW, LB, "tool",
    "get_weather", "get_time", "function", "nope",
    "{", "}", "[", "]", ":", ",", "\"", "\"city\"", "\"Paris\"", "1", "null",
    "\"name\"", "\"arguments\"", "\"parameters\"", "\"tool_calls\"",
    "\"function\"", "\"get_time\"", "\"get_weather\"", "\"{}\"",
    " ", "\n", "```", "json", "x", "\\",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

static const char *const openers[] = {
    DS_TCS_B,
    DS_TC_B,
    "<" FW "tool_calls_begin" FW ">",
    "<" FW "tool calls begin" FW ">",
    "<" FW "tool\\_calls\\_begin" FW ">",
    "<" FW "tool" LB "calls" FW ">",
    "<" FW "tool_calls" FW ">",
    "<" FW "tool calls" FW ">",
    "<" FW "tool\\_calls" FW ">",
    "<" FW "tool_call_begin" FW ">",
    "<" FW "tool call begin" FW ">",
    "<" FW "tool\\_call\\_begin" FW ">",
};
#define NOPENERS (sizeof openers / sizeof openers[0])

static const char *const tools[] = {"get_weather", "get_time"};

struct rec {
  struct buf tr, pend, content;
  int calls;
  int ncb, stop_at; /* stop_at > 0: return 5 on that event */
  int tools;        /* tools offered: openers must never be content */
};

static void flush(struct rec *r) {
  if (r->pend.len) {
    buf_append_str(&r->tr, "C");
    buf_append(&r->tr, r->pend.data, r->pend.len);
    buf_append_str(&r->tr, "\x01");
    buf_reset(&r->pend);
  }
}

static int rec_cb(void *ud, const struct tc_event *ev) {
  struct rec *r = ud;
  if (r->stop_at && r->ncb >= r->stop_at)
    abort(); /* an event after the callback said stop */
  r->ncb++;
  if (ev->kind == TC_CONTENT) {
    if (!ev->text || ev->len == 0)
      abort();
    for (size_t k = 0; r->tools && k < NOPENERS; k++)
      if (memmem(ev->text, ev->len, openers[k], strlen(openers[k])))
        abort();
    buf_append(&r->pend, ev->text, ev->len);
    buf_append(&r->content, ev->text, ev->len);
  } else {
    flush(r);
    if (ev->index != r->calls++ || !ev->name || !ev->arguments)
      abort();
    size_t k = 0;
    while (k < 2 && !(strlen(tools[k]) == ev->name_len &&
                      !memcmp(tools[k], ev->name, ev->name_len)))
      k++;
    if (k == 2)
      abort();
    char *z = malloc(ev->arguments_len + 1);
    memcpy(z, ev->arguments, ev->arguments_len);
    z[ev->arguments_len] = '\0';
    cJSON *v = cJSON_ParseWithOpts(z, NULL, 1);
    if (!cJSON_IsObject(v) || strlen(z) != ev->arguments_len)
      abort();
    cJSON_Delete(v);
    free(z);
    buf_printf(&r->tr, "T%d|%.*s|%.*s\x01", ev->index, (int)ev->name_len,
               ev->name, (int)ev->arguments_len, ev->arguments);
  }
  return r->stop_at && r->ncb == r->stop_at ? 5 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int no_tools = data[0] & 1;
  struct buf text = BUF_INIT, first = BUF_INIT;
  if (data[0] & 2) {
    for (size_t i = 1; i < size; i++)
      buf_append_str(&text, pieces[data[i] % NPIECES]);
  } else {
    buf_append(&text, data + 1, size - 1);
  }
  const char *s = text.data ? text.data : "";
  size_t len = text.len;
  size_t w = 0;
  while (w < len && strchr(" \t\n\r\f\v", s[w]) && s[w])
    w++;
  int plain = !memchr(s, '<', len) &&
              !(w < len && (s[w] == '{' || s[w] == '[' || s[w] == '`'));

  uint64_t seed = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 1099511628211ULL;
  int modes = data[0] & 4 ? 4 : 3;
  for (int mode = 0; mode < modes; mode++) {
    struct rec r;
    memset(&r, 0, sizeof r);
    if (mode == 3)
      r.stop_at = (data[0] >> 3) + 1;
    r.tools = !no_tools;
    struct tc_parser *p = tc_parser_new(no_tools ? NULL : tools,
                                        no_tools ? 0 : 2);
    if (!p)
      abort();
    size_t from = 0;
    int stopped = 0;
    do {
      size_t c = len - from;
      if (mode == 1 || mode == 3) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        c = (size_t)(seed >> 33) % (c + 1);
      } else if (mode == 2 && c) {
        c = 1;
      }
      int before = r.ncb;
      int rc = tc_parser_feed(p, s + from, c, rec_cb, &r);
      from += c;
      if (stopped ? rc != 5 || r.ncb != before
                  : rc != (r.stop_at && r.ncb == r.stop_at ? 5 : 0))
        abort();
      if (rc == 5)
        stopped = 1;
    } while (from < len);
    int before = r.ncb;
    int rc = tc_parser_finish(p, rec_cb, &r);
    if (stopped ? rc != 5 || r.ncb != before
                : rc != (r.stop_at && r.ncb == r.stop_at ? 5 : 0))
      abort();
    if (mode < 3) {
      flush(&r);
      if (tc_parser_calls(p) != r.calls)
        abort();
      if ((no_tools || plain) &&
          (r.calls || r.content.len != len ||
           (len && memcmp(r.content.data, s, len))))
        abort();
      if (mode == 0)
        buf_append(&first, r.tr.data ? r.tr.data : "", r.tr.len);
      else if (r.tr.len != first.len ||
               (first.len && memcmp(r.tr.data, first.data, first.len)))
        abort();
    }
    tc_parser_free(p);
    buf_free(&r.tr);
    buf_free(&r.pend);
    buf_free(&r.content);
  }
  buf_free(&text);
  buf_free(&first);
  return 0;
}
