/*
 * Unit tests of cache.c, each run on :memory: and on a temporary file:
 * schema creation, job rows and grants per (jobid, token_id), terminal rows
 * that stay, negative entries and their expiry, revocation, reopening,
 * refusal of files that are not ours, which must be left byte for byte,
 * group commits (several jobs in one transaction, each whole or not), and
 * the look at the WAL index that leaves SQLite's locks alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <sqlite3.h>

#include "cache.h"
#include "record.h"

#define T		1700000000000LL
#define JOB1		"j0326140530123456789v-u12345-email:user@example.com:" \
			"a1b2c3d4-e5f6-7890-abcd-ef1234567890-bot:luma"
#define JOB2		"j0326140530123456789i-u12345-email:user@example.com:" \
			"c3d4e5f6-a7b8-9012-cdef-345678901234-bot:luma"
#define TOK_A		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define TOK_B		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define APPLICATION_ID	0x4c554d41

static const char pending_body[] =
	"{\"jobid\":\"" JOB1 "\",\"type\":\"video\",\"status\":\"pending\","
	"\"response\":null}";
static const char processing_body[] =
	"{\"jobid\":\"" JOB1 "\",\"type\":\"video\",\"status\":\"processing\","
	"\"response\":null}";
static const char completed_body[] =
	"{\"jobid\":\"" JOB1 "\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":{\"video\":{\"url\":\"https://storage.cdn-luma.com/a.mp4\"}}}";
static const char completed_body2[] =
	"{\"jobid\":\"" JOB1 "\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":{\"video\":{\"url\":\"https://storage.cdn-luma.com/b.mp4\"}}}";
static const char failed_body[] =
	"{\"jobid\":\"" JOB2 "\",\"type\":\"image\",\"status\":\"failed\"}";
static const char not_found[] = "{\"error\":\"Job not found\"}";
static const char forbidden[] = "{\"error\":\"Job does not belong to this user\"}";

static void	make_sqlite(const char *, const char *);

/* The database of the current test: ":memory:" or a temporary file. */
static char dbpath[64];

/* Removes a database file and its companions. */
static void
remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
}

/* A fresh temporary path; the file exists (empty) unless keep is 0. */
static void
make_temp(char *path, size_t len, int keep)
{
	int fd;

	snprintf(path, len, "/tmp/check_cache.XXXXXX");
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	if (!keep)
		ck_assert_int_eq(unlink(path), 0);
}

/* Opens the backend of loop iteration i: 0 is :memory:, 1 a new file. */
static struct cache *
open_backend(int i)
{
	char err[512] = "";
	struct cache *c;

	if (i == 0)
		snprintf(dbpath, sizeof(dbpath), ":memory:");
	else
		make_temp(dbpath, sizeof(dbpath), 0);
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

/* Stores body as upstream's 200 for (jobid, tok) at now. */
static void
store(struct cache *c, const char *jobid, const char *tok, const char *body,
    int64_t now)
{
	struct record rec;

	ck_assert_int_eq(cache_parse_record(c, body, strlen(body), &rec), 0);
	ck_assert_int_eq(cache_store_job(c, jobid, tok, &rec, NULL, body,
	    strlen(body), now), 0);
}

/* Looks (jobid, tok) up and checks it finds exactly body. */
static void
expect_job(struct cache *c, const char *jobid, const char *tok,
    const char *body, const char *status, int terminal, int64_t fetched)
{
	struct evbuffer *buf = evbuffer_new();
	struct cache_job job;
	char etag[ETAG_LEN + 1];
	size_t n = strlen(body);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(cache_lookup(c, jobid, tok, &job, buf), 1);
	ck_assert_uint_eq(job.len, n);
	ck_assert_uint_eq(evbuffer_get_length(buf), n);
	ck_assert_mem_eq(evbuffer_pullup(buf, -1), body, n);
	ck_assert_str_eq(job.status, status);
	ck_assert_int_eq(!!job.terminal, terminal);
	record_etag(body, n, etag);
	ck_assert_str_eq(job.etag, etag);
	ck_assert_int_eq(job.job_fetched_at, fetched);
	evbuffer_free(buf);
}

static void
expect_no_job(struct cache *c, const char *jobid, const char *tok)
{
	struct evbuffer *buf = evbuffer_new();
	struct cache_job job;

	ck_assert_int_eq(cache_lookup(c, jobid, tok, &job, buf), 0);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	evbuffer_free(buf);
}

static void
expect_counts(struct cache *c, int64_t all, int64_t terminal)
{
	int64_t a = -1, t = -1;

	ck_assert_int_eq(cache_count_jobs(c, &a, &t), 0);
	ck_assert_int_eq(a, all);
	ck_assert_int_eq(t, terminal);
}

START_TEST(test_open_empty)
{
	struct cache *c = open_backend(_i);

	ck_assert_int_ge(cache_schema_version(), 1);
	ck_assert_int_eq(cache_ping(c), 0);
	expect_counts(c, 0, 0);
	expect_no_job(c, JOB1, TOK_A);
	close_backend(c);
}
END_TEST

/* A new file carries our application_id and the current user_version. */
START_TEST(test_open_creates_schema)
{
	char path[64], err[512];
	struct cache *c;
	sqlite3 *db;
	sqlite3_stmt *st;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	cache_close(c);

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), cache_schema_version());
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA application_id", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), APPLICATION_ID);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
	    &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	remove_db(path);
}
END_TEST

START_TEST(test_store_lookup)
{
	struct cache *c = open_backend(_i);
	struct cache_job job;

	store(c, JOB1, TOK_A, completed_body, T);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &job, NULL), 1);
	ck_assert_int_eq(job.grant_fetched_at, T);
	ck_assert_uint_eq(job.len, strlen(completed_body));
	ck_assert_int_eq(job.etag[0], '"');

	/* Not granted to another token, nor another job. */
	expect_no_job(c, JOB1, TOK_B);
	expect_no_job(c, JOB2, TOK_A);
	expect_counts(c, 1, 1);

	store(c, JOB2, TOK_A, failed_body, T + 5);
	expect_job(c, JOB2, TOK_A, failed_body, "failed", 1, T + 5);
	store(c, "j-pending", TOK_A, pending_body, T + 6);
	expect_job(c, "j-pending", TOK_A, pending_body, "pending", 0, T + 6);
	expect_counts(c, 3, 2);
	ck_assert_int_eq(cache_ping(c), 0);
	close_backend(c);
}
END_TEST

