/*
** spec/c/check.h -- a minimal test harness for the C tests (after redis's
** testhelp.h). A test is a function run with RUN(fn); CHECK records a
** failed condition and goes on. TEST_REPORT prints "name: N passed, N failed"
** counting test functions (not conditions) and gives the exit status.
*/
#ifndef LIMPET_CHECK_H
#define LIMPET_CHECK_H
#include <stdio.h>
#include <math.h>

static int check_tests_passed, check_tests_failed, check_cond_failed;

#define CHECK(cond) do { \
    if (!(cond)) { check_cond_failed++; \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
  } while (0)
#define CHECK_NEAR(a, b, tol) do { \
    double check_a_ = (double)(a), check_b_ = (double)(b); \
    if (!(fabs(check_a_ - check_b_) <= (tol))) { check_cond_failed++; \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g\n", \
              __FILE__, __LINE__, #a, check_a_, #b, check_b_); } \
  } while (0)
#define CHECK_OK(expr) do { \
    lp_status check_st_ = (expr); \
    if (check_st_ != LP_OK) { check_cond_failed++; \
      fprintf(stderr, "%s:%d: %s returned %d\n", __FILE__, __LINE__, #expr, (int)check_st_); } \
  } while (0)
#define RUN(fn) do { \
    int check_before_ = check_cond_failed; fn(); \
    if (check_cond_failed == check_before_) check_tests_passed++; \
    else { check_tests_failed++; fprintf(stderr, "FAILED: %s\n", #fn); } \
  } while (0)
#define TEST_REPORT(name) \
  (printf("%s: %d passed, %d failed\n", (name), check_tests_passed, check_tests_failed), \
   check_tests_failed ? 1 : 0)

#endif
