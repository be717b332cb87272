/* JSON mode over a text-only model.
 *
 * The instruction (placed in the system part of the prompt by prompt.c):
 *   json_object:  "Respond with a single valid JSON object and nothing
 *                 else: no prose, no code fences."
 *   json_schema:  the same sentence ("JSON value" when the schema's root
 *                 type is not "object"), then "Format name: NAME",
 *                 "Format description: DESC" (when given) and
 *                 "The JSON must conform to this JSON schema:\n" + the
 *                 schema as compact JSON (when given), one per line.
 *
 * Cleaning the answer: the trimmed text when it is one JSON value; else
 * the first ``` fenced block if there is one (its info string such as
 * "json" skipped; falling back to the whole text when it holds no JSON),
 * else the whole text; within that, the trimmed text if it is one JSON
 * value, else the first balanced {...} or [...] (string-aware; up to
 * MAX_CANDIDATES are tried so "see [1]: {...}" still works) that parses.
 * The output is that slice of the model's own text, not re-serialised, so
 * number formatting and key order survive.
 * json_object wants an object; a strict json_schema is checked. */
#include "jsonmode.h"

#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_ONLY "and nothing else: no prose, no code fences."

/* ---- the instruction ---------------------------------------------------- */

static int schema_root_is_object(const cJSON *schema) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
  return !cJSON_IsString(type) || strcmp(type->valuestring, "object") == 0;
}

int jsonmode_instruction(const struct chat_request *r, struct buf *out) {
  if (r->response_kind == RESPONSE_TEXT)
    return 0;
  if (r->response_kind == RESPONSE_JSON_OBJECT)
    return buf_append_str(out, "Respond with a single valid JSON object "
                               ANSWER_ONLY);
  int object = !r->json_schema || schema_root_is_object(r->json_schema);
  if (buf_printf(out, "Respond with a single valid JSON %s " ANSWER_ONLY,
                 object ? "object" : "value") != 0)
    return -1;
  if (r->json_schema_name &&
      buf_printf(out, "\nFormat name: %s", r->json_schema_name) != 0)
    return -1;
  if (r->json_schema_description &&
      buf_printf(out, "\nFormat description: %s",
                 r->json_schema_description) != 0)
    return -1;
  if (!r->json_schema)
    return 0;
  char *schema = cJSON_PrintUnformatted(r->json_schema);
  int rc = schema && buf_printf(out, "\nThe JSON must conform to this JSON "
                                     "schema:\n%s", schema) == 0
               ? 0
               : -1;
  cJSON_free(schema);
  return rc;
}

/* ---- errors ------------------------------------------------------------- */

struct errbuf {
  char *s;
  size_t cap;
};

static int fail(struct errbuf *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct errbuf *e, const char *fmt, ...) {
  if (e->s && e->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->s, e->cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static const char *kind_name(const cJSON *v) {
  if (cJSON_IsObject(v))
    return "an object";
  if (cJSON_IsArray(v))
    return "an array";
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsBool(v))
    return "a boolean";
  return "null";
}

/* ---- finding the JSON --------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void trim(const char **p, size_t *n) {
  while (*n && is_space(**p))
    (*p)++, (*n)--;
  while (*n && is_space((*p)[*n - 1]))
    (*n)--;
}

static const char *find(const char *p, size_t n, const char *needle) {
  return memmem(p, n, needle, strlen(needle));
}

/* The inside of the first ``` fence (to the end when it is never closed);
 * 0 when there is none. */
static int fenced(const char *text, size_t len, const char **in,
                  size_t *in_len) {
  const char *open = find(text, len, "```");
  if (!open)
    return 0;
  const char *p = open + 3, *end = text + len;
  while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                     *p == '+' || *p == '.'))
    p++; /* the info string: json, JSON, jsonc... */
  const char *close = find(p, (size_t)(end - p), "```");
  *in = p;
  *in_len = (size_t)((close ? close : end) - p);
  return 1;
}

/* End (one past) of the bracketed value starting at p, or NULL when it is
 * never closed. Brackets inside strings do not count. */
static const char *match_bracket(const char *p, const char *end) {
  int depth = 0, in_str = 0;
  for (; p < end; p++) {
    char c = *p;
    if (in_str) {
      if (c == '\\')
        p++;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0)
        return p + 1;
    }
  }
  return NULL;
}

/* Parse exactly [p, p+n) (surrounding whitespace allowed), or NULL. */
static cJSON *parse_exact(const char *p, size_t n) {
  const char *end = NULL;
  if (n == 0)
    return NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(p, n, &end, 0);
  for (; v && end && end < p + n; end++) {
    if (!is_space(*end)) {
      cJSON_Delete(v);
      return NULL;
    }
  }
  return v;
}

