#include "toolcall.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "deepseek_tokens.h"

/* DeepSeek V3.1 tool-call output parser (openai-api.md §9, §10).
 *
 * Markers come from one table of (kind, spelling) rows: every marker of the
 * tool-call grammar in the canonical spelling (U+2581 between words) and with
 * '_', ' ' and "\_" instead, as llama.cpp accepts for the block opener, plus
 * "<｜tool▁calls｜>" (and its variants) as another block opener, plus
 * <｜end▁of▁sentence｜>. Only these rows are markers.
 *
 * States:
 *   LEAD      tools offered, nothing released yet. Leading whitespace is
 *             held. First other byte: "```" or '{' or '[' -> FALLBACK; a
 *             block opener -> the whitespace is dropped and the block starts;
 *             anything else -> CONTENT (the whitespace is released with it).
 *   CONTENT   text is released as soon as it cannot be the start of a block
 *             opener: only a suffix that is a proper prefix of an opener row
 *             (<｜tool▁calls▁begin｜> and variants, or a bare
 *             <｜tool▁call▁begin｜> and variants) is held.
 *   FALLBACK  like CONTENT, but nothing is released until finish, where the
 *             whole text is tried as a plain-JSON tool call (see below). A
 *             native block opener still ends it (the text before it is
 *             content). As soon as the start cannot be a call object or
 *             array (e.g. "```python", "[1]", "{}"), the text is content
 *             (-> CONTENT, released at once); otherwise it is held to finish.
 *   BLOCK     inside the block, between calls: whitespace is skipped;
 *             <｜tool▁call▁begin｜> starts a call; <｜tool▁calls▁end｜> or
 *             <｜end▁of▁sentence｜> ends the block (-> TRAIL); a repeated
 *             opener is ignored; any other text starts a call without its
 *             begin marker (a model that skipped it).
 *   CALL      one call: NAME <｜tool▁sep｜> ARGS, ended by
 *             <｜tool▁call▁end｜> (-> BLOCK), <｜tool▁calls▁end｜> or
 *             <｜end▁of▁sentence｜> (-> TRAIL), or another call or block
 *             opener (the end marker was forgotten: the call ends there).
 *   TRAIL     after the block: whitespace and <｜end▁of▁sentence｜> are
 *             dropped; any other text is content again (-> CONTENT; a second
 *             block is possible).
 *   PASS      no tools offered: everything is content, nothing is stripped.
 *
 * A call is valid when the trimmed NAME is one of the offered names and the
 * trimmed ARGS are one JSON object (empty ARGS count as "{}"). The older V3
 * form NAME = "function", ARGS = "NAME\n```json\nJSON\n```" is accepted too.
 * A valid call is reported as TC_CALL (name points at the parser's copy of
 * the offered name, NUL-terminated; arguments at the trimmed JSON text). An
 * invalid call is reported as content: "\n" if content was released before,
 * then the trimmed NAME, a space, the trimmed ARGS (markers removed).
 *
 * Finish: held partial-marker text in LEAD/CONTENT is content; an
 * unterminated call (output ended before its end marker) is judged like a
 * terminated one, ignoring a trailing incomplete marker; text held in BLOCK
 * or TRAIL is dropped.
 *
 * Fenced-JSON fallback (finish only, FALLBACK state only, so only with tools
 * offered and nothing released and no native call): the trimmed text, with
 * an enclosing ``` or ```json fence removed, must be one JSON value that is
 *   {"name": N, "arguments": A}        ("parameters" instead of "arguments";
 *                                       optional "type", "id" keys)
 *   {"function": {"name": N, "arguments": A}, "type"?, "id"?}
 *   {"tool_calls": [call, ...]}  or  [call, ...]  (non-empty)
 * with every N an offered name and no other keys; A an object, a string
 * holding a JSON object, null or absent ("{}"). Then each is reported as a
 * call (arguments re-printed as compact JSON by cJSON) and the text is not
 * emitted; otherwise the whole held text is content, unchanged.
 *
 * Cost: every input byte is copied once into the parser's buffer and looked
 * at a bounded number of times (each '<' is compared with the marker rows;
 * held partial markers, at most 27 bytes, are re-examined). Text is released
 * as slices of that buffer; a call's text stays in it until the call ends.
 * Content pieces are cut only before a '<' or where the input was cut, so no
 * UTF-8 sequence is cut that the input did not cut.
 *
 * After a callback stops a feed (non-zero) or memory runs out (-1), the
 * parser is dead: feeds and finish return that value again; only free it. */