/* The body is kept byte for byte, NUL and high bytes included. */
START_TEST(test_store_binary)
{
	struct cache *c = open_backend(_i);
	struct evbuffer *buf = evbuffer_new();
	struct record rec;
	struct cache_job job;
	size_t n = 300000, i;
	unsigned char *body = malloc(n);

	ck_assert_ptr_nonnull(body);
	for (i = 0; i < n; i++)
		body[i] = (unsigned char)(i * 7 + i / 251);
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.status, sizeof(rec.status), "completed");
	snprintf(rec.type, sizeof(rec.type), "video");
	rec.terminal = 1;
	ck_assert_int_eq(cache_store_job(c, JOB1, TOK_A, &rec, NULL, body, n, T), 0);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &job, buf), 1);
	ck_assert_uint_eq(job.len, n);
	ck_assert_uint_eq(evbuffer_get_length(buf), n);
	ck_assert_int_eq(memcmp(evbuffer_pullup(buf, -1), body, n), 0);
	evbuffer_free(buf);
	free(body);
	close_backend(c);
}
END_TEST

/* The body is appended to what the buffer already holds. */
START_TEST(test_lookup_appends)
{
	struct cache *c = open_backend(_i);
	struct evbuffer *buf = evbuffer_new();
	struct cache_job job;
	size_t n = strlen(pending_body);

	store(c, JOB1, TOK_A, pending_body, T);
	evbuffer_add(buf, "xy", 2);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &job, buf), 1);
	ck_assert_uint_eq(evbuffer_get_length(buf), n + 2);
	ck_assert_mem_eq(evbuffer_pullup(buf, -1), "xy", 2);
	ck_assert_mem_eq(evbuffer_pullup(buf, -1) + 2, pending_body, n);
	evbuffer_free(buf);
	close_backend(c);
}
END_TEST

START_TEST(test_pending_replaced)
{
	struct cache *c = open_backend(_i);
	struct cache_job job;

	store(c, JOB1, TOK_A, pending_body, T);
	expect_job(c, JOB1, TOK_A, pending_body, "pending", 0, T);
	store(c, JOB1, TOK_A, processing_body, T + 5000);
	expect_job(c, JOB1, TOK_A, processing_body, "processing", 0, T + 5000);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &job, NULL), 1);
	ck_assert_int_eq(job.grant_fetched_at, T + 5000);
	expect_counts(c, 1, 0);

	store(c, JOB1, TOK_A, completed_body, T + 10000);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T + 10000);
	expect_counts(c, 1, 1);
	close_backend(c);
}
END_TEST

/* A terminal row stays against a later unfinished answer. */
START_TEST(test_terminal_kept)
{
	struct cache *c = open_backend(_i);
	struct cache_job job;

	store(c, JOB1, TOK_A, completed_body, T);
	store(c, JOB1, TOK_A, pending_body, T + 6000);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	store(c, JOB1, TOK_B, processing_body, T + 7000);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_B, &job, NULL), 1);
	ck_assert_int_eq(job.terminal, 1);
	/* Each grant still records the pair's last upstream fetch. */
	ck_assert_int_eq(job.job_fetched_at, T);
	ck_assert_int_eq(job.grant_fetched_at, T + 7000);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &job, NULL), 1);
	ck_assert_int_eq(job.grant_fetched_at, T + 6000);
	expect_counts(c, 1, 1);
	close_backend(c);
}
END_TEST

/* ... but a later terminal answer (renewed media URLs) replaces it. */
START_TEST(test_terminal_replaced_by_terminal)
{
	struct cache *c = open_backend(_i);
	struct cache_job a, b;

	store(c, JOB1, TOK_A, completed_body, T);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &a, NULL), 1);
	store(c, JOB1, TOK_A, completed_body2, T + 9000);
	expect_job(c, JOB1, TOK_A, completed_body2, "completed", 1, T + 9000);
	ck_assert_int_eq(cache_lookup(c, JOB1, TOK_A, &b, NULL), 1);
	ck_assert_str_ne(a.etag, b.etag);
	ck_assert_int_eq(b.grant_fetched_at, T + 9000);
	expect_counts(c, 1, 1);
	close_backend(c);
}
END_TEST

START_TEST(test_grants)
{
	struct cache *c = open_backend(_i);

	store(c, JOB1, TOK_A, completed_body, T);
	expect_no_job(c, JOB1, TOK_B);
	store(c, JOB1, TOK_B, completed_body, T + 1);
	expect_job(c, JOB1, TOK_B, completed_body, "completed", 1, T + 1);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T + 1);
	expect_counts(c, 1, 1);

	/* Revoking is per token; the row stays for the others. */
	ck_assert_int_eq(cache_revoke(c, JOB1, TOK_A), 0);
	expect_no_job(c, JOB1, TOK_A);
	expect_job(c, JOB1, TOK_B, completed_body, "completed", 1, T + 1);
	expect_counts(c, 1, 1);

	/* Revoking what is not there is fine. */
	ck_assert_int_eq(cache_revoke(c, JOB1, TOK_A), 0);
	ck_assert_int_eq(cache_revoke(c, JOB2, TOK_B), 0);
	expect_job(c, JOB1, TOK_B, completed_body, "completed", 1, T + 1);

	/* A new 200 grants again. */
	store(c, JOB1, TOK_A, completed_body, T + 2);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T + 2);
	close_backend(c);
}
END_TEST

static void
expect_negative(struct cache *c, const char *jobid, const char *tok,
    int status, const char *body, int64_t fetched, int64_t expires)
{
	struct evbuffer *buf = evbuffer_new();
	struct cache_negative neg;
	size_t n = strlen(body);

	ck_assert_int_eq(cache_lookup_negative(c, jobid, tok, &neg, buf), 1);
	ck_assert_int_eq(neg.status, status);
	ck_assert_int_eq(neg.fetched_at, fetched);
	ck_assert_int_eq(neg.expires_at, expires);
	ck_assert_uint_eq(neg.len, n);
	ck_assert_uint_eq(evbuffer_get_length(buf), n);
	if (n > 0)
		ck_assert_mem_eq(evbuffer_pullup(buf, -1), body, n);
	evbuffer_free(buf);
}

