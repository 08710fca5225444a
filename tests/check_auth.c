/*
 * Unit tests of auth.c: which Authorization values carry a bearer token
 * (SPEC 2.1: scheme case-insensitive, token 1-4096 visible ASCII bytes) and
 * the token_id, the lowercase hex SHA-256 of the token, checked on vectors.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth.h"

struct valid_case {
	const char	*hdr;
	const char	*tok;
};

static const struct valid_case valid_cases[] = {
	{ "Bearer tok", "tok" },
	{ "bearer tok", "tok" },
	{ "BEARER tok", "tok" },
	{ "BeArEr tok", "tok" },
	{ "Bearer    tok", "tok" },
	{ "Bearer tok   ", "tok" },
	{ "Bearer   tok  ", "tok" },
	{ "\tBearer tok", "tok" },
	{ " \t Bearer\ttok\t", "tok" },
	{ "Bearer x", "x" },
	{ "Bearer abc.DEF-123_~+/=", "abc.DEF-123_~+/=" },
	{ "Bearer !\"#$%&'()*,:;<>?@[\\]^`{|}", "!\"#$%&'()*,:;<>?@[\\]^`{|}" },
};

START_TEST(test_parse_valid)
{
	const struct valid_case *c = &valid_cases[_i];
	const char *tok = NULL;
	size_t len = 0;

	ck_assert_msg(auth_parse(c->hdr, &tok, &len) == 0, "rejected '%s'",
	    c->hdr);
	ck_assert_ptr_nonnull(tok);
	ck_assert_uint_eq(len, strlen(c->tok));
	ck_assert_mem_eq(tok, c->tok, len);
	/* The token is borrowed from the header. */
	ck_assert(tok >= c->hdr && tok + len <= c->hdr + strlen(c->hdr));
}
END_TEST

static const char *const invalid_cases[] = {
	"",
	"Basic dXNlcjpwYXNz",
	"Bearer",
	"Bearer ",
	"Bearer    ",
	"Bearertok",
	"Bearer a b",
	"Bearer a\x01",
	"Bearer a\x01" "b",
	"Bearer \x01" "ab",
	"Bearer a\x7f" "b",
	"Bearer a\x80" "b",
	"Bearer a\xff",
	"Bearer a\nb",
	"Bearer a\r\n",
	"Bear tok",
	"Token tok",
	"Bearer: tok",
	"xBearer tok",
	"\vBearer tok",
	"\nBearer tok",
	" ",
};

START_TEST(test_parse_invalid)
{
	const char *tok = NULL;
	size_t len = 0;

	ck_assert_msg(auth_parse(invalid_cases[_i], &tok, &len) == -1,
	    "accepted case %d", _i);
}
END_TEST

START_TEST(test_parse_null)
{
	const char *tok = NULL;
	size_t len = 0;

	ck_assert_int_eq(auth_parse(NULL, &tok, &len), -1);
}
END_TEST

/* "Bearer " followed by a token of n bytes. */
static char *
make_header(size_t n)
{
	char *h = malloc(7 + n + 1);
	size_t i;

	ck_assert_ptr_nonnull(h);
	memcpy(h, "Bearer ", 7);
	for (i = 0; i < n; i++)
		h[7 + i] = (char)('a' + i % 26);
	h[7 + n] = '\0';
	return h;
}

START_TEST(test_parse_length)
{
	const char *tok = NULL;
	size_t len = 0;
	char *h;

	h = make_header(AUTH_TOKEN_MAX);
	ck_assert_int_eq(auth_parse(h, &tok, &len), 0);
	ck_assert_uint_eq(len, AUTH_TOKEN_MAX);
	ck_assert_ptr_eq(tok, h + 7);
	free(h);

	h = make_header(AUTH_TOKEN_MAX + 1);
	ck_assert_int_eq(auth_parse(h, &tok, &len), -1);
	free(h);
}
END_TEST

struct id_case {
	const char	*tok;
	const char	*hex;
};

static const struct id_case id_cases[] = {
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

START_TEST(test_token_id)
{
	const struct id_case *c = &id_cases[_i];
	char out[TOKEN_ID_LEN + 1];

	memset(out, 'X', sizeof(out));
	auth_token_id(c->tok, strlen(c->tok), out);
	ck_assert_str_eq(out, c->hex);
}
END_TEST

/* Only tok[0..len) is hashed, and different tokens give different ids. */
START_TEST(test_token_id_len)
{
	char a[TOKEN_ID_LEN + 1], b[TOKEN_ID_LEN + 1];

	auth_token_id("abcdef", 3, a);
	ck_assert_str_eq(a,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	auth_token_id("abd", 3, b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strlen(b), TOKEN_ID_LEN);
}
END_TEST

/* The whole chain: header -> token -> token_id. */
START_TEST(test_parse_then_id)
{
	const char *tok = NULL;
	size_t len = 0;
	char out[TOKEN_ID_LEN + 1];

	ck_assert_int_eq(auth_parse("bearer   abc  ", &tok, &len), 0);
	auth_token_id(tok, len, out);
	ck_assert_str_eq(out,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_valid, 0,
	    (int)(sizeof(valid_cases) / sizeof(valid_cases[0])));
	tcase_add_loop_test(tc, test_parse_invalid, 0,
	    (int)(sizeof(invalid_cases) / sizeof(invalid_cases[0])));
	tcase_add_test(tc, test_parse_null);
	tcase_add_test(tc, test_parse_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("token_id");
	tcase_add_loop_test(tc, test_token_id, 0,
	    (int)(sizeof(id_cases) / sizeof(id_cases[0])));
	tcase_add_test(tc, test_token_id_len);
	tcase_add_test(tc, test_parse_then_id);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
