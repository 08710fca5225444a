/*
 * Unit tests of job records: which upstream 200 bodies are records (a JSON
 * object with a string "status", SPEC 2.4, read by cache_parse_record()),
 * their status, type and terminality, and the strong ETag of the bytes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cache.h"
#include "record.h"

/* Reads body as a record, on a cache of its own as the server does. */
static int
parse(const void *body, size_t len, struct record *rec)
{
	char err[256];
	struct cache *c = cache_open(":memory:", err, sizeof(err));
	int rc;

	ck_assert_msg(c != NULL, "%s", err);
	rc = cache_parse_record(c, body, len, rec);
	cache_close(c);
	return rc;
}

/* The vendor page's examples, with a plain e-mail address. */
#define JOBID_V "j0326140530123456789v-u12345-email:user@example.com:" \
	"a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma"

static const char completed_video[] =
	"{\n"
	"  \"jobid\": \"" JOBID_V "\",\n"
	"  \"type\": \"video\",\n"
	"  \"status\": \"completed\",\n"
	"  \"created\": \"2026-03-26T14:05:30.123Z\",\n"
	"  \"updated\": \"2026-03-26T14:08:45.678Z\",\n"
	"  \"response\": {\n"
	"    \"video\": {\n"
	"      \"media_type\": \"video\",\n"
	"      \"url\": \"https://storage.cdn-luma.com/...\",\n"
	"      \"width\": 1280,\n"
	"      \"height\": 720,\n"
	"      \"duration\": 5.04\n"
	"    },\n"
	"    \"video_hdr_exr\": null,\n"
	"    \"thumbnail\": {\n"
	"      \"media_type\": \"image\",\n"
	"      \"url\": \"https://storage.cdn-luma.com/.../thumbnail.jpg\",\n"
	"      \"width\": 1280,\n"
	"      \"height\": 720\n"
	"    },\n"
	"    \"last_frame\": {\n"
	"      \"media_type\": \"image\",\n"
	"      \"url\": \"https://storage.cdn-luma.com/.../last_frame.jpg\",\n"
	"      \"width\": 1280,\n"
	"      \"height\": 720\n"
	"    }\n"
	"  },\n"
	"  \"credits\": {\n"
	"    \"dm_usage\": 20,\n"
	"    \"dm_relaxed_usage\": null\n"
	"  }\n"
	"}\n";

static const char pending_video[] =
	"{\"jobid\":\"" JOBID_V "\",\"type\":\"video\",\"status\":\"pending\","
	"\"created\":\"2026-03-26T14:05:30.123Z\",\"updated\":null,"
	"\"response\":null,\"credits\":null}";

static const char failed_video[] =
	"{\"jobid\":\"" JOBID_V "\",\"type\":\"video\",\"status\":\"failed\","
	"\"created\":\"2026-03-26T14:05:30.123Z\","
	"\"updated\":\"2026-03-26T14:08:00.000Z\",\"response\":null,"
	"\"credits\":null}";

static const char completed_image[] =
	"{\"jobid\":\"j0326140530123456789i-u12345\",\"type\":\"image\","
	"\"status\":\"completed\",\"response\":{\"image\":{\"media_type\":"
	"\"image\",\"url\":\"https://storage.cdn-luma.com/...\",\"width\":1024,"
	"\"height\":1024}},\"credits\":{\"dm_usage\":5}}";

struct parse_case {
	const char	*body;
	const char	*status;
	const char	*type;
	int		 terminal;
};

static const struct parse_case parse_cases[] = {
	{ completed_video, "completed", "video", 1 },
	{ pending_video, "pending", "video", 0 },
	{ failed_video, "failed", "video", 1 },
	{ completed_image, "completed", "image", 1 },
	{ "{\"status\":\"processing\",\"type\":\"video\"}", "processing", "video", 0 },
	{ "{\"status\":\"queued\"}", "queued", "", 0 },
	{ "{\"status\":\"completed\"}", "completed", "", 1 },
	{ "{\"status\":\"completed\",\"type\":7}", "completed", "", 1 },
	{ "{\"status\":\"completed\",\"type\":null}", "completed", "", 1 },
	{ "{\"status\":\"Completed\"}", "Completed", "", 0 },
	{ "{\"status\":\"\"}", "", "", 0 },
	{ "  \n{\"status\" : \"failed\"}\n  ", "failed", "", 1 },
	/* Integers beyond int64 and doubles with huge exponents. */
	{ "{\"status\":\"completed\",\"n\":123456789012345678901234567890}",
	  "completed", "", 1 },
	{ "{\"status\":\"pending\",\"n\":-99999999999999999999999}",
	  "pending", "", 0 },
	{ "{\"status\":\"completed\",\"seed\":18446744073709551616}",
	  "completed", "", 1 },
	{ "{\"status\":\"completed\",\"x\":1e300}", "completed", "", 1 },
	{ "{\"status\":\"completed\",\"u\":\"\\u00e9\\ud83d\\ude00\"}",
	  "completed", "", 1 },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct record rec;

	memset(&rec, 0xa5, sizeof(rec));
	ck_assert_msg(parse(c->body, strlen(c->body), &rec) == 0,
	    "rejected case %d", _i);
	ck_assert_str_eq(rec.status, c->status);
	ck_assert_str_eq(rec.type, c->type);
	ck_assert_int_eq(rec.terminal, c->terminal);
}
END_TEST

