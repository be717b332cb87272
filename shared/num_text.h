/* Numbers as text without printf: a request's log line and its span each
 * carry a cost, and snprintf("%.9g"/"%.17g") was ~1,400-2,800 instructions
 * of it (glibc's printf_fp works in multi-precision). */
#ifndef RP_NUM_TEXT_H
#define RP_NUM_TEXT_H

#include <stddef.h>

#define NUM_G_MAX 32 /* the longest %.17g text, and its NUL */

/* What snprintf(out, NUM_G_MAX, "%.*g", precision, v) writes, byte for
 * byte (precision 1..17): exact integer arithmetic where the value allows
 * it (1e-11 <= |v| < 2^52 or so, every cost), snprintf itself elsewhere.
 * Returns the length. */
size_t num_g(char out[NUM_G_MAX], double v, int precision);

#endif
