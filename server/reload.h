/* Configuration sources and SIGHUP reloads. The config is read from the
 * same sources at start and on every SIGHUP (the --config file, the
 * environment, then the flags: argv as given). A reload publishes a new
 * config that workers take up when woken (between events). Work in flight
 * may still hold pointers into an older config (e.g. the token it started
 * with), so every config published stays alive until reload_free_all at
 * exit (reloads are rare). */
#ifndef RP_RELOAD_H
#define RP_RELOAD_H

#include <stddef.h>

#include "../shared/config.h"

enum read_result {
  READ_ERROR = -1, /* err says why (never a secret's value) */
  READ_OK = 0,
  READ_HELP,       /* argv asked for --help: nothing was read */
  READ_VERSION,    /* argv asked for --version */
};

/* Read every source named by argv into c (config_init'ed by the caller).
 * *file (when file is not NULL) is set to --config's value, or NULL. */
enum read_result reload_read(int argc, char **argv, struct config *c, const char **file,
                             char *err, size_t errlen);

/* The config new work should run under: the startup one until a reload.
 * Safe from any thread. */
const struct config *reload_current(void);
void reload_publish_initial(const struct config *cfg);

/* Re-read the sources (main thread, on SIGHUP). On an error the running
 * config stays; otherwise the changes are logged (names only), options
 * that need a restart keep their running values, the log level applies at
 * once and the new config is published. unsafe (may be NULL) is the
 * startup's refusal check: >= 0 refuses the new config as startup would,
 * and the running one stays. Returns 1 when a new config was published
 * (wake the workers), else 0. */
int reload_apply(int argc, char **argv, int (*unsafe)(const struct config *));

/* Free every config published by reload_apply (workers stopped). */
void reload_free_all(void);

#endif
