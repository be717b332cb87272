/* Numbers as text without printf: a request's log line and its span each
 * carry a cost, and snprintf("%.9g"/"%.17g") was ~1,400-2,800 instructions
 * of it (glibc's printf_fp works in multi-precision). */
#ifndef RP_NUM_TEXT_H
#define RP_NUM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define NUM_G_MAX 32   /* the longest %.17g text, and its NUL */
#define NUM_DEC_MAX 20 /* the longest decimal of a 64-bit integer, sign included */

/* The decimal digits of v at o (no NUL), a '-' first when negative; returns
 * the byte after them. o needs NUM_DEC_MAX bytes. */
char *num_u64(char *o, uint64_t v);
char *num_i64(char *o, int64_t v);

/* What snprintf(out, NUM_G_MAX, "%.*g", precision, v) writes, byte for
 * byte (precision 1..17): exact integer arithmetic where the value allows
 * it (1e-11 <= |v| < 2^52 or so, every cost), snprintf itself elsewhere.
 * Returns the length. */
size_t num_g(char out[NUM_G_MAX], double v, int precision);

#endif