static void
expect_no_negative(struct cache *c, const char *jobid, const char *tok)
{
	struct cache_negative neg;

	ck_assert_int_eq(cache_lookup_negative(c, jobid, tok, &neg, NULL), 0);
}

static void
store_negative(struct cache *c, const char *jobid, const char *tok,
    int status, const char *body, int64_t now, int64_t expires)
{
	ck_assert_int_eq(cache_store_negative(c, jobid, tok, status, body,
	    strlen(body), now, expires), 0);
}

START_TEST(test_negative)
{
	struct cache *c = open_backend(_i);

	expect_no_negative(c, JOB1, TOK_A);
	store_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);
	expect_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);
	expect_no_negative(c, JOB1, TOK_B);
	expect_no_negative(c, JOB2, TOK_A);
	/* A negative entry is not a job. */
	expect_no_job(c, JOB1, TOK_A);
	expect_counts(c, 0, 0);

	/* A new answer for the pair replaces it. */
	store_negative(c, JOB1, TOK_A, 403, forbidden, T + 100, T + 30100);
	expect_negative(c, JOB1, TOK_A, 403, forbidden, T + 100, T + 30100);

	/* An empty body is kept as empty. */
	store_negative(c, JOB2, TOK_B, 400, "", T, T + 30000);
	expect_negative(c, JOB2, TOK_B, 400, "", T, T + 30000);
	close_backend(c);
}
END_TEST

START_TEST(test_negative_expire)
{
	struct cache *c = open_backend(_i);

	store_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);
	store_negative(c, JOB1, TOK_B, 403, forbidden, T, T + 10);
	store_negative(c, JOB2, TOK_A, 400, not_found, T, T + 20);

	ck_assert_int_eq(cache_expire_negatives(c, T, 100), 0);
	ck_assert_int_eq(cache_expire_negatives(c, T + 9, 100), 0);
	expect_negative(c, JOB1, TOK_B, 403, forbidden, T, T + 10);

	/* Expired once now reaches expires_at, as the policy sees it. */
	ck_assert_int_eq(cache_expire_negatives(c, T + 10, 100), 1);
	expect_no_negative(c, JOB1, TOK_B);
	expect_negative(c, JOB2, TOK_A, 400, not_found, T, T + 20);
	expect_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);

	ck_assert_int_eq(cache_expire_negatives(c, T + 29999, 100), 1);
	expect_no_negative(c, JOB2, TOK_A);
	expect_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);
	ck_assert_int_eq(cache_expire_negatives(c, T + 30000, 100), 1);
	expect_no_negative(c, JOB1, TOK_A);
	ck_assert_int_eq(cache_expire_negatives(c, T + 99999, 100), 0);
	close_backend(c);
}
END_TEST

/* Expiry works in batches of at most limit rows. */
START_TEST(test_negative_expire_limit)
{
	struct cache *c = open_backend(_i);
	char jobid[32];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(jobid, sizeof(jobid), "j%d", i);
		store_negative(c, jobid, TOK_A, 404, not_found, T, T + i);
	}
	store_negative(c, "jlive", TOK_A, 404, not_found, T, T + 1000000);
	ck_assert_int_eq(cache_expire_negatives(c, T + 100, 2), 2);
	ck_assert_int_eq(cache_expire_negatives(c, T + 100, 2), 2);
	ck_assert_int_eq(cache_expire_negatives(c, T + 100, 2), 1);
	ck_assert_int_eq(cache_expire_negatives(c, T + 100, 2), 0);
	for (i = 0; i < 5; i++) {
		snprintf(jobid, sizeof(jobid), "j%d", i);
		expect_no_negative(c, jobid, TOK_A);
	}
	expect_negative(c, "jlive", TOK_A, 404, not_found, T, T + 1000000);
	close_backend(c);
}
END_TEST

/* A 200 drops the pair's negative entry, and only the pair's. */
START_TEST(test_store_drops_negative)
{
	struct cache *c = open_backend(_i);

	store_negative(c, JOB1, TOK_A, 404, not_found, T, T + 30000);
	store_negative(c, JOB1, TOK_B, 404, not_found, T, T + 30000);
	store_negative(c, JOB2, TOK_A, 404, not_found, T, T + 30000);
	store(c, JOB1, TOK_A, pending_body, T + 1);
	expect_no_negative(c, JOB1, TOK_A);
	expect_negative(c, JOB1, TOK_B, 404, not_found, T, T + 30000);
	expect_negative(c, JOB2, TOK_A, 404, not_found, T, T + 30000);
	expect_job(c, JOB1, TOK_A, pending_body, "pending", 0, T + 1);
	close_backend(c);
}
END_TEST

START_TEST(test_count_jobs)
{
	struct cache *c = open_backend(_i);
	char jobid[32];
	int i;

	expect_counts(c, 0, 0);
	for (i = 0; i < 7; i++) {
		snprintf(jobid, sizeof(jobid), "jp%d", i);
		store(c, jobid, TOK_A, pending_body, T);
	}
	for (i = 0; i < 4; i++) {
		snprintf(jobid, sizeof(jobid), "jc%d", i);
		store(c, jobid, i % 2 ? TOK_A : TOK_B, completed_body, T);
	}
	store(c, "jf", TOK_B, failed_body, T);
	expect_counts(c, 12, 5);
	/* Grants are not jobs. */
	store(c, "jf", TOK_A, failed_body, T);
	expect_counts(c, 12, 5);
	store(c, "jp0", TOK_A, completed_body, T + 1);
	expect_counts(c, 12, 6);
	close_backend(c);
}
END_TEST

/*
 * The counts follow every writer: import (over a pending row too), purge,
 * a rollback, and another connection to the same file.
 */