enum mk_kind {
  MK_CALLS_BEGIN,
  MK_CALLS_END,
  MK_CALL_BEGIN,
  MK_CALL_END,
  MK_SEP,
  MK_EOS,
};
#define BIT(k) (1u << (k))

struct marker {
  enum mk_kind kind;
  const char *s;
  size_t len;
};

#define ROW(kind, s) {kind, s, sizeof(s) - 1}
#define TOK2(a, b, x) "<" DS_FW a x b DS_FW ">"
#define TOK3(a, b, c, x) "<" DS_FW a x b x c DS_FW ">"
#define VAR2(kind, a, b)                                                       \
  ROW(kind, TOK2(a, b, DS_LB)), ROW(kind, TOK2(a, b, "_")),                    \
      ROW(kind, TOK2(a, b, " ")), ROW(kind, TOK2(a, b, "\\_"))
#define VAR3(kind, a, b, c)                                                    \
  ROW(kind, TOK3(a, b, c, DS_LB)), ROW(kind, TOK3(a, b, c, "_")),              \
      ROW(kind, TOK3(a, b, c, " ")), ROW(kind, TOK3(a, b, c, "\\_"))

static const struct marker markers[] = {
    VAR3(MK_CALLS_BEGIN, "tool", "calls", "begin"),
    VAR2(MK_CALLS_BEGIN, "tool", "calls"),
    VAR3(MK_CALLS_END, "tool", "calls", "end"),
    VAR3(MK_CALL_BEGIN, "tool", "call", "begin"),
    VAR3(MK_CALL_END, "tool", "call", "end"),
    VAR2(MK_SEP, "tool", "sep"),
    ROW(MK_EOS, DS_EOS),
};
#define NMARKERS (sizeof markers / sizeof markers[0])
#define MARK_LEAD "<" DS_FW /* every row starts with these 4 bytes */

#define OPENERS (BIT(MK_CALLS_BEGIN) | BIT(MK_CALL_BEGIN))

enum { MATCH_NONE, MATCH_PARTIAL, MATCH_FULL };

/* Markers of the given kinds at s[0..avail): MATCH_PARTIAL if s could still
 * become one (avail shorter than a row that it prefixes), else MATCH_FULL
 * with the longest complete one, else MATCH_NONE. */
static int match_at(const char *s, size_t avail, unsigned kinds,
                    const struct marker **hit) {
  const struct marker *best = NULL;
  int partial = 0;
  if (avail >= 4 && memcmp(s, MARK_LEAD, 4) != 0)
    return MATCH_NONE;
  for (size_t k = 0; k < NMARKERS; k++) {
    const struct marker *m = &markers[k];
    if (!(kinds & BIT(m->kind)))
      continue;
    if (avail >= m->len) {
      if (memcmp(s, m->s, m->len) == 0 && (!best || m->len > best->len))
        best = m;
    } else if (memcmp(s, m->s, avail) == 0) {
      partial = 1;
    }
  }
  if (partial)
    return MATCH_PARTIAL;
  if (best) {
    *hit = best;
    return MATCH_FULL;
  }
  return MATCH_NONE;
}

/* First position >= from in s[0..len) where a marker of the kinds matches
 * fully or partially; *at = len and MATCH_NONE when there is none. */
static int find_marker(const char *s, size_t len, size_t from, unsigned kinds,
                       size_t *at, const struct marker **hit) {
  while (from < len) {
    const char *lt = memchr(s + from, '<', len - from);
    if (!lt)
      break;
    size_t i = (size_t)(lt - s);
    int r = match_at(s + i, len - i, kinds, hit);
    if (r != MATCH_NONE) {
      *at = i;
      return r;
    }
    from = i + 1;
  }
  *at = len;
  return MATCH_NONE;
}