/* Bracketed candidates tried before giving up (each costs a scan). */
#define MAX_CANDIDATES 8

/* The JSON value in [text, text+len): *value parsed, *start and *n its slice.
 * want_object: skip bracketed candidates that are arrays. */
static int extract(const char *text, size_t len, int want_object,
                   cJSON **value, const char **start, size_t *n,
                   struct errbuf *e) {
  trim(&text, &len);
  if (len == 0)
    return fail(e, "the model's output contains no JSON: it is empty");
  if ((*value = parse_exact(text, len))) {
    *start = text;
    *n = len;
    return 0;
  }
  const char *end = text + len, *p = text;
  int tries = 0, unterminated = 0, found_array = 0;
  while (tries < MAX_CANDIDATES) {
    while (p < end && *p != '{' && *p != '[')
      p++;
    if (p >= end)
      break;
    tries++;
    const char *close = match_bracket(p, end);
    if (!close) {
      unterminated = 1;
      break; /* every later candidate is inside this one */
    }
    cJSON *v = parse_exact(p, (size_t)(close - p));
    if (v && (!want_object || cJSON_IsObject(v))) {
      *value = v;
      *start = p;
      *n = (size_t)(close - p);
      return 0;
    }
    if (v)
      found_array = 1;
    cJSON_Delete(v);
    p++;
  }
  if (found_array)
    return fail(e, "the model's output is an array, not a JSON object");
  if (tries == 0)
    return fail(e, "the model's output contains no JSON object or array");
  if (unterminated)
    return fail(e, "the model's output is not valid JSON: the %s is never "
                   "closed (cut off?)",
                *p == '{' ? "object" : "array");
  return fail(e, "the model's output is not valid JSON");
}

/* ---- schema checks ------------------------------------------------------ */

/* Limits that keep a hostile schema from costing more than a glance:
 * recursion depth, $refs followed for one value, and total steps. Past
 * them the rest is not judged (passes). */
#define MAX_DEPTH 512
#define MAX_REFS 256
#define MAX_STEPS 200000

struct vctx {
  const cJSON *root;  /* the whole schema, for $ref */
  struct buf path;    /* "$", "$.a", "$.a[2]" */
  struct errbuf *e;
  int depth;
  long steps;
  /* $ref targets applied to the current value: refs[ref_base..n_refs). A
   * target already there is a cycle and is not followed again. */
  const cJSON *refs[MAX_REFS];
  int n_refs, ref_base;
};

static const cJSON *get(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *path_of(struct vctx *c) {
  return c->path.data ? c->path.data : "$"; /* "$" unless out of memory */
}

/* A local "#/a/b" reference (JSON pointer, ~0 ~1 unescaped), or NULL. */
static const cJSON *resolve_ref(const cJSON *root, const char *ref) {
  if (ref[0] != '#')
    return NULL;
  const cJSON *cur = root;
  const char *p = ref + 1;
  while (*p == '/' && cur) {
    p++;
    char seg[256];
    size_t k = 0;
    for (; *p && *p != '/'; p++) {
      char c = *p;
      if (c == '~' && (p[1] == '0' || p[1] == '1'))
        c = *++p == '0' ? '~' : '/';
      if (k + 1 >= sizeof seg)
        return NULL;
      seg[k++] = c;
    }
    seg[k] = '\0';
    if (cJSON_IsArray(cur)) {
      char *endp;
      long idx = strtol(seg, &endp, 10);
      cur = *endp || endp == seg ? NULL : cJSON_GetArrayItem(cur, (int)idx);
    } else {
      cur = get(cur, seg);
    }
  }
  return *p ? NULL : cur;
}

static int type_matches(const char *type, const cJSON *v) {
  if (strcmp(type, "object") == 0)
    return cJSON_IsObject(v);
  if (strcmp(type, "array") == 0)
    return cJSON_IsArray(v);
  if (strcmp(type, "string") == 0)
    return cJSON_IsString(v);
  if (strcmp(type, "number") == 0)
    return cJSON_IsNumber(v);
  if (strcmp(type, "integer") == 0) {
    if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble)
      return 0;
    double d = v->valuedouble;
    /* Beyond 2^53 every finite double is whole (and a cast could
     * overflow). */
    if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
      return d < 1e308 && d > -1e308;
    return (double)(long long)d == d;
  }
  if (strcmp(type, "boolean") == 0)
    return cJSON_IsBool(v);
  if (strcmp(type, "null") == 0)
    return cJSON_IsNull(v);
  return 1; /* unknown type names do not fail the model */
}

