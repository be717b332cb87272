/* `replicate-proxy --healthcheck`: probe the server this configuration
 * describes (GET /health on its listen address) and exit 0 when it answers
 * 200, 1 otherwise. For container HEALTHCHECKs: no curl in the image, and
 * the port follows `listen` instead of being written twice. */
#ifndef RP_HEALTHCHECK_H
#define RP_HEALTHCHECK_H

#include "../shared/config.h"

/* Returns the exit status (0 healthy, 1 not); says why on stderr. */
int healthcheck_run(const struct config *c);

/* The addresses to probe for a listen host, in order: a wildcard becomes
 * loopback (IPv6 and IPv4 for "::"). Returns how many were set (<= 2). */
int healthcheck_targets(const char *listen_host, const char *out[2]);

#endif
