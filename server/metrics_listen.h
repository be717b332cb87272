/* `metrics_listen = host:port`: /metrics alone on a listener of its own,
 * meant for a private interface (no key asked there). One thread owns it and
 * answers one short connection at a time, so a scrape never runs on a
 * worker's event loop; a slow scraper only delays other scrapes (bounded by
 * socket timeouts). */
#ifndef RP_METRICS_LISTEN_H
#define RP_METRICS_LISTEN_H

#include <stddef.h>

/* Split "host:port" or "[v6]:port" (port 0..65535). 0, or -1 with a message. */
int metrics_listen_parse(const char *spec, char *host, size_t hostlen, int *port, char *err,
                         size_t errlen);

/* Bind spec and start the thread. 0 (*bound_port set), or -1 with a message. */
int metrics_listen_start(const char *spec, int *bound_port, char *err, size_t errlen);
/* Stop the thread and close the socket (before the metrics are freed). */
void metrics_listen_stop(void);

#endif