START_TEST(test_counts_kept)
{
	struct cache *c = open_backend(_i);
	struct cache_row row;
	char etag[ETAG_LEN + 1];
	const char *grants[] = { TOK_A };

	store(c, "jp", TOK_A, pending_body, T);
	store(c, "jq", TOK_A, processing_body, T);
	memset(&row, 0, sizeof(row));
	row.type = "video";
	row.status = "completed";
	row.fetched_at = T;
	row.grants = grants;
	row.ngrants = 1;
	row.body = completed_body;
	row.len = strlen(completed_body);
	record_etag(completed_body, row.len, etag);
	ck_assert_int_eq(cache_begin(c), 0);
	row.jobid = "ji";
	ck_assert_int_eq(cache_import_job(c, &row, etag, NULL, 0), 0);
	row.jobid = "jp";
	ck_assert_int_eq(cache_import_job(c, &row, etag, NULL, 0), 0);
	ck_assert_int_eq(cache_commit(c), 0);
	expect_counts(c, 3, 2);
	/* Importing again changes nothing. */
	ck_assert_int_eq(cache_begin(c), 0);
	ck_assert_int_eq(cache_import_job(c, &row, etag, NULL, 0), 0);
	ck_assert_int_eq(cache_commit(c), 0);
	expect_counts(c, 3, 2);
	/* An import rolled back leaves the counts as they were. */
	ck_assert_int_eq(cache_begin(c), 0);
	row.jobid = "jr";
	ck_assert_int_eq(cache_import_job(c, &row, etag, NULL, 0), 0);
	cache_rollback(c);
	expect_counts(c, 3, 2);
	ck_assert_int_eq(cache_purge_job(c, "jp"), 1);
	ck_assert_int_eq(cache_purge_job(c, "jp"), 0);
	expect_counts(c, 2, 1);
	ck_assert_int_eq(cache_purge_job(c, "jq"), 1);
	expect_counts(c, 1, 1);
	if (_i == 1) {
		make_sqlite(dbpath, "DELETE FROM jobs;");
		expect_counts(c, 0, 0);
	}
	close_backend(c);
}
END_TEST

/* Job ids and token ids are data, never SQL. */
static void
add_count(const char *status, int64_t n, void *arg)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 256 - len, "%s=%lld ", status, (long long)n);
}

/* Counts by status for the metrics: a fixed set of labels. */
START_TEST(test_count_by_status)
{
	struct cache *c = open_backend(_i);
	char out[256] = "";
	static const char odd[] = "{\"status\":\"weird\u00e9\",\"jobid\":\"jo\"}";

	store(c, "jp", TOK_A, pending_body, T);
	store(c, "jc1", TOK_A, completed_body, T);
	store(c, "jc2", TOK_B, completed_body, T);
	store(c, "jo", TOK_B, odd, T);
	ck_assert_int_eq(cache_count_by_status(c, add_count, out), 0);
	ck_assert_str_eq(out, "completed=2 other=1 pending=1 ");
	close_backend(c);
}
END_TEST

/* A submitter may poll its job; nobody else is taken for one. */
START_TEST(test_submissions)
{
	struct cache *c = open_backend(_i);

	int64_t at = 0;

	ck_assert_int_eq(cache_submitted_by(c, "js", TOK_A, NULL), 0);
	ck_assert_int_eq(cache_store_submission(c, "js", "video", TOK_A, T), 0);
	ck_assert_int_eq(cache_submitted_by(c, "js", TOK_A, &at), 1);
	ck_assert_int_eq(at, T);
	ck_assert_int_eq(cache_submitted_by(c, "js", TOK_B, NULL), 0);
	ck_assert_int_eq(cache_submitted_by(c, "jother", TOK_A, NULL), 0);
	/* The first submitter stays; recording again changes nothing. */
	ck_assert_int_eq(cache_store_submission(c, "js", "video", TOK_B, T + 5), 0);
	ck_assert_int_eq(cache_submitted_by(c, "js", TOK_B, NULL), 0);
	close_backend(c);
}
END_TEST

START_TEST(test_hostile_keys)
{
	struct cache *c = open_backend(_i);
	static const char evil[] = "j'); DROP TABLE jobs; --";

	store(c, evil, TOK_A, completed_body, T);
	expect_job(c, evil, TOK_A, completed_body, "completed", 1, T);
	expect_no_job(c, "j", TOK_A);
	expect_no_job(c, evil, "' OR '1'='1");
	ck_assert_int_eq(cache_ping(c), 0);
	expect_counts(c, 1, 1);
	close_backend(c);
}
END_TEST

START_TEST(test_reopen)
{
	char path[64], err[512];
	struct cache *c;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	store(c, JOB1, TOK_A, completed_body, T);
	store(c, JOB2, TOK_B, pending_body, T + 1);
	store_negative(c, "jneg", TOK_A, 404, not_found, T, T + 30000);
	cache_close(c);

	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "reopen: %s", err);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	expect_job(c, JOB2, TOK_B, pending_body, "pending", 0, T + 1);
	expect_no_job(c, JOB1, TOK_B);
	expect_negative(c, "jneg", TOK_A, 404, not_found, T, T + 30000);
	expect_counts(c, 2, 1);
	ck_assert_int_eq(cache_ping(c), 0);
	cache_close(c);

	/* A third open, once more from a cleanly closed file. */
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "reopen: %s", err);
	expect_counts(c, 2, 1);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* An existing empty file (as touch or mkstemp leave) becomes a cache. */
