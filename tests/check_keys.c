/*
 * Unit tests of keys.c's pure parts: which member names are valid (SPEC
 * 10: 1-64 of A-Z a-z 0-9 . _ -), the key's encoding ("lp_" and the
 * unpadded base64url of 32 bytes) checked on vectors, and that generated
 * keys have that form and differ; then cache_keys.c on a temporary file,
 * read behind its back by a second connection: every change logged and
 * counted in members_version, key hashes kept across a rotation, usage
 * summed per member from an hour on, and a change that waits for another
 * writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "auth.h"
#include "cache.h"
#include "keys.h"
#include "team.h"
#include "util.h"

static const char *const valid_names[] = {
	"a", "Z", "0", "alice", "Bob.Smith", "build_bot-2", "-", ".", "..",
	"_x_", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._",
};

START_TEST(test_name_valid)
{
	ck_assert_msg(team_name_valid(valid_names[_i]), "refused '%s'",
	    valid_names[_i]);
}
END_TEST

static const char *const invalid_names[] = {
	"", " ", "a b", " a", "a ", "a/b", "a\\b", "a@b", "a+b", "a:b", "a=b",
	"a,b", "a\"b", "a'b", "a\tb", "a\nb", "caf\xc3\xa9", "a\x7f", "a\x01",
	"\xff", "lp_key!",
};

START_TEST(test_name_invalid)
{
	ck_assert_msg(!team_name_valid(invalid_names[_i]), "accepted case %d",
	    _i);
}
END_TEST

/* 64 characters are a name, 65 are not. */
START_TEST(test_name_length)
{
	char name[TEAM_NAME_MAX + 2];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_uint_eq(strlen(name), 65);
	ck_assert(!team_name_valid(name));
	name[64] = '\0';
	ck_assert(team_name_valid(name));
	name[1] = '\0';
	ck_assert(team_name_valid(name));
}
END_TEST

struct encode_case {
	unsigned char	raw[KEYS_RAW_LEN];
	const char	*key;
};

