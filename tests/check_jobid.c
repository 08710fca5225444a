/*
 * Unit tests of jobid.c: one round of percent-decoding, the validity rules of
 * SPEC 2.1 (length, first byte, visible ASCII, no / \ ? # % after decoding)
 * and the canonical upstream encoding, driven as tables.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "jobid.h"

#define SPEC_JOBID "j0326140530123456789v-u12345-email:user@example.com:" \
	"a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma"

/* Decodes a NUL-terminated segment. */
static int
decode(const char *seg, char *out)
{
	return jobid_decode(seg, strlen(seg), out);
}

struct valid_case {
	const char	*seg;
	const char	*want;
};

static const struct valid_case valid_cases[] = {
	{ SPEC_JOBID, SPEC_JOBID },
	{ "j0326140530123456789v-u12345-email:user%40example.com:"
	  "a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma", SPEC_JOBID },
	{ "j%3A%40", "j:@" },
	{ "j%4a%4A", "jJJ" },		/* hex digits in either case */
	{ "%6Aabc", "jabc" },		/* the leading j may be encoded */
	{ "j+1", "j+1" },		/* '+' is not a space here */
	{ "j!$&'()*+,;=[]^`{|}~\"<>", "j!$&'()*+,;=[]^`{|}~\"<>" },
	{ "j", "j" },
	{ "j%7E", "j~" },
	{ "j%21", "j!" },
};

START_TEST(test_decode_valid)
{
	const struct valid_case *c = &valid_cases[_i];
	char out[JOBID_MAX + 1];

	ck_assert_msg(decode(c->seg, out) == 0, "rejected %s", c->seg);
	ck_assert_str_eq(out, c->want);
}
END_TEST

static const char *const invalid_cases[] = {
	"",
	"x123",
	"J123",			/* must start with a lowercase j */
	"%4A123",		/* decodes to J */
	"j12 3",		/* space */
	"j12\t3",
	"j12\x7f",
	"j12\x80",
	"j12\xff",
	"j12/3",
	"j12\\3",
	"j12?3",
	"j12#3",
	"j12%",			/* truncated escape */
	"j12%4",
	"j12%zz",
	"j12%4z",
	"j12%z4",
	"j12%00",
	"j12%2F",
	"j12%2f",
	"j12%5C",
	"j12%3F",
	"j12%23",
	"j12%25",
	"j12%252F",		/* decodes once to %2F, which holds '%' */
	"j12%20",
	"j12%09",
	"j12%7F",
	"j12%80",
	"j12%FF",
	"%2Fj",
	"j/",			/* a trailing slash too */
};

START_TEST(test_decode_invalid)
{
	const char *seg = invalid_cases[_i];
	char out[JOBID_MAX + 1];

	ck_assert_msg(decode(seg, out) == -1, "accepted case %d", _i);
}
END_TEST

/* An embedded NUL within len is a control byte, not the end. */
START_TEST(test_decode_embedded_nul)
{
	static const char seg[] = "j12\0" "34";
	char out[JOBID_MAX + 1];

	ck_assert_int_eq(jobid_decode(seg, sizeof(seg) - 1, out), -1);
}
END_TEST

/* Only seg[0..len) is read: the rest of the path is not part of it. */
START_TEST(test_decode_uses_len)
{
	static const char path[] = "jabc/def";
	char out[JOBID_MAX + 1];

	ck_assert_int_eq(jobid_decode(path, 4, out), 0);
	ck_assert_str_eq(out, "jabc");
	ck_assert_int_eq(jobid_decode(path, 5, out), -1);
	ck_assert_int_eq(jobid_decode(path, 0, out), -1);

	/* An escape cut off by len is truncated, whatever follows it. */
	ck_assert_int_eq(jobid_decode("j%41", 4, out), 0);
	ck_assert_str_eq(out, "jA");
	ck_assert_int_eq(jobid_decode("j%41", 3, out), -1);
	ck_assert_int_eq(jobid_decode("j%41", 2, out), -1);
}
END_TEST