/*
 * Valid JSON objects with a string "status" that a parser may find awkward:
 * SPEC 2.4 makes each a job record, relayed byte for byte.
 */
static const struct parse_case edge_cases[] = {
	/* An integer beyond the range of a double. */
	{ "{\"status\":\"completed\",\"n\":1"
	  "0000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000000000000000000}",
	  "completed", "", 1 },
	/* A real beyond the range of a double. */
	{ "{\"status\":\"completed\",\"x\":1e400}", "completed", "", 1 },
	/* A string holding U+0000 (e.g. in a prompt): a record, but not kept forever. */
	{ "{\"status\":\"completed\",\"prompt\":\"a\\u0000b\"}",
	  "completed", "", 0 },
	/* A status cut at U+0000 by SQLite is not "completed". */
	{ "{\"status\":\"completed\\u0000x\"}", "completed", "", 0 },
	/* Two status keys: readers disagree, so not terminal. */
	{ "{\"status\":\"completed\",\"status\":\"pending\"}", "completed", "", 0 },
};

START_TEST(test_parse_edge)
{
	const struct parse_case *c = &edge_cases[_i];
	struct record rec;

	ck_assert_msg(parse(c->body, strlen(c->body), &rec) == 0,
	    "edge case %d rejected: a JSON object with a string status", _i);
	ck_assert_str_eq(rec.status, c->status);
	ck_assert_str_eq(rec.type, c->type);
	ck_assert_int_eq(rec.terminal, c->terminal);
}
END_TEST

/* A long, unknown status is still a record, and not terminal. */
START_TEST(test_parse_long_status)
{
	char body[256];
	struct record rec;

	snprintf(body, sizeof(body), "{\"status\":\"%s\",\"type\":\"video\"}",
	    "processing-with-a-very-long-status-name-0123456789-0123456789-0123456789");
	ck_assert_uint_ge(strlen(body), 64 + 30);
	ck_assert_msg(parse(body, strlen(body), &rec) == 0,
	    "a long status was rejected");
	ck_assert_int_eq(rec.terminal, 0);
}
END_TEST

static const char *const invalid_cases[] = {
	"",
	"   ",
	"not json",
	"<html><body>502 Bad Gateway</body></html>",
	"{\"status\":\"completed\"",		/* truncated */
	"{\"status\":\"completed\"}}",		/* trailing garbage */
	"{\"status\":\"completed\"} {}",
	"[]",
	"[{\"status\":\"completed\"}]",
	"\"completed\"",
	"42",
	"null",
	"true",
	"{}",
	"{\"error\":\"Job not found\"}",
	"{\"Status\":\"completed\"}",
	"{\"status\":1}",
	"{\"status\":null}",
	"{\"status\":true}",
	"{\"status\":[\"completed\"]}",
	"{\"status\":{\"s\":\"completed\"}}",
	"{\"response\":{\"status\":\"completed\"}}",
};

START_TEST(test_parse_invalid)
{
	const char *body = invalid_cases[_i];
	struct record rec;

	ck_assert_msg(parse(body, strlen(body), &rec) == -1,
	    "accepted case %d", _i);
}
END_TEST

/* Only body[0..len) is parsed: no NUL terminator is needed or read. */
START_TEST(test_parse_uses_len)
{
	static const char buf[] = "{\"status\":\"failed\"}GARBAGE";
	struct record rec;

	ck_assert_int_eq(parse(buf, 19, &rec), 0);
	ck_assert_str_eq(rec.status, "failed");
	ck_assert_int_eq(rec.terminal, 1);
	ck_assert_int_eq(parse(buf, sizeof(buf) - 1, &rec), -1);
	ck_assert_int_eq(parse(buf, 18, &rec), -1);
}
END_TEST