/* Expected values from Python's base64.urlsafe_b64encode(), '=' dropped. */
static const struct encode_case encode_cases[] = {
	{ { 0 }, "lp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
	{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	    "lp___________________________________________8" },
	{ { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	    19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 },
	    "lp_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" },
	/* Where standard base64 has '+' and '/'. */
	{ { 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff,
	    0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb,
	    0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0xfe, 0xff },
	    "lp_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-__v8" },
};

START_TEST(test_encode)
{
	const struct encode_case *c = &encode_cases[_i];
	char key[KEYS_KEY_LEN + 2];

	memset(key, 'x', sizeof(key));
	keys_encode(c->raw, key);
	ck_assert_str_eq(key, c->key);
	ck_assert_uint_eq(strlen(key), KEYS_KEY_LEN);
	ck_assert_int_eq(key[KEYS_KEY_LEN + 1], 'x');	/* nothing past NUL */
}
END_TEST

/* "lp_" and 43 base64url characters, nothing else. */
static int
key_form(const char *key)
{
	return strlen(key) == KEYS_KEY_LEN && strncmp(key, "lp_", 3) == 0 &&
	    strspn(key + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == KEYS_KEY_LEN - 3;
}

#define NKEYS	200

START_TEST(test_generate)
{
	static char keys[NKEYS][KEYS_KEY_LEN + 1];
	char id[TOKEN_ID_LEN + 1];
	int i, j;

	for (i = 0; i < NKEYS; i++) {
		ck_assert_int_eq(keys_generate(keys[i]), 0);
		ck_assert_msg(key_form(keys[i]), "bad key '%s'", keys[i]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(keys[i], keys[j]);
	}
	/* What the database keeps: 64 lowercase hex digits. */
	auth_token_id(keys[0], strlen(keys[0]), id);
	ck_assert_uint_eq(strlen(id), TOKEN_ID_LEN);
	ck_assert_uint_eq(strspn(id, "0123456789abcdef"), TOKEN_ID_LEN);
}
END_TEST

/* 32 random bytes: every character of the alphabet shows up. */
START_TEST(test_generate_spread)
{
	char key[KEYS_KEY_LEN + 1];
	int seen[256] = { 0 }, n = 0, i, k;

	for (k = 0; k < 100; k++) {
		ck_assert_int_eq(keys_generate(key), 0);
		/* The last character carries 4 bits only. */
		for (i = 3; i < KEYS_KEY_LEN - 1; i++)
			seen[(unsigned char)key[i]] = 1;
	}
	for (i = 0; i < 256; i++)
		n += seen[i];
	ck_assert_int_eq(n, 64);
}
END_TEST

#define T		1700000000000LL
#define H1		"1111111111111111111111111111111111111111111111111111111111111111"
#define H2		"2222222222222222222222222222222222222222222222222222222222222222"
#define H3		"3333333333333333333333333333333333333333333333333333333333333333"

/* The database of the current test, and a second connection to it. */
static char dbpath[64];
static sqlite3 *raw;

static struct cache *
open_temp(void)
{
	struct cache *c;
	char err[512];
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_keys.XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	ck_assert_int_eq(unlink(dbpath), 0);
	c = cache_open(dbpath, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(sqlite3_open(dbpath, &raw), SQLITE_OK);
	sqlite3_busy_timeout(raw, 5000);
	return c;
}

static void
close_temp(struct cache *c)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[128];
	size_t i;

	cache_close(c);
	sqlite3_close(raw);
	raw = NULL;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, sfx[i]);
		(void)unlink(p);
	}
}

/* Runs sql on the second connection. */
static void
raw_exec(const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(raw, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "?");
}

/* The text of a one-value query on the second connection ("NULL" for null). */
static const char *
raw_text(const char *sql)
{
	static char out[256];
	sqlite3_stmt *st;
	const unsigned char *v;

	ck_assert_int_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_text(st, 0);
	snprintf(out, sizeof(out), "%s", v ? (const char *)v : "NULL");
	sqlite3_finalize(st);
	return out;
}

static struct cache_keys_member
member(const char *name, int admin, int64_t rpm, int64_t expires)
{
	struct cache_keys_member m;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.admin = admin;
	m.rpm = rpm;
	m.max_running = 2;
	m.daily_credits = 100;
	m.created = T;
	m.expires = expires;
	m.last_used = -1;
	return m;
}

/* Appends "action:name " to the string arg. */
static int
log_row(int64_t at, const char *action, const char *name,
    const char *changes, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	ck_assert_int_ge(at, T);
	ck_assert_ptr_nonnull(changes);
	snprintf(out + n, 256 - n, "%s:%s ", action, name);
	return 0;
}

/* Every change: its log row, the version, what it did; unknown names. */
START_TEST(test_cache_changes)
{
	struct cache *c = open_temp();
	struct cache_keys_member m = member("alice", 1, 5, -1), got;
	char log[256] = "";

	ck_assert_str_eq(raw_text("SELECT version FROM members_version"), "0");
	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	ck_assert_int_eq(cache_keys_add(c, &m, H1), 0);
	ck_assert_int_eq(cache_keys_commit(c, T, "add", "alice",
	    "admin=yes"), 0);
	ck_assert_str_eq(raw_text("SELECT version FROM members_version"), "1");
	ck_assert_str_eq(raw_text("SELECT time || ' ' || action || ' ' ||"
	    " name || ' ' || changes FROM members_log"),
	    "1700000000000 add alice admin=yes");
	ck_assert_str_eq(raw_text("SELECT key_hash || ' ' ||"
	    " coalesce(old_key_hash, 'none') FROM members"), H1 " none");

	ck_assert_int_eq(cache_keys_get(c, "alice", &got), 1);
	ck_assert_str_eq(got.name, "alice");
	ck_assert_int_eq(got.admin, 1);
	ck_assert_int_eq(got.rpm, 5);
	ck_assert_int_eq(got.max_running, 2);
	ck_assert_int_eq(got.daily_credits, 100);
	ck_assert_int_eq(got.created, T);
	ck_assert_int_eq(got.expires, -1);
	ck_assert_int_eq(got.last_used, -1);
	ck_assert_int_eq(cache_keys_get(c, "bob", &got), 0);

	/* A name taken: nothing written, nothing counted. */
	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	ck_assert_int_eq(cache_keys_add(c, &m, H2), 1);
	cache_keys_rollback(c);
	ck_assert_str_eq(raw_text("SELECT version FROM members_version"), "1");

	/* set leaves the server's last_used alone. */
	raw_exec("UPDATE members SET last_used = 1700000000005");
	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	m = member("alice", 0, 0, T + 100);
	ck_assert_int_eq(cache_keys_set(c, &m), 1);
	ck_assert_int_eq(cache_keys_commit(c, T + 1, "set", "alice", "x"), 0);
	ck_assert_int_eq(cache_keys_get(c, "alice", &got), 1);
	ck_assert_int_eq(got.admin, 0);
	ck_assert_int_eq(got.rpm, 0);
	ck_assert_int_eq(got.expires, T + 100);
	ck_assert_int_eq(got.last_used, T + 5);

	/* A rotation with a grace period keeps the old hash until then. */
	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	ck_assert_int_eq(cache_keys_rotate(c, "alice", H2, T + 60000), 1);
	ck_assert_int_eq(cache_keys_commit(c, T + 2, "rotate", "alice", "x"),
	    0);
	ck_assert_str_eq(raw_text("SELECT key_hash || ' ' || old_key_hash ||"
	    " ' ' || old_key_until FROM members"), H2 " " H1 " 1700000060000");
	/* ...and without one, the old key is gone at once. */
	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	ck_assert_int_eq(cache_keys_rotate(c, "alice", H3, -1), 1);
	ck_assert_int_eq(cache_keys_commit(c, T + 3, "rotate", "alice", "x"),
	    0);
	ck_assert_str_eq(raw_text("SELECT key_hash || ' ' ||"
	    " coalesce(old_key_hash, 'none') || ' ' ||"
	    " coalesce(old_key_until, 'none') FROM members"), H3 " none none");

	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	m = member("bob", 0, 0, -1);
	ck_assert_int_eq(cache_keys_set(c, &m), 0);
	ck_assert_int_eq(cache_keys_rotate(c, "bob", H1, -1), 0);
	ck_assert_int_eq(cache_keys_revoke(c, "bob"), 0);
	ck_assert_int_eq(cache_keys_revoke(c, "alice"), 1);
	ck_assert_int_eq(cache_keys_commit(c, T + 4, "revoke", "alice", "x"),
	    0);
	ck_assert_int_eq(cache_keys_get(c, "alice", &got), 0);
	ck_assert_str_eq(raw_text("SELECT count(*) FROM members"), "0");
	ck_assert_str_eq(raw_text("SELECT version FROM members_version"), "5");
	ck_assert_int_eq(cache_keys_log(c, log_row, log), 0);
	ck_assert_str_eq(log, "add:alice set:alice rotate:alice rotate:alice"
	    " revoke:alice ");
	close_temp(c);
}
END_TEST

/* Appends each member's name and a space to the string arg. */
static int
list_name(const struct cache_keys_member *m, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s ", m->name);
	return 0;
}

START_TEST(test_cache_list)
{
	struct cache *c = open_temp();
	static const char *const names[] = { "b", "a", "c" };
	static const char *const hashes[] = { H1, H2, H3 };
	struct cache_keys_member m;
	char out[256] = "";
	size_t i;

	ck_assert_int_eq(cache_keys_list(c, list_name, out), 0);
	ck_assert_str_eq(out, "");
	for (i = 0; i < 3; i++) {
		m = member(names[i], 0, 0, -1);
		ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
		ck_assert_int_eq(cache_keys_add(c, &m, hashes[i]), 0);
		ck_assert_int_eq(cache_keys_commit(c, T, "add", names[i], ""),
		    0);
	}
	ck_assert_int_eq(cache_keys_list(c, list_name, out), 0);
	ck_assert_str_eq(out, "a b c ");
	close_temp(c);
}
END_TEST

/* Appends "name:requests/hits/credits/refused_rpm " to the string arg. */
static int
usage_row(const struct cache_keys_usage *u, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s:%lld/%lld/%g/%lld ", u->name,
	    (long long)u->requests, (long long)u->hits, u->credits,
	    (long long)u->refused_rpm);
	return 0;
}

