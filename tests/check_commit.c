/*
 * Unit tests of commit.c, the group commit, on :memory: and on a temporary
 * file: jobs queued in one pass of the loop share one transaction, nothing
 * is written (nor seen by a lookup) before it, each done callback fires
 * once after it with the outcome, a failed commit stores none, and what a
 * done callback queues goes into the next group.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "cache.h"
#include "commit.h"
#include "record.h"

#define T		1700000000000LL
#define TOK		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define NJOBS		5

static const char completed_body[] =
	"{\"jobid\":\"j1\",\"type\":\"video\",\"status\":\"completed\"}";
static const char pending_body[] =
	"{\"jobid\":\"j1\",\"type\":\"video\",\"status\":\"pending\"}";

/* The database of the current test: ":memory:" or a temporary file. */
static char dbpath[64];

/* One queued job of a test, and what its done callback saw. */
struct tjob {
	struct commit_job	 cj;
	struct record		 rec;
	char			 jobid[16];
	int			 fired;		/* times done fired */
	int			 stored;
	int			 seen;		/* a lookup found it in done */
	struct cache		*cache;
	struct commit		*cm;
	struct tjob		*then;		/* queued from done, or NULL */
};

static void
remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[128];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
}

/* Opens the backend of loop iteration i: 0 is :memory:, 1 a new file. */
static struct cache *
open_backend(int i)
{
	char err[512] = "";
	struct cache *c;
	int fd;

	if (i == 0)
		snprintf(dbpath, sizeof(dbpath), ":memory:");
	else {
		snprintf(dbpath, sizeof(dbpath), "/tmp/check_commit.XXXXXX");
		fd = mkstemp(dbpath);
		ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
		close(fd);
	}
	c = cache_open(dbpath, err, sizeof(err));
	ck_assert_msg(c != NULL, "cache_open(%s): %s", dbpath, err);
	return c;
}

static void
close_backend(struct cache *c)
{
	cache_close(c);
	if (strcmp(dbpath, ":memory:") != 0)
		remove_db(dbpath);
}

/* Whether jobid is found granted to TOK. */
static int
found(struct cache *c, const char *jobid)
{
	struct cache_job job;

	return cache_lookup(c, jobid, TOK, &job, NULL);
}

static void
done_cb(struct commit_job *cj, void *arg)
{
	struct tjob *t = arg;

	ck_assert_ptr_eq(cj, &t->cj);
	t->fired++;
	t->stored = cj->put.stored;
	t->seen = found(t->cache, t->jobid);
	if (t->then != NULL)
		commit_add(t->cm, &t->then->cj);
}

/* Fills t as job "j<n>" (terminal or not) for cm. */
static void
tjob_init(struct tjob *t, struct cache *c, struct commit *cm, int n,
    int terminal)
{
	const char *body = terminal ? completed_body : pending_body;

	memset(t, 0, sizeof(*t));
	snprintf(t->jobid, sizeof(t->jobid), "j%d", n);
	ck_assert_int_eq(cache_parse_record(c, body, strlen(body), &t->rec), 0);
	ck_assert_int_eq(t->rec.terminal, terminal);
	t->cache = c;
	t->cm = cm;
	t->stored = -1;
	t->cj.put.jobid = t->jobid;
	t->cj.put.token_id = TOK;
	t->cj.put.rec = &t->rec;
	t->cj.put.body = body;
	t->cj.put.len = strlen(body);
	t->cj.put.now = T + n;
	t->cj.done = done_cb;
	t->cj.arg = t;
}

static void
expect_stats(struct commit *cm, uint64_t groups, uint64_t jobs)
{
	uint64_t g = 0, j = 0;

	commit_get_stats(cm, &g, &j);
	ck_assert_uint_eq(g, groups);
	ck_assert_uint_eq(j, jobs);
}

/* Jobs queued together: one commit, answered after it, none before. */
START_TEST(test_group)
{
	struct event_base *base = event_base_new();
	struct cache *c = open_backend(_i);
	struct commit *cm = commit_new(base, c);
	struct tjob t[NJOBS];
	int i;

	ck_assert_ptr_nonnull(cm);
	for (i = 0; i < NJOBS; i++) {
		tjob_init(&t[i], c, cm, i, i % 2 == 0);
		commit_add(cm, &t[i].cj);
	}
	/* Queued is not written: no read sees the rows yet. */
	for (i = 0; i < NJOBS; i++) {
		ck_assert_int_eq(t[i].fired, 0);
		ck_assert_int_eq(found(c, t[i].jobid), 0);
	}
	expect_stats(cm, 0, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < NJOBS; i++) {
		ck_assert_int_eq(t[i].fired, 1);
		ck_assert_int_eq(t[i].stored, 1);
		ck_assert_int_eq(t[i].seen, 1);	/* committed before done */
	}
	expect_stats(cm, 1, NJOBS);
	/* Nothing left to do: the loop does not fire them again. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < NJOBS; i++)
		ck_assert_int_eq(t[i].fired, 1);
	commit_free(cm);
	close_backend(c);
	event_base_free(base);
}
END_TEST

/* The callbacks of one loop pass. */
struct pass {
	struct commit	*cm;
	struct tjob	*t;
};

static void
queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pass *p = arg;

	(void)fd;
	(void)what;
	commit_add(p->cm, &p->t->cj);
}

/*
 * Jobs queued by callbacks ready in the same pass of the loop (upstream
 * answers that came in together) share one commit, whoever came first.
 */
