/*
 * Unit tests of the team gateway's rules: keys and their rotation and
 * expiry, the three limits and their Retry-After, who sees which job, which
 * paths are admin-only or submissions, credits read from a record, and the
 * token file as ssh would read a key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "gateway.h"
#include "team.h"

#define T0		1700000000000LL		/* ms */
#define MAX_AGE		(86400 * 1000LL)

/* A team with one member called name whose key is key. */
static struct team *
team_with(const char *name, const char *key, int64_t rpm, int64_t running,
    int64_t credits, struct member **m)
{
	struct team *t = team_new(MAX_AGE);
	struct team_key k;

	ck_assert_ptr_nonnull(t);
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "%s", name);
	auth_token_id(key, strlen(key), k.key_hash);
	k.rpm = rpm;
	k.max_running = running;
	k.daily_credits = credits;
	team_load_begin(t);
	ck_assert_int_eq(team_load(t, &k), 0);
	ck_assert_int_eq(team_load_end(t), 0);
	*m = team_find_name(t, name);
	ck_assert_ptr_nonnull(*m);
	return t;
}

static struct member *
find(struct team *t, const char *key, int64_t now)
{
	char id[TOKEN_ID_LEN + 1];

	auth_token_id(key, strlen(key), id);
	return team_find_key(t, id, now);
}

START_TEST(test_key_exact)
{
	struct member *m;
	struct team *t = team_with("alice", "lp_key", 0, 0, 0, &m);

	ck_assert_ptr_eq(find(t, "lp_key", T0), m);
	ck_assert_str_eq(m->tag, "@alice");
	ck_assert_ptr_null(find(t, "LP_KEY", T0));
	ck_assert_ptr_null(find(t, "lp_key=", T0));
	ck_assert_ptr_null(find(t, "lp_ke", T0));
	ck_assert_ptr_null(team_find_key(t, "short", T0));
	team_free(t);
}
END_TEST

START_TEST(test_key_revoked_rotated_expired)
{
	struct member *m;
	struct team *t = team_with("alice", "old", 0, 0, 0, &m);
	struct team_key k = m->key;

	/* Rotated with 10 s of grace: both work, then only the new one. */
	memcpy(k.old_hash, k.key_hash, sizeof(k.old_hash));
	auth_token_id("new", 3, k.key_hash);
	k.old_until = T0 + 10000;
	team_load_begin(t);
	ck_assert_int_eq(team_load(t, &k), 0);
	ck_assert_int_eq(team_load_end(t), 0);
	ck_assert_ptr_eq(find(t, "new", T0), m);
	ck_assert_ptr_eq(find(t, "old", T0 + 9999), m);
	ck_assert_ptr_null(find(t, "old", T0 + 10000));
	ck_assert_ptr_eq(find(t, "new", T0 + 10000), m);

	/* Expired. */
	k.expires = T0 + 20000;
	team_load_begin(t);
	ck_assert_int_eq(team_load(t, &k), 0);
	ck_assert_int_eq(team_load_end(t), 0);
	ck_assert_ptr_eq(find(t, "new", T0 + 19999), m);
	ck_assert_ptr_null(find(t, "new", T0 + 20000));

	/* Revoked: not loaded; the member stays, without a key. */
	team_load_begin(t);
	ck_assert_int_eq(team_load_end(t), 0);
	ck_assert_ptr_null(find(t, "new", T0));
	ck_assert_ptr_eq(team_find_name(t, "alice"), m);
	ck_assert_int_eq(m->present, 0);
	team_free(t);
}
END_TEST

/* Many members: every key finds its own member. */
START_TEST(test_key_many)
{
	struct team *t = team_new(MAX_AGE);
	struct team_key k;
	char key[32];
	int i;

	team_load_begin(t);
	for (i = 0; i < 500; i++) {
		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "m%d", i);
		snprintf(key, sizeof(key), "key%d", i);
		auth_token_id(key, strlen(key), k.key_hash);
		ck_assert_int_eq(team_load(t, &k), 0);
	}
	ck_assert_int_eq(team_load_end(t), 0);
	for (i = 0; i < 500; i++) {
		struct member *m;

		snprintf(key, sizeof(key), "key%d", i);
		m = find(t, key, T0);
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(atoi(m->key.name + 1), i);
	}
	ck_assert_ptr_null(find(t, "key500", T0));
	team_free(t);
}
END_TEST