enum {
  ST_PASS,
  ST_LEAD,
  ST_CONTENT,
  ST_FALLBACK,
  ST_BLOCK,
  ST_CALL,
  ST_TRAIL,
  ST_DONE,
};

/* FALLBACK: the start of the text must look like a call object or array,
 * `[ws] [```[json]] [ws] {[ws]"` or `... [[ws]{[ws]"`; what is still to be
 * checked at check_pos: */
enum {
  CK_DONE, /* the start fits: hold to finish */
  CK_JSON, /* after "```": an optional "json" */
  CK_OPEN, /* whitespace, then '{' or '[' */
  CK_ARR,  /* after '[': whitespace, then '{' */
  CK_KEY,  /* after '{': whitespace, then '"' */
};

struct tc_parser {
  char **names; /* offered names, copied, non-empty */
  size_t *name_len;
  size_t n;
  int state;
  struct buf in; /* unconsumed text is in.data[head..in.len) */
  size_t head;
  /* Offsets below are relative to head. */
  size_t scan;    /* where the current state resumes looking */
  int has_sep;    /* CALL: <｜tool▁sep｜> seen, at [sep, sep_end) */
  size_t sep, sep_end;
  int check;        /* FALLBACK: CK_* */
  size_t check_pos; /* FALLBACK: next byte for the check */
  int calls;
  int content_out; /* non-empty content was released */
  int dead;        /* sticky return value once stopped or out of memory */
  int drop_calls;  /* tc_parser_new_stripper: calls are removed, not kept */
};

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

static void trim(const char **s, size_t *len) {
  while (*len && is_ws(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len && is_ws((*s)[*len - 1]))
    (*len)--;
}

static int ci_eq(const char *s, const char *lower, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != lower[i])
      return 0;
  }
  return 1;
}

/* Index of the offered name equal to s[0..len), or -1. */
static long find_name(const struct tc_parser *p, const char *s, size_t len) {
  for (size_t i = 0; i < p->n; i++)
    if (p->name_len[i] == len && memcmp(p->names[i], s, len) == 0)
      return (long)i;
  return -1;
}

static int emit_content(struct tc_parser *p, const char *s, size_t len,
                        tc_event_cb cb, void *ud) {
  if (len == 0)
    return 0;
  struct tc_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = TC_CONTENT;
  ev.text = s;
  ev.len = len;
  p->content_out = 1;
  return cb(ud, &ev);
}

static int emit_call(struct tc_parser *p, long name, const char *args,
                     size_t args_len, tc_event_cb cb, void *ud) {
  struct tc_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = TC_CALL;
  ev.index = p->calls++;
  ev.name = p->names[name];
  ev.name_len = p->name_len[name];
  ev.arguments = args;
  ev.arguments_len = args_len;
  return cb(ud, &ev);
}

/* Is s[0..len) (already trimmed) one JSON object? s[len] must be writable
 * (it is briefly set to NUL: cJSON wants the terminator inside the length). */
static int json_object_at(char *s, size_t len) {
  if (memchr(s, '\0', len))
    return 0;
  char saved = s[len];
  s[len] = '\0';
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(s, len + 1, &end, 1);
  s[len] = saved;
  int ok = v && cJSON_IsObject(v);
  cJSON_Delete(v);
  return ok;
}

/* Strip "```" [json] ... "```" around s (trimmed). Returns 1 and the trimmed
 * inside, or 0 when s is not fenced like that. */
static int unfence(const char **s, size_t *len) {
  const char *t = *s;
  size_t l = *len;
  if (l < 6 || memcmp(t, "```", 3) != 0 || memcmp(t + l - 3, "```", 3) != 0)
    return 0;
  t += 3;
  l -= 6;
  if (l >= 4 && ci_eq(t, "json", 4)) {
    t += 4;
    l -= 4;
  }
  trim(&t, &l);
  *s = t;
  *len = l;
  return 1;
}

