/*
 * Unit tests of hot.c's table: what is kept and forgotten, the bound on
 * its memory, and forgetting everything when another connection commits
 * to the database.  (Its answers on the wire: tests/it_hot.sh.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "auth.h"
#include "cache.h"
#include "hot.h"
#include "proxy.h"

#define TOK_A	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define TOK_B	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ETAG	"\"0123456789abcdef0123456789abcdef\""
#define BODY	"{\"jobid\":\"j1\",\"status\":\"completed\"}"

static struct proxy px;
static struct hot *hot;
static char dbpath[64];

static void
setup(void)
{
	char err[256];
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_hot.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(dbpath), 0);
	close(fd);
	unlink(dbpath);
	memset(&px, 0, sizeof(px));
	px.magic = PROXY_MAGIC;
	ck_assert_ptr_nonnull(px.base = event_base_new());
	ck_assert_ptr_nonnull(px.cache = cache_open(dbpath, err, sizeof(err)));
}

static void
teardown(void)
{
	char side[sizeof(dbpath) + 8];

	hot_free(hot);
	hot = NULL;
	cache_close(px.cache);
	event_base_free(px.base);
	unlink(dbpath);
	snprintf(side, sizeof(side), "%s-wal", dbpath);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", dbpath);
	unlink(side);
}

/* Keeps a finished job's answer of BODY for (jobid, token_id). */
static void
put(const char *jobid, const char *token_id, const char *body, size_t len)
{
	struct hot_item it;

	memset(&it, 0, sizeof(it));
	it.status = 200;
	it.etag = ETAG;
	it.body = body;
	it.len = len;
	hot_put(hot, jobid, token_id, &it);
}

static struct hot_stats
stats(void)
{
	struct hot_stats st;

	hot_get_stats(hot, &st);
	return st;
}

START_TEST(test_put_forget_clear)
{
	ck_assert_ptr_nonnull(hot = hot_new(&px, 1 << 20));
	put("j1", TOK_A, BODY, strlen(BODY));
	put("j1", TOK_B, BODY, strlen(BODY));
	put("j2", TOK_A, BODY, strlen(BODY));
	ck_assert_uint_eq(stats().entries, 3);
	/* The same pair again replaces, not adds. */
	put("j2", TOK_A, BODY, strlen(BODY));
	ck_assert_uint_eq(stats().entries, 3);
	/* A job goes for every token; others stay. */
	hot_forget(hot, "j1");
	ck_assert_uint_eq(stats().entries, 1);
	hot_forget(hot, "j9");
	ck_assert_uint_eq(stats().entries, 1);
	hot_clear(hot);
	ck_assert_uint_eq(stats().entries, 0);
	ck_assert_uint_eq(stats().bytes, 0);
}
END_TEST

START_TEST(test_bound)
{
	char jobid[32], body[1000];
	size_t max = 65536;	/* 8 KiB of it for the buckets */
	size_t n;

	memset(body, 'x', sizeof(body));
	ck_assert_ptr_nonnull(hot = hot_new(&px, max));
	for (int i = 0; i < 100; i++) {
		snprintf(jobid, sizeof(jobid), "j%d", i);
		put(jobid, TOK_A, body, sizeof(body));
		ck_assert_uint_le(stats().bytes, max);
	}
	ck_assert_uint_ge(stats().entries, 30);
	ck_assert_uint_lt(stats().entries, 64);
	ck_assert_uint_le(stats().bytes + 1024 * sizeof(void *), max);
	/* The newest are kept, the oldest went. */
	n = stats().entries;
	hot_forget(hot, "j0");
	ck_assert_uint_eq(stats().entries, n);
	hot_forget(hot, "j99");
	ck_assert_uint_eq(stats().entries, n - 1);
	/* An answer too large for the bound is not kept at all. */
	hot_clear(hot);
	put("big", TOK_A, body, max / 2);
	ck_assert_uint_eq(stats().entries, 0);
}
END_TEST

/* One job's entries are bounded, so that a lookup's walk is. */
START_TEST(test_tokens_per_job)
{
	char tok[TOKEN_ID_LEN + 1];

	ck_assert_ptr_nonnull(hot = hot_new(&px, 1 << 24));
	for (int i = 0; i < 200; i++) {
		snprintf(tok, sizeof(tok), "%064d", i);
		put("j1", tok, BODY, strlen(BODY));
	}
	ck_assert_uint_eq(stats().entries, 64);
	put("j2", TOK_A, BODY, strlen(BODY));
	ck_assert_uint_eq(stats().entries, 65);
}
END_TEST

START_TEST(test_off)
{
	ck_assert_ptr_nonnull(hot = hot_new(&px, 0));
	put("j1", TOK_A, BODY, strlen(BODY));
	ck_assert_uint_eq(stats().entries, 0);
}
END_TEST

START_TEST(test_other_process_commits)
{
	struct cache *other;
	char err[256];

	ck_assert_ptr_nonnull(hot = hot_new(&px, 1 << 20));
	put("j1", TOK_A, BODY, strlen(BODY));
	hot_check(hot);
	ck_assert_uint_eq(stats().entries, 1);
	/* Our own connection's writes are not another's. */
	ck_assert_int_eq(cache_store_negative(px.cache, "j5", TOK_A, 404,
	    "{}", 2, 1, 2), 0);
	hot_check(hot);
	ck_assert_uint_eq(stats().entries, 1);
	/* Another's are seen at once. */
	ck_assert_ptr_nonnull(other = cache_open(dbpath, err, sizeof(err)));
	ck_assert_int_eq(cache_store_negative(other, "j6", TOK_A, 404,
	    "{}", 2, 1, 2), 0);
	hot_check(hot);
	ck_assert_uint_eq(stats().entries, 0);
	/* Nothing more changed: what is kept from now on stays. */
	put("j1", TOK_A, BODY, strlen(BODY));
	hot_check(hot);
	ck_assert_uint_eq(stats().entries, 1);
	/* Both at once: our commit, then another's. */
	ck_assert_int_eq(cache_store_negative(px.cache, "j7", TOK_A, 404,
	    "{}", 2, 1, 2), 0);
	ck_assert_int_eq(cache_store_negative(other, "j8", TOK_A, 404,
	    "{}", 2, 1, 2), 0);
	hot_check(hot);
	ck_assert_uint_eq(stats().entries, 0);
	cache_close(other);
}
END_TEST

static Suite *
hot_suite(void)
{
	Suite *s = suite_create("hot");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_forget_clear);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_tokens_per_job);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_other_process_commits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
