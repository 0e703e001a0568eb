/* Minimal test harness: each test is a function; CHECK records a failure
 * with file and line and goes on; the runner prints "N passed, N failed"
 * and exits non-zero when anything failed. */
#ifndef CST_TEST_H
#define CST_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

static int test_failures_in_current;
static int test_total_failed, test_total_passed;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	test_failures_in_current++; } } while (0)

#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %lld, %s == %lld\n", \
	__FILE__, __LINE__, #a, _a, #b, _b); test_failures_in_current++; } } while (0)

#define CHECK_MEM(a, b, n) do { if (memcmp((a), (b), (n)) != 0) { \
	fprintf(stderr, "%s:%d: CHECK_MEM failed: %s != %s (%zu bytes)\n", \
	__FILE__, __LINE__, #a, #b, (size_t)(n)); test_failures_in_current++; } } while (0)

#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { fprintf(stderr, \
	"%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
	_a ? _a : "(null)", _b ? _b : "(null)"); test_failures_in_current++; } } while (0)

#define RUN_TEST(fn) do { test_failures_in_current = 0; fn(); \
	if (test_failures_in_current) { test_total_failed++; \
		fprintf(stderr, "FAIL %s\n", #fn); } \
	else { test_total_passed++; fprintf(stderr, "ok   %s\n", #fn); } } while (0)

#define TEST_DONE() (fprintf(stderr, "%d passed, %d failed\n", \
	test_total_passed, test_total_failed), test_total_failed ? 1 : 0)

/* Parses lowercase/uppercase hex into out; returns bytes written or -1. */
static inline int test_unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

#endif