START_TEST(test_open_empty_file)
{
	char path[64], err[512];
	struct cache *c;
	struct stat sb;

	make_temp(path, sizeof(path), 1);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	store(c, JOB1, TOK_A, completed_body, T);
	cache_close(c);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "reopen: %s", err);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* Reads a whole file into *buf (malloc'd); returns its size. */
static size_t
slurp(const char *path, unsigned char **buf)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	*buf = malloc(cap);
	ck_assert_ptr_nonnull(*buf);
	while ((r = fread(*buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			*buf = realloc(*buf, cap);
			ck_assert_ptr_nonnull(*buf);
		}
	}
	fclose(f);
	return n;
}

/* cache_open(path) must fail, name path, and leave the file as it was. */
static void
expect_refused(const char *path)
{
	unsigned char *before, *after;
	size_t nb, na;
	char err[1024] = "";
	struct cache *c;

	nb = slurp(path, &before);
	c = cache_open(path, err, sizeof(err));
	if (c != NULL)
		cache_close(c);
	ck_assert_msg(c == NULL, "%s was accepted", path);
	ck_assert_msg(strstr(err, path) != NULL, "message '%s' does not name %s",
	    err, path);
	na = slurp(path, &after);
	ck_assert_msg(na == nb, "%s: size %zu, was %zu", path, na, nb);
	ck_assert_msg(memcmp(before, after, nb) == 0, "%s was modified", path);
	free(before);
	free(after);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Runs sql on a new SQLite database at path, in rollback-journal mode. */
static void
make_sqlite(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s", msg ? msg : "?");
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

START_TEST(test_refuse_text)
{
	char path[64];
	char text[8192];
	size_t i;

	make_temp(path, sizeof(path), 1);
	for (i = 0; i < sizeof(text); i++)
		text[i] = "precious notes, not a database\n"[i % 31];
	write_file(path, text, sizeof(text));
	expect_refused(path);
	remove_db(path);
}
END_TEST

START_TEST(test_refuse_short_text)
{
	char path[64];

	make_temp(path, sizeof(path), 1);
	write_file(path, "hello\n", 6);
	expect_refused(path);
	remove_db(path);
}
END_TEST

START_TEST(test_refuse_foreign_table)
{
	char path[64];

	make_temp(path, sizeof(path), 0);
	make_sqlite(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY,"
	    " name TEXT); INSERT INTO accounts (name) VALUES ('alice'), ('bob');");
	expect_refused(path);
	remove_db(path);
}
END_TEST

extern const char *const schema_migrations[];

/*
 * A cache written by the first version (schema 1) is migrated forward on
 * open and keeps what it held: a finished job and who may see it.
 */
START_TEST(test_migrate_from_v1)
{
	struct cache *c;
	char path[64], sql[16384], err[256], etag[ETAG_LEN + 1];
	int n;

	make_temp(path, sizeof(path), 0);
	record_etag(completed_body, strlen(completed_body), etag);
	n = snprintf(sql, sizeof(sql), "%s; PRAGMA application_id = %d;"
	    " PRAGMA user_version = 1;"
	    " INSERT INTO jobs VALUES ('%s', 'video', 'completed', 1, '%s',"
	    " CAST('%s' AS BLOB), %lld);"
	    " INSERT INTO grants VALUES ('%s', '%s', %lld);",
	    schema_migrations[0], APPLICATION_ID, JOB1, etag, completed_body,
	    (long long)T, JOB1, TOK_A, (long long)T);
	ck_assert_int_lt(n, (int)sizeof(sql));
	make_sqlite(path, sql);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	/* The jobs already there are counted by the migration. */
	expect_counts(c, 1, 1);
	store(c, JOB2, TOK_A, failed_body, T);
	expect_counts(c, 2, 2);
	ck_assert_int_eq(cache_store_submission(c, "jnew", "video", TOK_A, T), 0);
	ck_assert_int_eq(cache_submitted_by(c, "jnew", TOK_A, NULL), 1);
	cache_close(c);
	/* Reopened: already current, still there. */
	ck_assert_ptr_nonnull(c = cache_open(path, err, sizeof(err)));
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* Another program's application_id, even with no tables. */
START_TEST(test_refuse_foreign_appid)
{
	char path[64];

	make_temp(path, sizeof(path), 0);
	make_sqlite(path, "PRAGMA application_id = 305419896;");
	expect_refused(path);
	remove_db(path);
}
END_TEST

/* Our application_id with tables from a newer lumaproxy. */
START_TEST(test_refuse_newer)
{
	char path[64], sql[256];

	make_temp(path, sizeof(path), 0);
	snprintf(sql, sizeof(sql), "CREATE TABLE future (x); PRAGMA"
	    " application_id = %d; PRAGMA user_version = %d;", APPLICATION_ID,
	    cache_schema_version() + 1);
	make_sqlite(path, sql);
	expect_refused(path);
	remove_db(path);
}
END_TEST

/* A cache this build wrote, later stamped by a newer lumaproxy. */
START_TEST(test_refuse_newer_migrated)
{
	char path[64], err[512], sql[128];
	struct cache *c;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	store(c, JOB1, TOK_A, completed_body, T);
	cache_close(c);
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode = DELETE;"
	    " PRAGMA user_version = %d;", cache_schema_version() + 5);
	make_sqlite(path, sql);
	expect_refused(path);
	remove_db(path);
}
END_TEST

/* The page size of a new file; a file of an older version keeps its own. */
START_TEST(test_page_size)
{
	char path[64], err[512], sql[8192];
	struct cache *c;
	sqlite3 *db;
	sqlite3_stmt *st;
	int size;

	for (int old = 0; old < 2; old++) {
		make_temp(path, sizeof(path), 0);
		if (old) {
			ck_assert_int_lt(snprintf(sql, sizeof(sql),
			    "PRAGMA page_size = 4096; %s; PRAGMA application_id"
			    " = %d; PRAGMA user_version = 1;",
			    schema_migrations[0], APPLICATION_ID),
			    (int)sizeof(sql));
			make_sqlite(path, sql);
		}
		c = cache_open(path, err, sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		store(c, JOB1, TOK_A, completed_body, T);
		cache_close(c);
		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1,
		    &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		size = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
		ck_assert_int_eq(size, old ? 4096 : 8192);
		remove_db(path);
	}
}
END_TEST

/* Another connection makes the grant of jobid j-bad fail, after its job row. */
static void
refuse_bad_grants(const char *path)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TRIGGER no_bad BEFORE INSERT"
	    " ON grants WHEN NEW.jobid = 'j-bad' BEGIN"
	    " SELECT RAISE(ABORT, 'refused'); END", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

/*
 * Damage past the pages opening reads: the file opens, the damage shows
 * when a lookup reads it, and the ping fails from then on.
 */
START_TEST(test_damage_later)
{
	char path[64], err[512], jobid[32];
	unsigned char *data;
	struct cache_job job;
	struct cache *c;
	size_t n, page, i;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	for (i = 0; i < 2000; i++) {
		snprintf(jobid, sizeof(jobid), "j%05zu", i);
		store(c, jobid, TOK_A, completed_body, T);
	}
	cache_close(c);
	make_sqlite(path, "PRAGMA journal_mode = DELETE;");
	n = slurp(path, &data);
	page = (size_t)data[16] << 8 | data[17];
	if (page == 1)
		page = 65536;
	ck_assert_uint_ge(n, 30 * page);
	/* The last pages written hold the last jobs and grants. */
	for (i = n - n / 3 / page * page; i < n; i++)
		data[i] = (unsigned char)(0xa5 ^ i);
	write_file(path, data, n);
	free(data);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(cache_ping(c), 0);
	expect_job(c, "j00000", TOK_A, completed_body, "completed", 1, T);
	ck_assert_int_eq(cache_lookup(c, "j01999", TOK_A, &job, NULL), -1);
	ck_assert_int_eq(cache_ping(c), -1);
	expect_job(c, "j00000", TOK_A, completed_body, "completed", 1, T);
	ck_assert_int_eq(cache_ping(c), -1);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* A cache whose table pages were overwritten is refused as corrupt. */
START_TEST(test_refuse_corrupt)
{
	char path[64], err[512];
	struct cache *c;
	unsigned char *data;
	size_t n, page, i;
	char jobid[32];

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	for (i = 0; i < 50; i++) {
		snprintf(jobid, sizeof(jobid), "j%zu", i);
		store(c, jobid, TOK_A, completed_body, T);
	}
	cache_close(c);
	make_sqlite(path, "PRAGMA journal_mode = DELETE;");
	n = slurp(path, &data);
	page = (size_t)data[16] << 8 | data[17];
	if (page == 1)
		page = 65536;
	ck_assert_uint_ge(n, 3 * page);
	/* Garble every page but the first (the header and schema). */
	for (i = page; i < n; i++)
		data[i] = (unsigned char)(0xa5 ^ i);
	write_file(path, data, n);
	free(data);
	expect_refused(path);
	remove_db(path);
}
END_TEST

START_TEST(test_refuse_unopenable)
{
	char err[512] = "";
	struct cache *c;

	c = cache_open("/nonexistent-dir-check-cache/x.db", err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "/nonexistent-dir-check-cache/x.db") != NULL,
	    "message: %s", err);

	c = cache_open("/tmp", err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "/tmp") != NULL, "message: %s", err);
}
END_TEST

/* When the cache's tables cannot be read, ping and counts say so. */
START_TEST(test_ping_fails)
{
	char path[64], err[512];
	struct cache *c;
	int64_t a, t;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	store(c, JOB1, TOK_A, completed_body, T);
	ck_assert_int_eq(cache_ping(c), 0);
	/* Another connection drops the tables from under it. */
	make_sqlite(path, "DROP TABLE grants; DROP TABLE jobs;"
	    " DROP TABLE job_counts;");
	ck_assert_int_eq(cache_ping(c), -1);
	ck_assert_int_eq(cache_count_jobs(c, &a, &t), -1);
	cache_close(c);
	remove_db(path);
}
END_TEST

START_TEST(test_close_null)
{
	cache_close(NULL);
}
END_TEST

/* Fills put p for body, read into rec, as upstream's 200 at now. */
static void
put_fill(struct cache *c, struct cache_put *p, struct record *rec,
    const char *jobid, const char *tok, const char *body, int64_t now)
{
	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(cache_parse_record(c, body, strlen(body), rec), 0);
	p->jobid = jobid;
	p->token_id = tok;
	p->rec = rec;
	p->body = body;
	p->len = strlen(body);
	p->now = now;
	p->stored = -1;
}

/* Several jobs, finished or not, in one transaction: all kept. */
START_TEST(test_store_jobs)
{
	struct cache *c = open_backend(_i);
	struct cache_put put[4], *pp[4];
	struct record rec[4];
	char etag[ETAG_LEN + 1];

	ck_assert_int_eq(cache_store_jobs(c, pp, 0), 0);
	put_fill(c, &put[0], &rec[0], JOB1, TOK_A, completed_body, T);
	put_fill(c, &put[1], &rec[1], JOB2, TOK_B, failed_body, T + 1);
	put_fill(c, &put[2], &rec[2], "j-pending", TOK_A, pending_body, T + 2);
	/* The same job for another token, after: a second grant. */
	put_fill(c, &put[3], &rec[3], JOB1, TOK_B, completed_body, T + 3);
	record_etag(completed_body, strlen(completed_body), etag);
	put[3].etag = etag;
	for (int i = 0; i < 4; i++)
		pp[i] = &put[i];
	ck_assert_int_eq(cache_store_jobs(c, pp, 4), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(put[i].stored, 1);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T + 3);
	expect_job(c, JOB1, TOK_B, completed_body, "completed", 1, T + 3);
	expect_job(c, JOB2, TOK_B, failed_body, "failed", 1, T + 1);
	expect_job(c, "j-pending", TOK_A, pending_body, "pending", 0, T + 2);
	expect_no_job(c, JOB2, TOK_A);
	expect_counts(c, 3, 2);

	/* A later pending row in a group leaves the finished one as it is. */
	put_fill(c, &put[0], &rec[0], JOB1, TOK_A, pending_body, T + 9);
	ck_assert_int_eq(cache_store_jobs(c, pp, 1), 1);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T + 3);
	close_backend(c);
}
END_TEST

/* A job that cannot be written is dropped whole; the others are kept. */
START_TEST(test_store_jobs_one_fails)
{
	char path[64], err[512] = "";
	struct cache *c;
	struct cache_put put[3], *pp[3];
	struct record rec[3];

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	/* The grant of j-bad fails after its job row was written. */
	refuse_bad_grants(path);
	put_fill(c, &put[0], &rec[0], JOB1, TOK_A, completed_body, T);
	put_fill(c, &put[1], &rec[1], "j-bad", TOK_A, failed_body, T);
	put_fill(c, &put[2], &rec[2], JOB2, TOK_A, failed_body, T);
	for (int i = 0; i < 3; i++)
		pp[i] = &put[i];
	ck_assert_int_eq(cache_store_jobs(c, pp, 3), 2);
	ck_assert_int_eq(put[0].stored, 1);
	ck_assert_int_eq(put[1].stored, 0);
	ck_assert_int_eq(put[2].stored, 1);
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	expect_job(c, JOB2, TOK_A, failed_body, "failed", 1, T);
	expect_no_job(c, "j-bad", TOK_A);
	expect_counts(c, 2, 2);		/* no job row of j-bad either */
	/* A single store fails as it did. */
	ck_assert_int_eq(cache_store_job(c, "j-bad", TOK_A, &rec[1], NULL,
	    failed_body, strlen(failed_body), T), -1);
	expect_counts(c, 2, 2);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* A group that cannot be committed (another writer): none is stored. */
START_TEST(test_store_jobs_busy)
{
	char path[64], err[512] = "";
	struct cache *c, *other;
	struct cache_put put[2], *pp[2];
	struct record rec[2];

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	other = cache_open(path, err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	ck_assert_int_eq(cache_begin(other), 0);
	put_fill(c, &put[0], &rec[0], JOB1, TOK_A, completed_body, T);
	put_fill(c, &put[1], &rec[1], JOB2, TOK_A, failed_body, T);
	pp[0] = &put[0];
	pp[1] = &put[1];
	ck_assert_int_eq(cache_store_jobs(c, pp, 2), -1);
	ck_assert_int_eq(put[0].stored, 0);
	ck_assert_int_eq(put[1].stored, 0);
	ck_assert_int_eq(cache_commit(other), 0);
	expect_counts(c, 0, 0);
	/* Once the other writer is done, the same group goes in. */
	ck_assert_int_eq(cache_store_jobs(c, pp, 2), 2);
	expect_counts(other, 2, 2);
	cache_close(other);
	cache_close(c);
	remove_db(path);
}
END_TEST

/*
 * A disk that refuses writes (a file size limit stands in: write(2) fails
 * with EFBIG, which SQLite reports as an I/O error): nothing of the group
 * is kept, the failure is known until a synced commit succeeds, by the
 * probe (at most once a second) or by the next group, and what was
 * committed before stays.
 */
START_TEST(test_store_jobs_disk_fails)
{
	char path[64], wal[80], err[512] = "";
	struct cache *c;
	struct cache_put put, *pp = &put;
	struct record rec;
	struct rlimit rl, limited;
	struct stat sb;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_ptr_null(cache_write_error(c));
	ck_assert_int_eq(cache_failure_level(c), LOG_ERROR);
	ck_assert_int_eq(cache_write_probe(c, T), 0);
	store(c, JOB1, TOK_A, completed_body, T);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	limited = rl;
	limited.rlim_cur = (rlim_t)sb.st_size;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limited), 0);

	put_fill(c, &put, &rec, JOB2, TOK_A, failed_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), -1);
	ck_assert_int_eq(put.stored, 0);
	ck_assert_str_eq(cache_write_error(c), "disk I/O error");
	ck_assert_int_eq(cache_failure_level(c), LOG_DEBUG);
	ck_assert_int_eq(cache_write_probe(c, T), -1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	/* Writable again: not tried within 10 s of the failure, then noticed. */
	ck_assert_int_eq(cache_write_probe(c, T + 1000), -1);
	ck_assert_int_eq(cache_write_probe(c, T + 9999), -1);
	ck_assert_str_eq(cache_write_error(c), "disk I/O error");
	ck_assert_int_eq(cache_write_probe(c, T + 10000), 0);
	ck_assert_ptr_null(cache_write_error(c));
	expect_job(c, JOB1, TOK_A, completed_body, "completed", 1, T);
	expect_no_job(c, JOB2, TOK_A);

	/* Failing again; an unfinished job's commit is synced, and says so. */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limited), 0);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), -1);
	ck_assert_ptr_nonnull(cache_write_error(c));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	put_fill(c, &put, &rec, "j-pending", TOK_A, pending_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), 1);
	ck_assert_ptr_null(cache_write_error(c));
	expect_counts(c, 2, 1);
	cache_close(c);
	remove_db(path);
}
END_TEST

