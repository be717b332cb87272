/* Admin operations off the event loop: a store thread runs them while the
 * request waits suspended; the answer is handed back to the request's worker
 * through an eventfd and sent from there. */
#ifndef RP_ADMIN_QUEUE_H
#define RP_ADMIN_QUEUE_H

#include <cJSON.h>

struct http_request;

/* Queue op (takes args). 0: the request is answered later; -1 out of memory
 * (args freed; the caller answers). */
int admin_queue_submit(struct http_request *hr, const char *op, cJSON *args,
                       const char *self_token);
/* After the workers stopped: finish the queue, stop the thread, free. */
void admin_queue_stop(void);

#endif