START_TEST(test_same_pass)
{
	struct event_base *base = event_base_new();
	struct cache *c = open_backend(_i);
	struct commit *cm = commit_new(base, c);
	struct event *ev[3];
	struct pass p[3];
	struct tjob t[3];
	int i;

	for (i = 0; i < 3; i++) {
		tjob_init(&t[i], c, cm, i, 1);
		p[i].cm = cm;
		p[i].t = &t[i];
		ev[i] = event_new(base, -1, 0, queue_cb, &p[i]);
		ck_assert_ptr_nonnull(ev[i]);
		event_active(ev[i], EV_TIMEOUT, 1);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(t[i].fired, 1);
		ck_assert_int_eq(t[i].stored, 1);
		event_free(ev[i]);
	}
	expect_stats(cm, 1, 3);
	commit_free(cm);
	close_backend(c);
	event_base_free(base);
}
END_TEST

/* What a done callback queues is committed in a group of its own. */
START_TEST(test_queued_from_done)
{
	struct event_base *base = event_base_new();
	struct cache *c = open_backend(_i);
	struct commit *cm = commit_new(base, c);
	struct tjob t[2];

	tjob_init(&t[0], c, cm, 0, 1);
	tjob_init(&t[1], c, cm, 1, 1);
	t[0].then = &t[1];
	commit_add(cm, &t[0].cj);
	while (t[1].fired == 0)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(t[0].fired, 1);
	ck_assert_int_eq(t[1].fired, 1);
	ck_assert_int_eq(t[1].stored, 1);
	expect_stats(cm, 2, 2);
	commit_free(cm);
	close_backend(c);
	event_base_free(base);
}
END_TEST

/* Freeing the group commits what is queued first. */
START_TEST(test_free_flushes)
{
	struct event_base *base = event_base_new();
	struct cache *c = open_backend(_i);
	struct commit *cm = commit_new(base, c);
	struct tjob t[2];

	tjob_init(&t[0], c, cm, 0, 1);
	tjob_init(&t[1], c, cm, 1, 0);
	commit_add(cm, &t[0].cj);
	commit_add(cm, &t[1].cj);
	commit_free(cm);
	ck_assert_int_eq(t[0].fired, 1);
	ck_assert_int_eq(t[1].fired, 1);
	ck_assert_int_eq(t[0].stored, 1);
	ck_assert_int_eq(t[1].stored, 1);
	ck_assert_int_eq(found(c, "j0"), 1);
	ck_assert_int_eq(found(c, "j1"), 1);
	/* Its event went with it: the loop has nothing of it to run. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(t[0].fired, 1);
	commit_free(NULL);
	close_backend(c);
	event_base_free(base);
}
END_TEST

/*
 * A commit that fails (another process holds the write lock) stores
 * none: every done fires with stored 0.  The next group goes in.
 */
START_TEST(test_commit_fails)
{
	struct event_base *base = event_base_new();
	struct cache *c, *other;
	struct commit *cm;
	struct tjob t[3];
	char err[512] = "";
	int i;

	c = open_backend(1);
	other = cache_open(dbpath, err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	cm = commit_new(base, c);
	ck_assert_int_eq(cache_begin(other), 0);
	for (i = 0; i < 2; i++) {
		tjob_init(&t[i], c, cm, i, 1);
		commit_add(cm, &t[i].cj);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(t[i].fired, 1);
		ck_assert_int_eq(t[i].stored, 0);
		ck_assert_int_eq(t[i].seen, 0);
	}
	ck_assert_int_eq(cache_commit(other), 0);
	tjob_init(&t[2], c, cm, 2, 1);
	commit_add(cm, &t[2].cj);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(t[2].stored, 1);
	ck_assert_int_eq(found(other, "j2"), 1);
	ck_assert_int_eq(found(other, "j0"), 0);
	expect_stats(cm, 2, 3);
	commit_free(cm);
	cache_close(other);
	close_backend(c);
	event_base_free(base);
}
END_TEST

/* More jobs than one transaction takes: several, in one flush. */
START_TEST(test_large_group)
{
	struct event_base *base = event_base_new();
	struct cache *c = open_backend(_i);
	struct commit *cm = commit_new(base, c);
	struct tjob *t = calloc(600, sizeof(*t));
	uint64_t groups, jobs;
	int i;

	ck_assert_ptr_nonnull(t);
	for (i = 0; i < 600; i++) {
		tjob_init(&t[i], c, cm, i, 1);
		commit_add(cm, &t[i].cj);
	}
	commit_flush(cm);
	for (i = 0; i < 600; i++) {
		ck_assert_int_eq(t[i].fired, 1);
		ck_assert_int_eq(t[i].stored, 1);
	}
	commit_get_stats(cm, &groups, &jobs);
	ck_assert_uint_eq(jobs, 600);
	ck_assert_uint_gt(groups, 1);
	ck_assert_uint_lt(groups, 10);
	/* Flushed by hand: the event has nothing left to do. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (i = 0; i < 600; i++)
		ck_assert_int_eq(t[i].fired, 1);
	expect_stats(cm, groups, 600);
	commit_free(cm);
	free(t);
	close_backend(c);
	event_base_free(base);
}
END_TEST

static Suite *
commit_suite(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("group");

	/* Iteration 0 runs on :memory:, 1 on a temporary file. */
	tcase_add_loop_test(tc, test_group, 0, 2);
	tcase_add_loop_test(tc, test_same_pass, 0, 2);
	tcase_add_loop_test(tc, test_queued_from_done, 0, 2);
	tcase_add_loop_test(tc, test_free_flushes, 0, 2);
	tcase_add_loop_test(tc, test_large_group, 0, 2);
	tcase_add_test(tc, test_commit_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(commit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