/* Judge the call text s[0..end) (CALL state fields say where the separator
 * is) and report it as a call or as content. */
static int finish_call(struct tc_parser *p, char *s, size_t end,
                       tc_event_cb cb, void *ud) {
  const char *name = s, *args = s + end;
  size_t name_len = end, args_len = 0;
  int rc;
  if (p->has_sep) {
    name_len = p->sep;
    args = s + p->sep_end;
    args_len = end - p->sep_end;
  }
  trim(&name, &name_len);
  trim(&args, &args_len);
  if (p->has_sep) {
    long k = find_name(p, name, name_len);
    if (k >= 0 && args_len == 0)
      return emit_call(p, k, "{}", 2, cb, ud);
    if (k >= 0 && json_object_at(s + (args - s), args_len))
      return emit_call(p, k, args, args_len, cb, ud);
    /* V3: function<｜tool▁sep｜>NAME\n```json\nARGS\n``` */
    if (name_len == 8 && memcmp(name, "function", 8) == 0) {
      const char *nl = memchr(args, '\n', args_len);
      if (nl) {
        const char *n2 = args, *body = nl + 1;
        size_t n2_len = (size_t)(nl - args);
        size_t body_len = args_len - n2_len - 1;
        trim(&n2, &n2_len);
        trim(&body, &body_len);
        k = find_name(p, n2, n2_len);
        if (k >= 0 && unfence(&body, &body_len)) {
          if (body_len == 0)
            return emit_call(p, k, "{}", 2, cb, ud);
          if (json_object_at(s + (body - s), body_len))
            return emit_call(p, k, body, body_len, cb, ud);
        }
      }
    }
  }
  if ((name_len == 0 && args_len == 0) || p->drop_calls)
    return 0;
  if (p->content_out && (rc = emit_content(p, "\n", 1, cb, ud)) != 0)
    return rc;
  if ((rc = emit_content(p, name, name_len, cb, ud)) != 0)
    return rc;
  if (name_len && args_len && (rc = emit_content(p, " ", 1, cb, ud)) != 0)
    return rc;
  return emit_content(p, args, args_len, cb, ud);
}

/* ---- fenced-JSON fallback ---- */

struct fb_call {
  long name;
  char *args; /* cJSON_PrintUnformatted text, or NULL for "{}" */
};

static int only_keys(const cJSON *o, const char *const *keys, size_t n) {
  for (const cJSON *c = o->child; c; c = c->next) {
    size_t i = 0;
    while (i < n && (!c->string || strcmp(c->string, keys[i]) != 0))
      i++;
    if (i == n)
      return 0;
  }
  return 1;
}

/* 1: o is one call (out filled), 0: it is not, -1: out of memory. */
static int fb_one(const struct tc_parser *p, const cJSON *o,
                  struct fb_call *out) {
  static const char *const outer[] = {"function", "type", "id"};
  static const char *const flat[] = {"name", "arguments", "parameters",
                                     "type", "id"};
  if (!cJSON_IsObject(o))
    return 0;
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(o, "function");
  if (fn) {
    if (!only_keys(o, outer, 3) || !cJSON_IsObject(fn) ||
        !only_keys(fn, flat, 3))
      return 0;
    o = fn;
  } else if (!only_keys(o, flat, 5)) {
    return 0;
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "arguments");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "parameters");
  if (!cJSON_IsString(name) || (a && b))
    return 0;
  out->name = find_name(p, name->valuestring, strlen(name->valuestring));
  if (out->name < 0)
    return 0;
  if (!a)
    a = b;
  out->args = NULL;
  if (!a || cJSON_IsNull(a))
    return 1;
  if (cJSON_IsObject(a)) {
    out->args = cJSON_PrintUnformatted(a);
    return out->args ? 1 : -1;
  }
  if (!cJSON_IsString(a))
    return 0;
  const char *s = a->valuestring, *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(s, strlen(s) + 1, &end, 1);
  int r = 0;
  if (cJSON_IsObject(v)) {
    out->args = cJSON_PrintUnformatted(v);
    r = out->args ? 1 : -1;
  }
  cJSON_Delete(v);
  return r;
}

