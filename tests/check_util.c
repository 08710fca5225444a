/*
 * Unit tests of util.c: parse_uint() (decimal only, bounds inclusive, an
 * error message on every failure), time formatting and hex.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "util.h"

struct uint_case {
	const char	*s;
	uint64_t	 min, max;
	int		 ok;
	uint64_t	 want;
};

static const struct uint_case uint_cases[] = {
	{ "0", 0, 10, 1, 0 },
	{ "10", 0, 10, 1, 10 },
	{ "11", 0, 10, 0, 0 },
	{ "5", 5, 5, 1, 5 },
	{ "4", 5, 5, 0, 0 },
	{ "6", 5, 5, 0, 0 },
	{ "007", 0, 10, 1, 7 },
	{ "65535", 0, 65535, 1, 65535 },
	{ "65536", 0, 65535, 0, 0 },
	{ "18446744073709551615", 0, UINT64_MAX, 1, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, 0, 0 },
	{ "99999999999999999999999", 0, UINT64_MAX, 0, 0 },
	{ "", 0, 10, 0, 0 },
	{ "-1", 0, 10, 0, 0 },
	{ "-0", 0, 10, 0, 0 },
	{ "+1", 0, 10, 0, 0 },
	{ " 1", 0, 10, 0, 0 },
	{ "1 ", 0, 10, 0, 0 },
	{ "1a", 0, 10, 0, 0 },
	{ "0x10", 0, 100, 0, 0 },
	{ "1.0", 0, 10, 0, 0 },
	{ "1e2", 0, 1000, 0, 0 },
	{ "abc", 0, 10, 0, 0 },
};

START_TEST(test_parse_uint)
{
	const struct uint_case *c = &uint_cases[_i];
	uint64_t out = 12345;
	const char *err = NULL;
	int rc;

	rc = parse_uint(c->s, c->min, c->max, &out, &err);
	if (c->ok) {
		ck_assert_msg(rc == 0, "'%s' rejected: %s", c->s,
		    err ? err : "?");
		ck_assert_uint_eq(out, c->want);
	} else {
		ck_assert_msg(rc == -1, "'%s' accepted", c->s);
		ck_assert_ptr_nonnull(err);
		ck_assert_uint_gt(strlen(err), 0);
		ck_assert_uint_eq(out, 12345);
	}
}
END_TEST

START_TEST(test_parse_uint_null)
{
	uint64_t out = 1;
	const char *err = NULL;

	ck_assert_int_eq(parse_uint(NULL, 0, 10, &out, &err), -1);
	ck_assert_ptr_nonnull(err);
}
END_TEST

struct time_case {
	int64_t		 ms;
	const char	*iso_ms;
	const char	*iso;
};

static const struct time_case time_cases[] = {
	{ 0, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00Z" },
	{ 1700000000123LL, "2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20Z" },
	{ 1774533930999LL, "2026-03-26T14:05:30.999Z", "2026-03-26T14:05:30Z" },
	{ 951782400001LL, "2000-02-29T00:00:00.001Z", "2000-02-29T00:00:00Z" },
};

/* The published FNV-1a 32-bit vectors; a second string continues the first. */
START_TEST(test_fnv1a)
{
	ck_assert_uint_eq(util_fnv1a(UTIL_FNV_BASIS, ""), 0x811c9dc5u);
	ck_assert_uint_eq(util_fnv1a(UTIL_FNV_BASIS, "a"), 0xe40c292cu);
	ck_assert_uint_eq(util_fnv1a(UTIL_FNV_BASIS, "foobar"), 0xbf9cf968u);
	ck_assert_uint_eq(util_fnv1a(util_fnv1a(UTIL_FNV_BASIS, "foo"), "bar"),
	    0xbf9cf968u);
	ck_assert_uint_ne(util_fnv1a(UTIL_FNV_BASIS ^ 1u, "a"), 0xe40c292cu);
}
END_TEST