/* Every member and every name with usage, summed from since's hour on. */
START_TEST(test_cache_usage)
{
	struct cache *c = open_temp();
	struct cache_keys_member m = member("m1", 0, 0, -1);
	char out[256];

	ck_assert_int_eq(cache_keys_begin(c, 1000), 0);
	ck_assert_int_eq(cache_keys_add(c, &m, H1), 0);
	ck_assert_int_eq(cache_keys_commit(c, T, "add", "m1", ""), 0);
	raw_exec("INSERT INTO usage (name, hour, requests, hits, credits,"
	    " refused_rpm) VALUES ('m1', 10, 1, 1, 1.5, 0),"
	    " ('m1', 20, 2, 0, 2, 1), ('x', 5, 7, 0, 0, 0),"
	    " ('y', 30, 0, 3, 0, 0)");
	out[0] = '\0';
	ck_assert_int_eq(cache_keys_usage(c, -1, usage_row, out), 0);
	ck_assert_str_eq(out, "m1:3/1/3.5/1 x:7/0/0/0 y:0/3/0/0 ");
	/* From inside hour 20: that hour counts, x has none left. */
	out[0] = '\0';
	ck_assert_int_eq(cache_keys_usage(c, 20 * 3600000LL + 1234, usage_row,
	    out), 0);
	ck_assert_str_eq(out, "m1:2/0/2/1 y:0/3/0/0 ");
	/* A member with nothing in the period still has its line. */
	out[0] = '\0';
	ck_assert_int_eq(cache_keys_usage(c, 31 * 3600000LL, usage_row, out),
	    0);
	ck_assert_str_eq(out, "m1:0/0/0/0 ");
	close_temp(c);
}
END_TEST