/* Try s[0..len) (NUL at s[len]) as a plain-JSON tool call answer; *done is
 * set when it was reported as calls. Returns 0, the callback's value or -1.
 * Nothing is reported unless every call is valid. */
static int try_fallback(struct tc_parser *p, char *s, size_t len,
                        tc_event_cb cb, void *ud, int *done) {
  const char *t = s;
  size_t l = len;
  trim(&t, &l);
  unfence(&t, &l);
  if (l == 0 || memchr(t, '\0', l))
    return 0;
  char *w = s + (t - s);
  char saved = w[l];
  w[l] = '\0';
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(w, l + 1, &end, 1);
  w[l] = saved;
  if (!root)
    return 0;
  const cJSON *list = NULL;
  if (cJSON_IsArray(root)) {
    list = root;
  } else if (cJSON_IsObject(root) && root->child && !root->child->next &&
             root->child->string &&
             strcmp(root->child->string, "tool_calls") == 0) {
    list = root->child;
    if (!cJSON_IsArray(list)) {
      cJSON_Delete(root);
      return 0;
    }
  }
  size_t n = list ? (size_t)cJSON_GetArraySize(list) : 1;
  struct fb_call *fc = n ? calloc(n, sizeof *fc) : NULL;
  int rc = 0;
  size_t got = 0;
  if (n && !fc) {
    rc = -1;
  } else if (n) {
    const cJSON *item = list ? list->child : root;
    for (; got < n && item; got++, item = item->next) {
      int r = fb_one(p, item, &fc[got]);
      if (r != 1) {
        rc = r < 0 ? -1 : 0; /* not a call, or out of memory */
        break;
      }
    }
    if (rc == 0 && got == n) {
      *done = 1;
      for (size_t i = 0; i < n && rc == 0; i++)
        rc = fc[i].args ? emit_call(p, fc[i].name, fc[i].args,
                                    strlen(fc[i].args), cb, ud)
                        : emit_call(p, fc[i].name, "{}", 2, cb, ud);
    }
  }
  for (size_t i = 0; i < got; i++)
    cJSON_free(fc[i].args);
  free(fc);
  cJSON_Delete(root);
  return rc;
}

/* ---- the state machine ---- */

/* FALLBACK: advance the start check over s[check_pos..len). Returns -1 when
 * the text cannot be a call object or array, else 0 (fits, or undecided).
 * Each byte is looked at once. */
static int check_start(struct tc_parser *p, const char *s, size_t len) {
  while (p->check != CK_DONE) {
    size_t at = p->check_pos;
    if (p->check == CK_JSON) {
      size_t a = len - at;
      if (a < 4 && ci_eq(s + at, "json", a))
        return 0;
      if (a >= 4 && ci_eq(s + at, "json", 4))
        p->check_pos += 4;
      p->check = CK_OPEN;
      continue;
    }
    while (at < len && is_ws(s[at]))
      at++;
    p->check_pos = at;
    if (at == len)
      return 0;
    char c = s[at];
    if (p->check == CK_OPEN && (c == '{' || c == '['))
      p->check = c == '{' ? CK_KEY : CK_ARR;
    else if (p->check == CK_ARR && c == '{')
      p->check = CK_KEY;
    else if (p->check == CK_KEY && c == '"')
      p->check = CK_DONE;
    else
      return -1;
    p->check_pos = at + 1;
  }
  return 0;
}

static void consume(struct tc_parser *p, size_t n) {
  p->head += n;
  p->scan = 0;
}

static void start_call(struct tc_parser *p) {
  p->state = ST_CALL;
  p->scan = 0;
  p->has_sep = 0;
}

/* Run over the unconsumed text until more is needed. Returns 0 or the
 * callback's value. */