START_TEST(test_iso8601)
{
	const struct time_case *c = &time_cases[_i];
	char buf[32];

	util_iso8601_ms(c->ms, buf, sizeof(buf));
	ck_assert_str_eq(buf, c->iso_ms);
}
END_TEST

START_TEST(test_hex)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 1];

	memset(out, 'X', sizeof(out));
	util_hex(in, sizeof(in), out);
	ck_assert_str_eq(out, "00017f80abff");
	util_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

/* The clocks move forward and the wall clock is after 2020. */
START_TEST(test_clocks)
{
	int64_t a = util_mono_ms(), b = util_mono_ms();

	ck_assert_int_ge(b, a);
	ck_assert_int_gt(util_now_ms(), 1577836800000LL);
}
END_TEST

struct iso_case {
	const char	*s;
	int		 ok;
	int64_t		 ms;
};

static const struct iso_case iso_cases[] = {
	{ "1970-01-01", 1, 0 },
	{ "2026-11-29", 1, 1795910400000LL },
	{ "2026-11-29T10:00:00Z", 1, 1795946400000LL },
	{ "2026-11-29T10:00:00.123Z", 1, 1795946400123LL },
	{ "2024-02-29", 1, 1709164800000LL },
	{ "2023-02-29", 0, 0 },
	{ "2100-02-29", 0, 0 },
	{ "2026-13-01", 0, 0 },
	{ "2026-11-31", 0, 0 },
	{ "2026-11-29T24:00:00Z", 0, 0 },
	{ "2026-11-29T10:00:00", 0, 0 },
	{ "2026-11-29T10:00:00+01:00", 0, 0 },
	{ "2026-11-29 10:00:00Z", 0, 0 },
	{ "2026-11-29T10:00:00.12Z", 0, 0 },
	{ "2026-1-029", 0, 0 },
	{ "+026-11-29", 0, 0 },
	{ "1969-12-31", 0, 0 },
	{ "yesterday", 0, 0 },
	{ "", 0, 0 },
};

START_TEST(test_parse_iso8601)
{
	const struct iso_case *c = &iso_cases[_i];
	int64_t ms = -7;
	char back[32];

	ck_assert_msg((util_parse_iso8601(c->s, &ms) == 0) == c->ok, "%s", c->s);
	if (!c->ok)
		return;
	ck_assert_msg(ms == c->ms, "%s: %lld", c->s, (long long)ms);
	/* What util_iso8601_ms writes reads back the same. */
	util_iso8601_ms(ms, back, sizeof(back));
	ck_assert_int_eq(util_parse_iso8601(back, &ms), 0);
	ck_assert_msg(ms == c->ms, "%s", back);
}
END_TEST

START_TEST(test_http_token)
{
	ck_assert(util_http_token("Content-Length", 14));
	ck_assert(util_http_token("x!#$%&'*+-.^_`|~9", 17));
	ck_assert(!util_http_token("Content-Length ", 15));
	ck_assert(!util_http_token(" X", 2));
	ck_assert(!util_http_token("a:b", 3));
	ck_assert(!util_http_token("a\0b", 3));
	ck_assert(!util_http_token("", 0));
	ck_assert(!util_http_token("caf\xc3\xa9", 5));
}
END_TEST

/* Connection tokens and Cache-Control directives, found in a list. */
START_TEST(test_list_has)
{
	ck_assert(util_list_has("X-Hop", "X-Hop", 5));
	ck_assert(util_list_has("close, x-hop", "X-Hop", 5));
	ck_assert(util_list_has(" a ,\tX-Hop ,b", "x-hop", 5));
	ck_assert(util_list_has("max-age=0, No-Cache", "no-cache", 8));
	ck_assert(!util_list_has("no-cache=\"x\"", "no-cache", 8));
	ck_assert(!util_list_has("X-Hopper", "X-Hop", 5));
	ck_assert(!util_list_has("X-Ho", "X-Hop", 5));
	ck_assert(!util_list_has("", "X-Hop", 5));
	ck_assert(!util_list_has(NULL, "X-Hop", 5));
	ck_assert(!util_list_has(",,", "", 0));
}
END_TEST