/* Limits the size of the files this process writes to that of path. */
static void
limit_writes(const char *path, struct rlimit *saved)
{
	struct rlimit limited;
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, saved), 0);
	limited = *saved;
	limited.rlim_cur = (rlim_t)sb.st_size;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limited), 0);
}

/* Sends this process's stderr to a new file at path. */
static void
stderr_to(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);
}

/* How many lines of the file at path hold s. */
static int
lines_with(const char *path, const char *s)
{
	char line[1024];
	FILE *fp = fopen(path, "r");
	int n = 0;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, s) != NULL;
	fclose(fp);
	return n;
}

/*
 * Only a commit that stored something ends a time of failing writes; the
 * probe's page may fit where jobs do not (a nearly full disk), so it ends
 * it only 10 s after the last failure, and a failure right after that is
 * not logged again before a minute has passed since the last such line.
 */
START_TEST(test_write_recovery_held)
{
	char path[64], wal[80], logf[80], err[512] = "";
	struct cache *c;
	struct cache_put put, *pp = &put;
	struct record rec;
	struct rlimit rl;

	make_temp(path, sizeof(path), 0);
	snprintf(logf, sizeof(logf), "%s.log", path);
	stderr_to(logf);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	refuse_bad_grants(path);
	ck_assert_int_eq(cache_write_probe(c, T), 0);
	store(c, JOB1, TOK_A, completed_body, T);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	limit_writes(wal, &rl);
	put_fill(c, &put, &rec, JOB2, TOK_A, failed_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), -1);
	ck_assert_ptr_nonnull(cache_write_error(c));
	ck_assert_int_eq(cache_failure_level(c), LOG_DEBUG);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

	/*
	 * A commit that stored nothing proves nothing; its error is not the
	 * disk's, and is not lowered to debug.
	 */
	put_fill(c, &put, &rec, "j-bad", TOK_A, failed_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), 0);
	ck_assert_ptr_nonnull(cache_write_error(c));
	ck_assert_int_eq(cache_failure_level(c), LOG_ERROR);
	ck_assert_str_eq(cache_last_error(c), "constraint failed");

	/* Ended by the probe, 10 s after the failure. */
	ck_assert_int_eq(cache_write_probe(c, T + 9000), -1);
	ck_assert_int_eq(cache_write_probe(c, T + 10000), 0);
	ck_assert_int_eq(lines_with(logf, "cannot write"), 1);
	ck_assert_int_eq(lines_with(logf, "written again (1 failed write)"),
	    1);

	/* Failing again within the minute: held back, and so is its end. */
	limit_writes(wal, &rl);
	put_fill(c, &put, &rec, JOB2, TOK_A, failed_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), -1);
	ck_assert_ptr_nonnull(cache_write_error(c));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(cache_write_probe(c, T + 19999), -1);
	ck_assert_int_eq(cache_write_probe(c, T + 20000), 0);
	ck_assert_int_eq(cache_write_probe(c, T + 55000), 0);
	limit_writes(wal, &rl);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), -1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(lines_with(logf, "cannot write"), 1);
	ck_assert_int_eq(lines_with(logf, "written again"), 1);

	/* A minute after the first line, the probe says it, with a count. */
	ck_assert_int_eq(cache_write_probe(c, T + 60000), -1);
	ck_assert_int_eq(lines_with(logf, "cannot write"), 2);
	ck_assert_int_eq(lines_with(logf, "(2 failed writes since the last"
	    " line)"), 1);
	/* A job stored ends it at once, and says so. */
	put_fill(c, &put, &rec, JOB2, TOK_A, failed_body, T);
	ck_assert_int_eq(cache_store_jobs(c, &pp, 1), 1);
	ck_assert_ptr_null(cache_write_error(c));
	ck_assert_int_eq(lines_with(logf, "written again (2 failed writes)"),
	    1);
	cache_close(c);
	remove_db(path);
	unlink(logf);
}
END_TEST