/* A change waits for another writer, and says when it waited too long. */
START_TEST(test_cache_busy)
{
	struct cache *c = open_temp();
	int64_t t0;

	cache_set_busy_timeout(c, 50);
	raw_exec("BEGIN IMMEDIATE");
	t0 = util_mono_ms();
	ck_assert_int_eq(cache_keys_begin(c, 300), 1);
	ck_assert_int_ge(util_mono_ms() - t0, 300);
	raw_exec("COMMIT");
	ck_assert_int_eq(cache_keys_begin(c, 300), 0);
	cache_keys_rollback(c);
	cache_keys_rollback(c);		/* none under way: nothing happens */
	close_temp(c);
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_name_valid, 0,
	    (int)(sizeof(valid_names) / sizeof(valid_names[0])));
	tcase_add_loop_test(tc, test_name_invalid, 0,
	    (int)(sizeof(invalid_names) / sizeof(invalid_names[0])));
	tcase_add_test(tc, test_name_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_loop_test(tc, test_encode, 0,
	    (int)(sizeof(encode_cases) / sizeof(encode_cases[0])));
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_generate_spread);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_test(tc, test_cache_changes);
	tcase_add_test(tc, test_cache_list);
	tcase_add_test(tc, test_cache_usage);
	tcase_add_test(tc, test_cache_busy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(keys_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