static int check_type(struct vctx *c, const cJSON *type, const cJSON *v) {
  if (cJSON_IsString(type)) {
    if (type_matches(type->valuestring, v))
      return 0;
    return fail(c->e, "expected %s %s at %s, got %s",
                strchr("aeiou", type->valuestring[0]) ? "an" : "a",
                type->valuestring, path_of(c), kind_name(v));
  }
  if (!cJSON_IsArray(type) || cJSON_GetArraySize(type) == 0)
    return 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, type) {
    if (!cJSON_IsString(t) || type_matches(t->valuestring, v))
      return 0;
  }
  char *list = cJSON_PrintUnformatted(type);
  int rc = fail(c->e, "expected one of the types %s at %s, got %s",
                list ? list : "[...]", path_of(c), kind_name(v));
  cJSON_free(list);
  return rc;
}

/* Append ".key" (or ["key"] when it is not a plain name) or "[i]". */
static int push_key(struct vctx *c, const char *key) {
  int plain = key[0] != '\0';
  for (const char *k = key; *k; k++)
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
          (*k >= '0' && *k <= '9') || *k == '_'))
      plain = 0;
  return plain ? buf_printf(&c->path, ".%s", key)
               : buf_printf(&c->path, "[\"%s\"]", key);
}

static int push_index(struct vctx *c, int i) {
  return buf_printf(&c->path, "[%d]", i);
}

static void pop(struct vctx *c, size_t len) {
  c->path.len = len;
  if (c->path.data)
    c->path.data[len] = '\0';
}

static int validate(struct vctx *c, const cJSON *schema, const cJSON *v);

/* validate() for a member or element: a new value, so no $refs yet. */
static int validate_child(struct vctx *c, const cJSON *schema,
                          const cJSON *v) {
  int base = c->ref_base;
  c->ref_base = c->n_refs;
  int rc = validate(c, schema, v);
  c->ref_base = base;
  return rc;
}

/* Follow a $ref for v unless it is already applied to v (a cycle). */
static int validate_ref(struct vctx *c, const cJSON *target, const cJSON *v) {
  for (int k = c->ref_base; k < c->n_refs; k++)
    if (c->refs[k] == target)
      return 0;
  if (c->n_refs >= MAX_REFS)
    return 0;
  c->refs[c->n_refs++] = target;
  int rc = validate(c, target, v);
  c->n_refs--;
  return rc;
}

static int validate_object(struct vctx *c, const cJSON *schema,
                           const cJSON *v) {
  const cJSON *props = get(schema, "properties");
  const cJSON *req = get(schema, "required");
  if (!cJSON_IsArray(req))
    req = NULL;
  const cJSON *extra = get(schema, "additionalProperties");
  const cJSON *r;
  cJSON_ArrayForEach(r, req) {
    if (cJSON_IsString(r) && !get(v, r->valuestring))
      return fail(c->e, "missing required property '%s' at %s",
                  r->valuestring, path_of(c));
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, v) {
    const cJSON *sub = cJSON_IsObject(props) ? get(props, m->string) : NULL;
    if (!sub && cJSON_IsFalse(extra))
      return fail(c->e, "unexpected property '%s' at %s (additionalProperties "
                        "is false)", m->string, path_of(c));
    if (!sub && cJSON_IsObject(extra))
      sub = extra;
    if (!sub)
      continue;
    size_t saved = c->path.len;
    if (push_key(c, m->string) != 0)
      return fail(c->e, "out of memory");
    int rc = validate_child(c, sub, m);
    if (rc != 0)
      return rc;
    pop(c, saved);
  }
  return 0;
}

static int validate_array(struct vctx *c, const cJSON *schema,
                          const cJSON *v) {
  const cJSON *items = get(schema, "items");
  if (!cJSON_IsObject(items))
    return 0;
  int i = 0;
  const cJSON *el;
  cJSON_ArrayForEach(el, v) {
    size_t saved = c->path.len;
    if (push_index(c, i++) != 0)
      return fail(c->e, "out of memory");
    int rc = validate_child(c, items, el);
    if (rc != 0)
      return rc;
    pop(c, saved);
  }
  return 0;
}

