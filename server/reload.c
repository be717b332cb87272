#include "reload.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

/* One command-line option: the name without "--" and its value. */
struct flag {
  char key[64];
  const char *value;
};

static enum read_result fail(char *err, size_t errlen, const char *what, const char *arg) {
  snprintf(err, errlen, what, arg);
  return READ_ERROR;
}

/* Walk argv: --help/--version, the --config file, and the option flags
 * (validated here, applied after the file and the environment). */
static enum read_result read_flags(int argc, char **argv, struct flag *flags,
                                   size_t *n_flags, const char **config_path,
                                   char *err, size_t errlen) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
      return READ_HELP;
    if (strcmp(a, "--version") == 0)
      return READ_VERSION;
    if (strncmp(a, "--", 2) != 0)
      return fail(err, errlen, "unexpected argument '%s'", a);
    const char *name = a + 2, *eq = strchr(name, '='), *value;
    size_t klen = eq ? (size_t)(eq - name) : strlen(name);
    if (klen >= sizeof flags->key)
      return fail(err, errlen, "unknown option '%s'", a);
    if (eq)
      value = eq + 1;
    else if (i + 1 < argc)
      value = argv[++i];
    else
      return fail(err, errlen, "option '%s' needs a value", a);
    struct flag *f = &flags[*n_flags];
    memcpy(f->key, name, klen);
    f->key[klen] = '\0';
    f->value = value;
    if (strcmp(f->key, "config") == 0)
      *config_path = value;
    else if (config_has_option(f->key))
      (*n_flags)++;
    else
      return fail(err, errlen, "unknown option '%s'", a);
  }
  return READ_OK;
}

enum read_result reload_read(int argc, char **argv, struct config *c, const char **file,
                             char *err, size_t errlen) {
  const char *config_path = NULL;
  size_t n_flags = 0;
  struct flag *flags = calloc(argc > 0 ? (size_t)argc : 1, sizeof *flags);
  if (!flags)
    return fail(err, errlen, "%s", "out of memory");
  enum read_result rc = read_flags(argc, argv, flags, &n_flags, &config_path, err, errlen);
  char detail[CONFIG_ERR_MAX + 64];
  if (rc == READ_OK && config_path &&
      config_load_file(c, config_path, detail, sizeof detail) != 0)
    rc = fail(err, errlen, "%s", detail);
  if (rc == READ_OK && config_load_env(c, getenv, detail, sizeof detail) != 0)
    rc = fail(err, errlen, "%s", detail);
  for (size_t i = 0; rc == READ_OK && i < n_flags; i++)
    if (config_set(c, flags[i].key, flags[i].value, detail, sizeof detail) != 0)
      rc = fail(err, errlen, "--%s", detail);
  free(flags);
  if (file)
    *file = config_path; /* points into argv */
  return rc;
}

/* ------------------------------------------------------------ publishing */

static _Atomic(const struct config *) current;

/* Configs made by reloads (the startup one belongs to main). Only the main
 * thread touches this list. */
static struct config **reloaded;
static size_t n_reloaded;

const struct config *reload_current(void) { return atomic_load(&current); }

void reload_publish_initial(const struct config *cfg) { atomic_store(&current, cfg); }

static void discard(struct config *c) {
  config_free(c);
  free(c);
}

int reload_apply(int argc, char **argv, int (*unsafe)(const struct config *)) {
  const struct config *old = reload_current();
  struct config *next = malloc(sizeof *next);
  struct config **list = realloc(reloaded, (n_reloaded + 1) * sizeof *list);
  if (list)
    reloaded = list;
  if (!next || !list || config_init(next) != 0) {
    log_msg(LOG_ERROR, "reload: out of memory; the running configuration stays");
    if (next)
      discard(next);
    return 0;
  }
  char err[CONFIG_ERR_MAX + 128];
  if (reload_read(argc, argv, next, NULL, err, sizeof err) != READ_OK) {
    log_msg(LOG_ERROR, "reload: %s; the running configuration stays", err);
    discard(next);
    return 0;
  }
  char changed[2048];
  int needs_restart;
  int n = config_diff(old, next, changed, sizeof changed, &needs_restart);
  if (n == 0) {
    log_msg(LOG_INFO, "reload: the configuration is unchanged");
    discard(next);
    return 0;
  }
  if (config_keep_restart(next, old) != 0) {
    log_msg(LOG_ERROR, "reload: out of memory; the running configuration stays");
    discard(next);
    return 0;
  }
  /* What startup refuses (a server token open to anyone) a reload refuses too. */
  if (unsafe && unsafe(next) >= 0) {
    log_msg(LOG_ERROR, "reload: refused (see above); the running configuration stays");
    discard(next);
    return 0;
  }
  /* The summary shows at the louder of the old and new log levels. */
  log_set_level(next->log_level > old->log_level ? next->log_level : old->log_level);
  log_set_format(next->log_format);
  log_msg(LOG_INFO, "reload: %d option%s changed: %s", n, n == 1 ? "" : "s", changed);
  if (needs_restart)
    log_msg(LOG_WARN, "reload: options marked (needs a restart) keep their running "
                      "values until the process is restarted");
  log_set_level(next->log_level);
  reloaded[n_reloaded++] = next;
  atomic_store(&current, next);
  return 1;
}

void reload_free_all(void) {
  for (size_t i = 0; i < n_reloaded; i++)
    discard(reloaded[i]);
  free(reloaded);
  reloaded = NULL;
  n_reloaded = 0;
}