START_TEST(test_list_next)
{
	const char *p = " a, ,b c ,\t\"d\"\t,", *v;
	size_t len;

	v = util_list_next(&p, &len);
	ck_assert_int_eq((int)len, 1);
	ck_assert_mem_eq(v, "a", 1);
	v = util_list_next(&p, &len);
	ck_assert_int_eq((int)len, 3);
	ck_assert_mem_eq(v, "b c", 3);
	v = util_list_next(&p, &len);
	ck_assert_int_eq((int)len, 3);
	ck_assert_mem_eq(v, "\"d\"", 3);
	ck_assert_ptr_null(util_list_next(&p, &len));
	ck_assert_ptr_null(util_list_next(&p, &len));
	p = "";
	ck_assert_ptr_null(util_list_next(&p, &len));
}
END_TEST

START_TEST(test_etag_listed)
{
	const char *e = "\"abc\"";

	ck_assert_int_eq(util_etag_listed("\"abc\"", e), 1);
	ck_assert_int_eq(util_etag_listed("W/\"abc\"", e), 1);
	ck_assert_int_eq(util_etag_listed("\"x\", \"abc\" ", e), 1);
	ck_assert_int_eq(util_etag_listed("*", e), 1);
	ck_assert_int_eq(util_etag_listed("\"abcd\"", e), 0);
	ck_assert_int_eq(util_etag_listed("\"abc\"x", e), 0);
	ck_assert_int_eq(util_etag_listed("\"ab\"", e), 0);
	ck_assert_int_eq(util_etag_listed("**", e), 0);
	ck_assert_int_eq(util_etag_listed("", e), 0);
	ck_assert_int_eq(util_etag_listed(" , ", e), 0);
}
END_TEST

START_TEST(test_log_url)
{
	char buf[256];

	ck_assert_str_eq(util_log_url("https://api.useapi.net", buf,
	    sizeof(buf)), "https://api.useapi.net");
	ck_assert_str_eq(util_log_url("http://u:secret@h:81/base", buf,
	    sizeof(buf)), "http://h:81/base");
	ck_assert_str_eq(util_log_url("https://cdn/a.mp4?sig=secret", buf,
	    sizeof(buf)), "https://cdn/a.mp4?...");
	ck_assert_str_eq(util_log_url("https://cdn/a@b.mp4", buf,
	    sizeof(buf)), "https://cdn/a@b.mp4");
}
END_TEST

START_TEST(test_http_date)
{
	size_t len;

	ck_assert_str_eq(util_http_date(0, &len),
	    "Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_uint_eq(len, 29);
	ck_assert_str_eq(util_http_date(1796598204999, &len),
	    "Sun, 06 Dec 2026 23:03:24 GMT");
	/* The same second again, then the next. */
	ck_assert_str_eq(util_http_date(1796598204000, &len),
	    "Sun, 06 Dec 2026 23:03:24 GMT");
	ck_assert_str_eq(util_http_date(1796598205000, &len),
	    "Sun, 06 Dec 2026 23:03:25 GMT");
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_loop_test(tc, test_parse_uint, 0,
	    (int)(sizeof(uint_cases) / sizeof(uint_cases[0])));
	tcase_add_loop_test(tc, test_parse_iso8601, 0,
	    (int)(sizeof(iso_cases) / sizeof(iso_cases[0])));
	tcase_add_test(tc, test_parse_uint_null);
	tcase_add_test(tc, test_fnv1a);
	tcase_add_loop_test(tc, test_iso8601, 0,
	    (int)(sizeof(time_cases) / sizeof(time_cases[0])));
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_http_token);
	tcase_add_test(tc, test_list_next);
	tcase_add_test(tc, test_list_has);
	tcase_add_test(tc, test_etag_listed);
	tcase_add_test(tc, test_clocks);
	tcase_add_test(tc, test_log_url);
	tcase_add_test(tc, test_http_date);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