static int run(struct tc_parser *p, tc_event_cb cb, void *ud) {
  int rc;
  for (;;) {
    char *s = p->in.data + p->head;
    size_t len = p->in.len - p->head, i;
    const struct marker *hit = NULL;
    int r;
    switch (p->state) {
    case ST_PASS:
      rc = emit_content(p, s, len, cb, ud);
      consume(p, len);
      return rc;

    case ST_LEAD: {
      size_t w = p->scan;
      while (w < len && is_ws(s[w]))
        w++;
      p->scan = w;
      if (w == len)
        return 0;
      size_t a = len - w;
      if (s[w] == '{' || s[w] == '[') {
        p->state = ST_FALLBACK;
        p->check = CK_OPEN;
        p->check_pos = w;
        continue; /* scan stays at w: nothing before it can be a marker */
      }
      if (s[w] == '`') {
        if (a < 3 && memcmp(s + w, "```", a) == 0)
          return 0;
        if (a >= 3 && memcmp(s + w, "```", 3) == 0) {
          p->state = ST_FALLBACK;
          p->check = CK_JSON;
          p->check_pos = w + 3;
          continue;
        }
      } else if (s[w] == '<') {
        r = match_at(s + w, a, OPENERS, &hit);
        if (r == MATCH_PARTIAL)
          return 0;
        if (r == MATCH_FULL) {
          /* whitespace before the block is dropped */
          consume(p, w + (hit->kind == MK_CALLS_BEGIN ? hit->len : 0));
          p->state = ST_BLOCK;
          continue;
        }
      }
      p->state = ST_CONTENT; /* scan stays at w */
      continue;
    }

    case ST_CONTENT:
    case ST_FALLBACK:
      r = find_marker(s, len, p->scan, OPENERS, &i, &hit);
      if (r == MATCH_FULL) {
        if ((rc = emit_content(p, s, i, cb, ud)) != 0)
          return rc;
        consume(p, i + (hit->kind == MK_CALLS_BEGIN ? hit->len : 0));
        p->state = ST_BLOCK;
        continue;
      }
      if (p->state == ST_CONTENT) {
        rc = emit_content(p, s, i, cb, ud);
        consume(p, i);
        return rc;
      }
      p->scan = i;
      if (check_start(p, s, len) != 0) {
        p->state = ST_CONTENT; /* cannot be a tool call: release */
        continue;
      }
      return 0;

    case ST_BLOCK:
      i = 0;
      while (i < len && is_ws(s[i]))
        i++;
      consume(p, i);
      s += i;
      len -= i;
      if (len == 0)
        return 0;
      r = s[0] == '<' ? match_at(s, len,
                                 BIT(MK_CALL_BEGIN) | BIT(MK_CALLS_END) |
                                     BIT(MK_EOS) | BIT(MK_CALLS_BEGIN),
                                 &hit)
                      : MATCH_NONE;
      if (r == MATCH_PARTIAL)
        return 0;
      if (r == MATCH_NONE) {
        start_call(p); /* a call without its begin marker */
        continue;
      }
      consume(p, hit->len);
      if (hit->kind == MK_CALL_BEGIN)
        start_call(p);
      else if (hit->kind != MK_CALLS_BEGIN)
        p->state = ST_TRAIL;
      continue;

    case ST_CALL:
      r = find_marker(s, len, p->scan,
                      BIT(MK_CALL_END) | BIT(MK_CALLS_END) |
                          BIT(MK_CALL_BEGIN) | BIT(MK_CALLS_BEGIN) |
                          BIT(MK_EOS) | (p->has_sep ? 0 : BIT(MK_SEP)),
                      &i, &hit);
      if (r != MATCH_FULL) {
        p->scan = i;
        return 0;
      }
      if (hit->kind == MK_SEP) {
        p->has_sep = 1;
        p->sep = i;
        p->sep_end = p->scan = i + hit->len;
        continue;
      }
      if ((rc = finish_call(p, s, i, cb, ud)) != 0)
        return rc;
      consume(p, i + hit->len);
      if (hit->kind == MK_CALL_END || hit->kind == MK_CALLS_BEGIN)
        p->state = ST_BLOCK;
      else if (hit->kind == MK_CALL_BEGIN)
        start_call(p);
      else
        p->state = ST_TRAIL;
      continue;

    case ST_TRAIL:
      /* Whitespace is held until what follows decides: before
       * <｜end▁of▁sentence｜> or the end it goes, before text it stays
       * (unless no content came before). */
      i = 0;
      while (i < len && is_ws(s[i]))
        i++;
      if (i == len)
        return 0;
      if (s[i] == '<') {
        r = match_at(s + i, len - i, BIT(MK_EOS), &hit);
        if (r == MATCH_PARTIAL)
          return 0;
        if (r == MATCH_FULL) {
          consume(p, i + hit->len);
          continue;
        }
      }
      if (!p->content_out)
        consume(p, i); /* content never starts with whitespace */
      p->state = ST_CONTENT;
      continue;

    default: /* ST_DONE */
      consume(p, len);
      return 0;
    }
  }
}