static int
media_collect(const struct cache_media *m, void *arg)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

/*
 * A media scan on its own is its own transaction: when its commit fails
 * it stores nothing and says so.
 */
START_TEST(test_media_scan_commit_fails)
{
	static const char body[] =
	    "{\"jobid\":\"" JOB1 "\",\"type\":\"image\",\"status\":"
	    "\"completed\",\"response\":{\"image\":{\"url\":"
	    "\"https://storage.cdn-luma.com/i.png\"}}}";
	char path[64], wal[80], err[512] = "";
	struct cache *c;
	struct rlimit rl;
	int n = 0;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	store(c, JOB1, TOK_A, body, T);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	limit_writes(wal, &rl);
	ck_assert_int_eq(cache_media_scan(c, JOB1, T), -1);
	ck_assert_ptr_nonnull(cache_write_error(c));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(cache_media_job(c, JOB1, media_collect, &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(cache_media_scan(c, JOB1, T), 1);
	ck_assert_int_eq(cache_media_job(c, JOB1, media_collect, &n), 0);
	ck_assert_int_eq(n, 1);
	cache_close(c);
	remove_db(path);
}
END_TEST

/*
 * Whether /proc/locks lists a POSIX lock of process pid on inode ino: 1,
 * 0 when not, -1 when it cannot be read.  (What another process's F_GETLK
 * would see, without a child: under valgrind a forked child reports the
 * heap it inherited as lost.)
 */
static int
holds_posix_lock(pid_t pid, ino_t ino)
{
	char line[256], kind[16];
	unsigned long long lino;
	int lpid, found = 0;
	FILE *f;

	if ((f = fopen("/proc/locks", "r")) == NULL)
		return -1;
	/* "1: POSIX  ADVISORY  READ 1234 fd:01:5678 128 128" */
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*d: %15s %*s %*s %d %*x:%*x:%llu", kind,
		    &lpid, &lino) == 3 && strcmp(kind, "POSIX") == 0 &&
		    lpid == (int)pid && lino == (unsigned long long)ino)
			found = 1;
	fclose(f);
	return found;
}