START_TEST(test_max_running_atomic)
{
	struct member *m;
	struct team *t = team_with("a", "k", 0, 3, 0, &m);
	int64_t retry = -1;
	int ok = 0, i;

	/* 20 at once: submissions in flight count. */
	for (i = 0; i < 20; i++)
		if (team_submit(m, T0, 5, &retry) == TEAM_LIMIT_NONE)
			ok++;
	ck_assert_int_eq(ok, 3);
	ck_assert_int_eq(retry, 5);
	ck_assert_uint_eq(m->total.refused[TEAM_LIMIT_RUNNING], 17);
	/* One made no job, two did. */
	team_submit_done(m, NULL, T0);
	team_submit_done(m, "j1", T0);
	team_submit_done(m, "j2", T0);
	ck_assert_uint_eq(team_running_count(m, T0), 2);
	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_NONE);
	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_RUNNING);
	team_submit_done(m, "j3", T0);
	/* A finished job frees its place. */
	team_job_finished(m, "j2", 0, 0, T0 + 1000);
	ck_assert_uint_eq(team_running_count(m, T0 + 1000), 2);
	ck_assert_uint_eq(m->total.failed, 1);
	ck_assert_int_eq(team_submit(m, T0 + 1000, 5, &retry), TEAM_LIMIT_NONE);
	team_free(t);
}
END_TEST

START_TEST(test_running_expires)
{
	struct member *m;
	struct team *t = team_with("a", "k", 0, 1, 0, &m);
	int64_t retry;

	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_NONE);
	team_submit_done(m, "j1", T0);
	ck_assert_int_eq(team_submit(m, T0 + 1000, 5, &retry),
	    TEAM_LIMIT_RUNNING);
	/* Fetched unfinished: it keeps counting from then on. */
	team_job_seen(m, "j1", T0 + MAX_AGE - 1);
	ck_assert_int_eq(team_submit(m, T0 + MAX_AGE, 5, &retry),
	    TEAM_LIMIT_RUNNING);
	/* Nobody asked for watch-max-age: it stops counting. */
	ck_assert_int_eq(team_submit(m, T0 + 2 * MAX_AGE, 5, &retry),
	    TEAM_LIMIT_NONE);
	team_free(t);
}
END_TEST

START_TEST(test_rpm_bucket)
{
	struct member *m;
	struct team *t = team_with("a", "k", 2, 0, 0, &m);
	int64_t retry = 0;

	/* Burst = rpm, then one token every 30 s. */
	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_NONE);
	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_NONE);
	ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_RPM);
	ck_assert_int_eq(retry, 30);
	ck_assert_int_eq(team_submit(m, T0 + 20000, 5, &retry), TEAM_LIMIT_RPM);
	ck_assert_int_eq(retry, 10);
	ck_assert_int_eq(team_submit(m, T0 + 30000, 5, &retry), TEAM_LIMIT_NONE);
	ck_assert_uint_eq(m->total.refused[TEAM_LIMIT_RPM], 2);
	team_free(t);
}
END_TEST

START_TEST(test_daily_credits)
{
	struct member *m;
	struct team *t = team_with("a", "k", 0, 0, 30, &m);
	int64_t retry = 0;

	team_job_finished(m, "j1", 1, 20, T0);
	ck_assert_int_eq(team_submit(m, T0 + 1, 5, &retry), TEAM_LIMIT_NONE);
	team_submit_done(m, NULL, T0 + 1);
	team_job_finished(m, "j2", 1, 15, T0 + 3600000);
	ck_assert(team_spent(m, T0 + 3600000) == 35);
	/* At or above the budget; passes once j1's 20 leave the window. */
	ck_assert_int_eq(team_submit(m, T0 + 3600000, 5, &retry),
	    TEAM_LIMIT_CREDITS);
	ck_assert_int_eq(retry, 86400 - 3600);
	ck_assert_int_eq(team_submit(m, T0 + TEAM_DAY_MS, 5, &retry),
	    TEAM_LIMIT_NONE);
	ck_assert(m->total.credits == 35);
	ck_assert_uint_eq(m->total.completed, 2);
	team_free(t);
}
END_TEST

START_TEST(test_unlimited)
{
	struct member *m;
	struct team *t = team_with("a", "k", 0, 0, 0, &m);
	int64_t retry;

	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(team_submit(m, T0, 5, &retry), TEAM_LIMIT_NONE);
	team_free(t);
}
END_TEST