/* Fills buf with a jobid of n bytes: 'j' then the digits. */
static void
make_long(char *buf, size_t n)
{
	size_t i;

	buf[0] = 'j';
	for (i = 1; i < n; i++)
		buf[i] = (char)('0' + i % 10);
	buf[n] = '\0';
}

START_TEST(test_decode_length)
{
	char seg[JOBID_MAX + 2], out[JOBID_MAX + 1];

	make_long(seg, JOBID_MAX);
	ck_assert_int_eq(decode(seg, out), 0);
	ck_assert_uint_eq(strlen(out), JOBID_MAX);
	ck_assert_str_eq(out, seg);

	make_long(seg, JOBID_MAX + 1);
	ck_assert_int_eq(decode(seg, out), -1);
}
END_TEST

/* The limit is on decoded bytes: 512 escapes are 512 bytes. */
START_TEST(test_decode_length_encoded)
{
	char seg[(JOBID_MAX + 1) * 3 + 1], out[JOBID_MAX + 1];
	size_t i;

	seg[0] = 'j';
	for (i = 1; i < JOBID_MAX; i++)
		memcpy(seg + 1 + (i - 1) * 3, "%41", 3);
	seg[1 + (JOBID_MAX - 1) * 3] = '\0';
	ck_assert_int_eq(decode(seg, out), 0);
	ck_assert_uint_eq(strlen(out), JOBID_MAX);
	ck_assert_int_eq(out[0], 'j');
	ck_assert_int_eq(out[JOBID_MAX - 1], 'A');

	memcpy(seg + 1 + (JOBID_MAX - 1) * 3, "%41", 4);
	ck_assert_int_eq(decode(seg, out), -1);
}
END_TEST

struct enc_case {
	const char	*in;
	const char	*want;
};

static const struct enc_case enc_cases[] = {
	{ SPEC_JOBID, SPEC_JOBID },
	{ "jAZaz09-._~:@", "jAZaz09-._~:@" },
	{ "j!", "j%21" },
	{ "j\"", "j%22" },
	{ "j$&'()*+,;=", "j%24%26%27%28%29%2A%2B%2C%3B%3D" },
	{ "j<>[]^`{|}", "j%3C%3E%5B%5D%5E%60%7B%7C%7D" },
	{ "j/\\?#% ", "j%2F%5C%3F%23%25%20" },
	{ "j\x7f\x80\xff", "j%7F%80%FF" },
};

START_TEST(test_encode)
{
	const struct enc_case *c = &enc_cases[_i];
	char out[JOBID_ENC_MAX];

	jobid_encode(c->in, out);
	ck_assert_str_eq(out, c->want);
}
END_TEST

/* Every byte: unreserved ones stay, others become %XX in uppercase. */
START_TEST(test_encode_every_byte)
{
	static const char keep[] = "-._~:@";
	char in[3], out[JOBID_ENC_MAX], want[8];
	int b;

	for (b = 1; b < 256; b++) {
		int kept = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
		    (b >= '0' && b <= '9') || strchr(keep, b) != NULL;

		in[0] = 'j';
		in[1] = (char)b;
		in[2] = '\0';
		jobid_encode(in, out);
		want[0] = 'j';
		if (kept) {
			want[1] = (char)b;
			want[2] = '\0';
		} else {
			want[1] = '%';
			want[2] = "0123456789ABCDEF"[b >> 4];
			want[3] = "0123456789ABCDEF"[b & 0xf];
			want[4] = '\0';
		}
		ck_assert_msg(strcmp(out, want) == 0, "byte 0x%02x: got %s",
		    b, out);
	}
}
END_TEST

static const char *const roundtrip_cases[] = {
	SPEC_JOBID,
	"j",
	"j!\"$&'()*+,-.:;<=>@[]^_`{|}~",
	"jABCxyz0189",
	"j@@::~~",
};