/* A body that is not NUL-terminated at all, in a heap buffer. */
START_TEST(test_parse_unterminated)
{
	static const char src[] = "{\"status\":\"pending\",\"type\":\"image\"}";
	size_t n = sizeof(src) - 1;
	char *p = malloc(n);
	struct record rec;

	ck_assert_ptr_nonnull(p);
	memcpy(p, src, n);
	ck_assert_int_eq(parse(p, n, &rec), 0);
	ck_assert_str_eq(rec.status, "pending");
	ck_assert_str_eq(rec.type, "image");
	ck_assert_int_eq(rec.terminal, 0);
	free(p);
}
END_TEST

struct term_case {
	const char	*status;
	int		 terminal;
};

static const struct term_case term_cases[] = {
	{ "completed", 1 },
	{ "failed", 1 },
	{ "pending", 0 },
	{ "processing", 0 },
	{ "queued", 0 },
	{ "", 0 },
	{ "complete", 0 },
	{ "completed ", 0 },
	{ "FAILED", 0 },
};

START_TEST(test_status_terminal)
{
	const struct term_case *c = &term_cases[_i];

	ck_assert_int_eq(record_status_terminal(c->status) != 0, c->terminal);
}
END_TEST

/* A quoted strong ETag of 32 lowercase or uppercase hex digits. */
static void
assert_etag_shape(const char *e)
{
	size_t i;

	ck_assert_uint_eq(strlen(e), ETAG_LEN);
	ck_assert_int_eq(e[0], '"');
	ck_assert_int_eq(e[ETAG_LEN - 1], '"');
	for (i = 1; i < ETAG_LEN - 1; i++)
		ck_assert_msg(isxdigit((unsigned char)e[i]),
		    "not hex at %zu: %s", i, e);
}

START_TEST(test_etag)
{
	char a[ETAG_LEN + 1], b[ETAG_LEN + 1], c[ETAG_LEN + 1];
	char d[ETAG_LEN + 1], e[ETAG_LEN + 1];

	record_etag(completed_video, strlen(completed_video), a);
	assert_etag_shape(a);
	ck_assert_msg(strncmp(a, "W/", 2) != 0, "weak ETag %s", a);

	/* Stable: the same bytes give the same tag. */
	record_etag(completed_video, strlen(completed_video), b);
	ck_assert_str_eq(a, b);

	/* Different bytes, even one, give a different tag. */
	record_etag(completed_video, strlen(completed_video) - 1, c);
	assert_etag_shape(c);
	ck_assert_str_ne(a, c);
	record_etag(pending_video, strlen(pending_video), d);
	ck_assert_str_ne(a, d);
	ck_assert_str_ne(c, d);

	/* The empty body has a tag too. */
	record_etag("", 0, e);
	assert_etag_shape(e);
	ck_assert_str_ne(e, a);
}
END_TEST

/* Bytes, not JSON values, are tagged: whitespace changes the tag. */
START_TEST(test_etag_bytes)
{
	static const char x[] = "{\"status\":\"completed\"}";
	static const char y[] = "{\"status\": \"completed\"}";
	char a[ETAG_LEN + 1], b[ETAG_LEN + 1];

	record_etag(x, strlen(x), a);
	record_etag(y, strlen(y), b);
	ck_assert_str_ne(a, b);
}
END_TEST

/* Arbitrary binary bytes, NUL included, are fine. */
START_TEST(test_etag_binary)
{
	static const unsigned char x[] = { 0, 1, 2, 0xff, 0 };
	static const unsigned char y[] = { 0, 1, 2, 0xff, 1 };
	char a[ETAG_LEN + 1], b[ETAG_LEN + 1];

	record_etag(x, sizeof(x), a);
	record_etag(y, sizeof(y), b);
	assert_etag_shape(a);
	ck_assert_str_ne(a, b);
}
END_TEST

static Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0,
	    (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_loop_test(tc, test_parse_invalid, 0,
	    (int)(sizeof(invalid_cases) / sizeof(invalid_cases[0])));
	tcase_add_loop_test(tc, test_parse_edge, 0,
	    (int)(sizeof(edge_cases) / sizeof(edge_cases[0])));
	tcase_add_test(tc, test_parse_long_status);
	tcase_add_test(tc, test_parse_uses_len);
	tcase_add_test(tc, test_parse_unterminated);
	tcase_add_loop_test(tc, test_status_terminal, 0,
	    (int)(sizeof(term_cases) / sizeof(term_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("etag");
	tcase_add_test(tc, test_etag);
	tcase_add_test(tc, test_etag_bytes);
	tcase_add_test(tc, test_etag_binary);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(record_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