START_TEST(test_visibility)
{
	struct member *m;
	struct team *t = team_with("alice", "k", 0, 0, 0, &m);

	ck_assert(team_may_see(m, "alice", 0));
	ck_assert(!team_may_see(m, "bob", 0));
	ck_assert(!team_may_see(m, "alicex", 0));
	ck_assert(!team_may_see(m, NULL, 0));
	ck_assert(team_may_see(m, "bob", 1));
	ck_assert(team_may_see(m, NULL, 1));
	m->key.admin = 1;
	ck_assert(team_may_see(m, "bob", 0));
	ck_assert(team_may_see(m, NULL, 0));
	team_free(t);
}
END_TEST

static const struct {
	const char	*path;
	int		 post;
	enum gateway_path want;
} paths[] = {
	{ "/v1/luma/accounts", 0, GATEWAY_ADMIN },
	{ "/v1/luma/accounts/", 0, GATEWAY_ADMIN },
	{ "/v1/luma/accounts/123", 1, GATEWAY_ADMIN },
	{ "/v1/luma/Accounts", 0, GATEWAY_ADMIN },
	{ "/V1/LUMA/ACCOUNTS", 0, GATEWAY_ADMIN },
	{ "/v1/luma/accountsx", 0, GATEWAY_OPEN },
	{ "/v1/luma/account", 0, GATEWAY_OPEN },
	{ "/v1/luma", 0, GATEWAY_OPEN },
	{ "/v1/other/accounts", 0, GATEWAY_OPEN },
	{ "/v1/luma/videos", 1, GATEWAY_SUBMIT_VIDEO },
	{ "/v1/luma/videos/", 1, GATEWAY_SUBMIT_VIDEO },
	{ "/v1/luma/VIDEOS", 1, GATEWAY_SUBMIT_VIDEO },
	{ "/v1/luma/images", 1, GATEWAY_SUBMIT_IMAGE },
	{ "/v1/luma/videos", 0, GATEWAY_OPEN },
	{ "/v1/luma/videos/extend", 1, GATEWAY_OPEN },
	{ "/v1/luma/a%20b", 0, GATEWAY_ODD },
	{ "/v1/luma/files/a%20b", 0, GATEWAY_OPEN },
	{ "/v1/luma/files/a%3Ab%40c", 0, GATEWAY_OPEN },
	{ "/v1/luma/files/x.mp4;v=1", 0, GATEWAY_OPEN },
	{ "/v1/luma/jobs/j1", 1, GATEWAY_JOBS },
	{ "/v1/luma/Jobs/j1", 0, GATEWAY_JOBS },
	/* Spellings no two servers need read alike. */
	{ "/v1/luma//accounts", 0, GATEWAY_ODD },
	{ "//v1/luma/accounts", 0, GATEWAY_ODD },
	{ "/v1/luma/%61ccounts", 0, GATEWAY_ODD },
	{ "/v1/luma%2Faccounts", 0, GATEWAY_ODD },
	{ "/v1/luma%2faccounts", 0, GATEWAY_ODD },
	{ "/v1/luma%5Caccounts", 0, GATEWAY_ODD },
	{ "/v1/luma\\accounts", 0, GATEWAY_ODD },
	{ "/v1/luma/%2e/accounts", 0, GATEWAY_ODD },
	{ "/v1/luma/x/%2E%2E/accounts", 0, GATEWAY_ODD },
	{ "/v1/luma/.%2e/luma/images", 1, GATEWAY_ODD },
	{ "/v1/luma/./videos", 1, GATEWAY_ODD },
	{ "/v1/luma//Videos", 1, GATEWAY_ODD },
	{ "/v1/luma/%76ideos", 1, GATEWAY_ODD },
	{ "/v1/luma/%6Aobs/j1", 0, GATEWAY_ODD },
	{ "/v1//luma/jobs/j1", 0, GATEWAY_ODD },
	{ "/v1/%6Cuma/jobs/j1", 0, GATEWAY_ODD },
	{ "/v1/luma/%00/x", 0, GATEWAY_ODD },
	{ "v1/luma/accounts", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts;x", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts%3Bx", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts%20", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts%09", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts.", 0, GATEWAY_ODD },
	{ "/v1/luma/accounts%C5%BF", 0, GATEWAY_ODD },
	{ "/v1/luma/videos;a=b", 1, GATEWAY_ODD },
	{ "/v1/luma/videos.", 1, GATEWAY_ODD },
	{ "/v1/luma/jobs;x/j1", 0, GATEWAY_ODD },
	{ "/v1/luma.x/accounts", 0, GATEWAY_ODD },
	{ "", 0, GATEWAY_ODD },
};

START_TEST(test_path_kind)
{
	ck_assert_msg(gateway_path_kind(paths[_i].path, paths[_i].post) ==
	    paths[_i].want, "%s", paths[_i].path);
}
END_TEST

static const struct {
	const char	*body;
	int		 rc;
	double		 credits;
} credit_cases[] = {
	{ "{\"credits\":{\"dm_usage\":20}}", 0, 20 },
	{ "{\"credits\":{\"dm_usage\":2.5}}", 0, 2.5 },
	{ "{\"credits\":{\"dm_usage\":null}}", 0, 0 },
	{ "{\"credits\":null}", 0, 0 },
	{ "{\"status\":\"completed\"}", 0, 0 },
	{ "{\"credits\":{\"dm_usage\":\"20\"}}", -1, 0 },
	{ "{\"credits\":{\"dm_usage\":-5}}", -1, 0 },
	{ "{\"credits\":{\"dm_usage\":[1]}}", -1, 0 },
	{ "{\"credits\":{\"dm_usage\":true}}", -1, 0 },
	{ "not json", -1, 0 },
};

START_TEST(test_credits)
{
	double c = -1;
	const char *b = credit_cases[_i].body;

	ck_assert_int_eq(gateway_credits(b, strlen(b), &c), credit_cases[_i].rc);
	ck_assert_msg(c == credit_cases[_i].credits, "%s: %g", b, c);
}
END_TEST

/* Writes s to a file of mode; returns its path (static). */
static const char *
token_file(const char *s, mode_t mode)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/check_team.%ld", (long)getpid());
	unlink(path);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(s, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(test_token_file)
{
	char tok[AUTH_TOKEN_MAX + 1], err[512];
	const char *p;

	p = token_file("sk-abc\nsecond line\n", 0600);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(tok, "sk-abc");
	p = token_file("sk-abc \r\n", 0400);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(tok, "sk-abc");

	p = token_file("sk-abc\n", 0644);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too open"));
	ck_assert_ptr_null(strstr(err, "sk-abc"));
	p = token_file("sk-abc\n", 0640);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	p = token_file("sk-abc\n", 0602);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	p = token_file("", 0600);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	p = token_file("\nsk-abc\n", 0600);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	{
		char long_line[AUTH_TOKEN_MAX + 3];

		memset(long_line, 'k', AUTH_TOKEN_MAX);
		long_line[AUTH_TOKEN_MAX] = '\n';
		long_line[AUTH_TOKEN_MAX + 1] = '\0';
		p = token_file(long_line, 0600);
		ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
		    sizeof(err)), 0);
		ck_assert_uint_eq(strlen(tok), AUTH_TOKEN_MAX);
		long_line[AUTH_TOKEN_MAX] = 'k';	/* one too many */
		long_line[AUTH_TOKEN_MAX + 1] = '\n';
		long_line[AUTH_TOKEN_MAX + 2] = '\0';
		p = token_file(long_line, 0600);
		ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
		    sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "not a token"));
	}
	p = token_file("sk abc\n", 0600);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "sk abc"));
	unlink(p);
	ck_assert_int_eq(gateway_read_token(p, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(gateway_read_token("/tmp", tok, sizeof(tok), err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_names)
{
	char n65[66];

	ck_assert(team_name_valid("alice"));
	ck_assert(team_name_valid("ci-bot_2.x"));
	ck_assert(!team_name_valid(""));
	ck_assert(!team_name_valid("a b"));
	ck_assert(!team_name_valid("a/b"));
	ck_assert(!team_name_valid("\xc3\xa9"));
	memset(n65, 'a', 65);
	n65[65] = '\0';
	ck_assert(!team_name_valid(n65));
	n65[64] = '\0';
	ck_assert(team_name_valid(n65));
}
END_TEST

static Suite *
team_suite(void)
{
	Suite *s = suite_create("team");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_add_test(tc, test_key_exact);
	tcase_add_test(tc, test_key_revoked_rotated_expired);
	tcase_add_test(tc, test_key_many);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_max_running_atomic);
	tcase_add_test(tc, test_running_expires);
	tcase_add_test(tc, test_rpm_bucket);
	tcase_add_test(tc, test_daily_credits);
	tcase_add_test(tc, test_unlimited);
	suite_add_tcase(s, tc);

	tc = tcase_create("gateway");
	tcase_add_test(tc, test_visibility);
	tcase_add_loop_test(tc, test_path_kind, 0,
	    (int)(sizeof(paths) / sizeof(paths[0])));
	tcase_add_loop_test(tc, test_credits, 0,
	    (int)(sizeof(credit_cases) / sizeof(credit_cases[0])));
	tcase_add_test(tc, test_token_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(team_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