/* decode(encode(x)) == x, and encode(decode(encode(x))) is stable. */
START_TEST(test_roundtrip)
{
	const char *x = roundtrip_cases[_i];
	char enc[JOBID_ENC_MAX], dec[JOBID_MAX + 1], enc2[JOBID_ENC_MAX];

	ck_assert_int_eq(decode(x, dec), 0);
	ck_assert_str_eq(dec, x);
	jobid_encode(x, enc);
	ck_assert_int_eq(decode(enc, dec), 0);
	ck_assert_str_eq(dec, x);
	jobid_encode(dec, enc2);
	ck_assert_str_eq(enc2, enc);
}
END_TEST

/* Every visible byte a valid jobid may hold survives the round trip. */
START_TEST(test_roundtrip_all_visible)
{
	char x[JOBID_MAX + 1], enc[JOBID_ENC_MAX], dec[JOBID_MAX + 1];
	size_t n = 0;
	int b;

	x[n++] = 'j';
	for (b = 0x21; b <= 0x7e; b++)
		if (strchr("/\\?#%", b) == NULL)
			x[n++] = (char)b;
	x[n] = '\0';
	ck_assert_int_eq(decode(x, dec), 0);
	jobid_encode(x, enc);
	ck_assert_ptr_null(strchr(enc, '/'));
	ck_assert_ptr_null(strchr(enc, '?'));
	ck_assert_ptr_null(strchr(enc, '#'));
	ck_assert_int_eq(decode(enc, dec), 0);
	ck_assert_str_eq(dec, x);
}
END_TEST

/* The longest id, all escaped: fits JOBID_ENC_MAX and comes back. */
START_TEST(test_roundtrip_longest)
{
	char x[JOBID_MAX + 1], enc[JOBID_ENC_MAX], dec[JOBID_MAX + 1];

	memset(x, '!', JOBID_MAX);
	x[0] = 'j';
	x[JOBID_MAX] = '\0';
	jobid_encode(x, enc);
	ck_assert_uint_eq(strlen(enc), 1 + (JOBID_MAX - 1) * 3);
	ck_assert_int_eq(decode(enc, dec), 0);
	ck_assert_str_eq(dec, x);
}
END_TEST

/* An already decoded jobid: valid as is, never decoded again. */
START_TEST(test_valid)
{
	ck_assert(jobid_valid("j123-abc"));
	ck_assert(jobid_valid("jx:y@z"));
	ck_assert(!jobid_valid("j%41"));	/* would decode to "jA" */
	ck_assert(!jobid_valid("x123"));
	ck_assert(!jobid_valid("j/1"));
	ck_assert(!jobid_valid("j 1"));
	ck_assert(!jobid_valid(""));
}
END_TEST

static Suite *
jobid_suite(void)
{
	Suite *s = suite_create("jobid");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode_valid, 0,
	    (int)(sizeof(valid_cases) / sizeof(valid_cases[0])));
	tcase_add_loop_test(tc, test_decode_invalid, 0,
	    (int)(sizeof(invalid_cases) / sizeof(invalid_cases[0])));
	tcase_add_test(tc, test_decode_embedded_nul);
	tcase_add_test(tc, test_decode_uses_len);
	tcase_add_test(tc, test_decode_length);
	tcase_add_test(tc, test_decode_length_encoded);
	tcase_add_test(tc, test_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_loop_test(tc, test_encode, 0,
	    (int)(sizeof(enc_cases) / sizeof(enc_cases[0])));
	tcase_add_test(tc, test_encode_every_byte);
	tcase_add_loop_test(tc, test_roundtrip, 0,
	    (int)(sizeof(roundtrip_cases) / sizeof(roundtrip_cases[0])));
	tcase_add_test(tc, test_roundtrip_all_visible);
	tcase_add_test(tc, test_roundtrip_longest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(jobid_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
