/* A tiny unit-test harness: each suite_*() runs checks; main.c totals them
 * and prints "N passed, N failed". A failed check prints where and why. */
#ifndef RP_TEST_H
#define RP_TEST_H

#include <stdio.h>
#include <string.h>

extern int test_passed, test_failed;
extern const char *test_current;

void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond)                                                                  \
      test_passed++;                                                           \
    else                                                                       \
      test_fail(__FILE__, __LINE__, "%s", #cond);                              \
  } while (0)

#define CHECK_INT(a, b)                                                        \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ == b_)                                                              \
      test_passed++;                                                           \
    else                                                                       \
      test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)

/* Compare a (ptr,len) or C string against an expected C string. */
#define CHECK_MEM(ptr, len, expected)                                          \
  do {                                                                         \
    const char *p_ = (ptr), *e_ = (expected);                                  \
    size_t l_ = (len);                                                         \
    if (p_ && l_ == strlen(e_) && memcmp(p_, e_, l_) == 0)                     \
      test_passed++;                                                           \
    else                                                                       \
      test_fail(__FILE__, __LINE__, "%s: got \"%.*s\", want \"%s\"", #ptr,     \
                p_ ? (int)l_ : 6, p_ ? p_ : "(null)", e_);                     \
  } while (0)

#define CHECK_STR(s, expected)                                                 \
  do {                                                                         \
    const char *s_ = (s);                                                      \
    CHECK_MEM(s_, s_ ? strlen(s_) : 0, (expected));                            \
  } while (0)

/* Label the checks that follow (shown with failures). */
#define TEST(name) (test_current = (name))

#endif