/* Drop consumed text from the buffer (once per feed, not per event). */
static void compact(struct tc_parser *p) {
  buf_consume(&p->in, p->head);
  p->head = 0;
}

struct tc_parser *tc_parser_new(const char *const *tool_names, size_t n) {
  struct tc_parser *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  buf_init(&p->in);
  if (n) {
    p->names = calloc(n, sizeof *p->names);
    p->name_len = calloc(n, sizeof *p->name_len);
    if (!p->names || !p->name_len) {
      tc_parser_free(p);
      return NULL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!tool_names || !tool_names[i] || !tool_names[i][0])
      continue;
    size_t l = strlen(tool_names[i]);
    char *c = malloc(l + 1);
    if (!c) {
      tc_parser_free(p);
      return NULL;
    }
    memcpy(c, tool_names[i], l + 1);
    p->names[p->n] = c;
    p->name_len[p->n++] = l;
  }
  p->state = p->n ? ST_LEAD : ST_PASS;
  return p;
}

void tc_parser_free(struct tc_parser *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    free(p->names[i]);
  free(p->names);
  free(p->name_len);
  buf_free(&p->in);
  free(p);
}

struct tc_parser *tc_parser_new_stripper(void) {
  struct tc_parser *p = tc_parser_new(NULL, 0);
  if (p) {
    p->drop_calls = 1;
    p->state = ST_CONTENT; /* no fallback: JSON answers are just text */
  }
  return p;
}

int tc_parser_feed(struct tc_parser *p, const char *data, size_t len,
                   tc_event_cb cb, void *ud) {
  if (p->dead)
    return p->dead;
  if (len == 0 || p->state == ST_DONE)
    return 0;
  if (p->state == ST_PASS) { /* no copy needed */
    int rc = emit_content(p, data, len, cb, ud);
    return rc ? (p->dead = rc) : 0;
  }
  if (buf_append(&p->in, data, len) != 0)
    return p->dead = -1;
  int rc = run(p, cb, ud);
  compact(p);
  return rc ? (p->dead = rc) : 0;
}

int tc_parser_finish(struct tc_parser *p, tc_event_cb cb, void *ud) {
  if (p->dead)
    return p->dead;
  if (p->state == ST_DONE)
    return 0;
  int rc = 0;
  char *s = p->in.data ? p->in.data + p->head : NULL; /* NULL: never fed */
  size_t len = p->in.len - p->head;
  switch (p->state) {
  case ST_LEAD:
  case ST_CONTENT:
    rc = emit_content(p, s, len, cb, ud);
    break;
  case ST_FALLBACK: {
    int done = 0;
    rc = try_fallback(p, s, len, cb, ud, &done);
    if (rc == 0 && !done)
      rc = emit_content(p, s, len, cb, ud);
    break;
  }
  case ST_CALL:
    /* scan stopped at a trailing incomplete marker, or at the end */
    rc = finish_call(p, s, p->scan, cb, ud);
    break;
  default: /* PASS holds nothing; BLOCK, TRAIL: whitespace or a marker */
    break;
  }
  p->state = ST_DONE;
  buf_free(&p->in);
  p->head = 0;
  return rc ? (p->dead = rc) : 0;
}

int tc_parser_calls(const struct tc_parser *p) { return p->calls; }