/* anyOf / oneOf (treated alike: one match is enough) and allOf. */
static int validate_combinators(struct vctx *c, const cJSON *schema,
                                const cJSON *v) {
  static const char *const any[] = {"anyOf", "oneOf"};
  for (size_t k = 0; k < 2; k++) {
    const cJSON *alts = get(schema, any[k]);
    if (!cJSON_IsArray(alts) || cJSON_GetArraySize(alts) == 0)
      continue;
    const cJSON *alt;
    int ok = 0;
    size_t saved = c->path.len;
    cJSON_ArrayForEach(alt, alts) {
      if (validate(c, alt, v) == 0) {
        ok = 1;
        break;
      }
      pop(c, saved);
    }
    if (!ok)
      return fail(c->e, "value at %s matches none of the %s alternatives",
                  path_of(c), any[k]);
  }
  const cJSON *all = get(schema, "allOf"), *sub;
  if (!cJSON_IsArray(all))
    all = NULL;
  cJSON_ArrayForEach(sub, all) {
    int rc = validate(c, sub, v);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int validate(struct vctx *c, const cJSON *schema, const cJSON *v) {
  if (!cJSON_IsObject(schema) || c->depth >= MAX_DEPTH ||
      ++c->steps > MAX_STEPS)
    return 0; /* true/false schemas, and past the limits: not judged */
  c->depth++;
  int rc = 0;
  const cJSON *ref = get(schema, "$ref");
  const cJSON *target = cJSON_IsString(ref)
                            ? resolve_ref(c->root, ref->valuestring)
                            : NULL;
  const cJSON *enm = get(schema, "enum"), *cst = get(schema, "const");
  if (target && (rc = validate_ref(c, target, v)) != 0)
    goto out;
  if ((rc = check_type(c, get(schema, "type"), v)) != 0)
    goto out;
  if (cJSON_IsArray(enm)) {
    const cJSON *e;
    int ok = 0;
    cJSON_ArrayForEach(e, enm) {
      if (cJSON_Compare(e, v, 1)) {
        ok = 1;
        break;
      }
    }
    if (!ok) {
      rc = fail(c->e, "value at %s is not one of the allowed values (enum)",
                path_of(c));
      goto out;
    }
  }
  if (cst && !cJSON_Compare(cst, v, 1)) {
    rc = fail(c->e, "value at %s is not the required constant (const)",
              path_of(c));
    goto out;
  }
  if ((rc = validate_combinators(c, schema, v)) != 0)
    goto out;
  if (cJSON_IsObject(v))
    rc = validate_object(c, schema, v);
  else if (cJSON_IsArray(v))
    rc = validate_array(c, schema, v);
out:
  c->depth--;
  return rc;
}

/* ---- entry point -------------------------------------------------------- */

int jsonmode_clean(const char *text, size_t len, const struct chat_request *r,
                   struct buf *out, char *err, size_t errlen) {
  struct errbuf e = {err, errlen};
  if (err && errlen)
    err[0] = '\0';
  if (!text)
    len = 0;
  int want_object = r->response_kind == RESPONSE_JSON_OBJECT;
  cJSON *value = NULL;
  const char *start = NULL, *in;
  size_t n = 0, in_len;
  /* Text that is one JSON value as a whole is taken as is (even when a
   * string inside holds a fence); else the fenced block first, and when
   * that holds no JSON the whole text (the fence's error is reported). */
  const char *whole = text ? text : "";
  size_t whole_len = len;
  trim(&whole, &whole_len);
  if ((value = parse_exact(whole, whole_len))) {
    start = whole;
    n = whole_len;
  } else if (fenced(text ? text : "", len, &in, &in_len)) {
    if (extract(in, in_len, want_object, &value, &start, &n, &e) != 0) {
      char first[256];
      snprintf(first, sizeof first, "%s", err ? err : "");
      if (extract(text, len, want_object, &value, &start, &n, &e) != 0) {
        if (err && errlen)
          snprintf(err, errlen, "%s", first);
        return -1;
      }
    }
  } else if (extract(text ? text : "", len, want_object, &value, &start, &n,
                     &e) != 0) {
    return -1;
  }
  int rc = 0;
  if (want_object && !cJSON_IsObject(value)) {
    rc = fail(&e, "the model's output is %s, not a JSON object",
              kind_name(value));
  } else if (r->response_kind == RESPONSE_JSON_SCHEMA && r->json_strict &&
             r->json_schema) {
    struct vctx c;
    memset(&c, 0, sizeof c);
    c.root = r->json_schema;
    c.e = &e;
    rc = buf_append_char(&c.path, '$') != 0
             ? fail(&e, "out of memory")
             : validate(&c, r->json_schema, value);
    if (rc != 0 && err && errlen) {
      /* Prefix so the line reads on its own. */
      char detail[512];
      snprintf(detail, sizeof detail, "%s", err);
      snprintf(err, errlen, "the model's output does not match the JSON "
                            "schema: %s", detail);
    }
    buf_free(&c.path);
  }
  cJSON_Delete(value);
  if (rc != 0)
    return -1;
  if (buf_append(out, start, n) != 0)
    return fail(&e, "out of memory");
  if (err && errlen)
    err[0] = '\0'; /* attempts that failed on the way are not errors */
  return 0;
}
