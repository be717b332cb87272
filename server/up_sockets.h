/* curl's sockets on the worker's loop (CURLMOPT_SOCKETFUNCTION), with the
 * sockets of pooled keep-alive connections left registered between requests. */
#ifndef RP_UP_SOCKETS_H
#define RP_UP_SOCKETS_H

#include <curl/curl.h>

struct up_client;
struct up_transfer;

/* Install the multi's socket callback. */
void up_sockets_init(struct up_client *c);
/* Per easy handle (curl_easy_reset wipes it): curl opens and closes its
 * connections' sockets through us, so we know when a parked fd dies. */
void up_sockets_setopt(struct up_client *c, CURL *easy);
/* From curl's write and header callbacks: a reply came through the
 * transfer's connection (see poll in up_sockets.c). */
void up_sockets_delivered(const struct up_transfer *t);
/* After curl_multi_cleanup: frees what is left. */
void up_sockets_free(struct up_client *c);

#endif