/*
 * Reading the WAL index header (cache_stamp_moved) keeps SQLite's hold on
 * the -shm file: another process sees a lock there, so it does not take
 * the index for unused and truncate it under this one.
 */
START_TEST(test_stamp_keeps_shm_lock)
{
	char path[64], shm[80], err[512] = "";
	struct cache *c;
	struct cache_stamp s;
	struct stat sb;

	make_temp(path, sizeof(path), 0);
	c = cache_open(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	memset(&s, 0, sizeof(s));
	expect_counts(c, 0, 0);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	ck_assert_int_eq(stat(shm, &sb), 0);
	if (holds_posix_lock(getpid(), sb.st_ino) < 0) {
		fprintf(stderr, "check_cache: /proc/locks cannot be read;"
		    " the -shm lock is not checked\n");
		cache_close(c);
		remove_db(path);
		return;
	}
	ck_assert_int_eq(holds_posix_lock(getpid(), sb.st_ino), 1);
	ck_assert_int_eq(cache_stamp_moved(c, &s), 1);
	ck_assert_int_eq(cache_stamp_moved(c, &s), 0);
	ck_assert_msg(holds_posix_lock(getpid(), sb.st_ino) == 1,
	    "no lock on %s after the WAL index header was read", shm);
	cache_close(c);
	remove_db(path);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc;

	/* Iteration 0 runs on :memory:, 1 on a temporary file. */
	tc = tcase_create("rows");
	tcase_add_loop_test(tc, test_open_empty, 0, 2);
	tcase_add_loop_test(tc, test_store_lookup, 0, 2);
	tcase_add_loop_test(tc, test_store_binary, 0, 2);
	tcase_add_loop_test(tc, test_lookup_appends, 0, 2);
	tcase_add_loop_test(tc, test_pending_replaced, 0, 2);
	tcase_add_loop_test(tc, test_terminal_kept, 0, 2);
	tcase_add_loop_test(tc, test_terminal_replaced_by_terminal, 0, 2);
	tcase_add_loop_test(tc, test_grants, 0, 2);
	tcase_add_loop_test(tc, test_negative, 0, 2);
	tcase_add_loop_test(tc, test_negative_expire, 0, 2);
	tcase_add_loop_test(tc, test_negative_expire_limit, 0, 2);
	tcase_add_loop_test(tc, test_store_drops_negative, 0, 2);
	tcase_add_loop_test(tc, test_count_jobs, 0, 2);
	tcase_add_loop_test(tc, test_count_by_status, 0, 2);
	tcase_add_loop_test(tc, test_counts_kept, 0, 2);
	tcase_add_loop_test(tc, test_submissions, 0, 2);
	tcase_add_loop_test(tc, test_hostile_keys, 0, 2);
	tcase_add_test(tc, test_close_null);
	tcase_add_loop_test(tc, test_store_jobs, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_test(tc, test_open_creates_schema);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_open_empty_file);
	tcase_add_test(tc, test_refuse_text);
	tcase_add_test(tc, test_refuse_short_text);
	tcase_add_test(tc, test_refuse_foreign_table);
	tcase_add_test(tc, test_refuse_foreign_appid);
	tcase_add_test(tc, test_refuse_newer);
	tcase_add_test(tc, test_refuse_newer_migrated);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_refuse_corrupt);
	tcase_add_test(tc, test_page_size);
	tcase_add_test(tc, test_damage_later);
	tcase_add_test(tc, test_refuse_unopenable);
	tcase_add_test(tc, test_ping_fails);
	tcase_add_test(tc, test_store_jobs_one_fails);
	tcase_add_test(tc, test_store_jobs_busy);
	tcase_add_test(tc, test_store_jobs_disk_fails);
	tcase_add_test(tc, test_media_scan_commit_fails);
	tcase_add_test(tc, test_write_recovery_held);
	tcase_add_test(tc, test_stamp_keeps_shm_lock);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
