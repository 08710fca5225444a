/*
 * SQLite storage for the jobs route.  A file is checked before anything is
 * written to it: it must be empty, or carry our application_id with a
 * schema version we know.  Statements are prepared once at open; lookups
 * are one indexed query and never write.  Writes are short transactions on
 * the miss path; a terminal job is committed before its answer is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "cache.h"
#include "util.h"

#define CACHE_MAGIC		0x43414348u
#define APPLICATION_ID		0x4c554d41	/* "LUMA" */

extern const char *const schema_migrations[];
extern const size_t schema_nmigrations;

enum {
	ST_LOOKUP,
	ST_LOOKUP_NEG,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT_JOB,
	ST_PUT_GRANT,
	ST_DEL_NEG,
	ST_PUT_NEG,
	ST_REVOKE,
	ST_EXPIRE_NEG,
	ST_COUNT,
	ST_PING,
	ST_COUNT_STATUS,
	ST_PUT_SUBMISSION,
	ST_SUBMITTER,
	ST_SYNC_FULL,
	ST_SYNC_NORMAL,
	ST_MEDIA_JOB,
	ST_MEDIA_SHA,
	ST_JSON_REPLACE,
	ST_MEDIA_DUE,
	ST_MEDIA_NEXT,
	ST_MEDIA_MIRRORED,
	ST_MEDIA_FAILED,
	ST__MAX
};

/*
 * The media rows of job ?1 as media_rows() reads them: field, url, state,
 * sha256, size, content_type, dir, reason, attempts.
 */
#define JOB_MEDIA \
	"SELECT jm.field, jm.url, m.state, m.sha256, m.size, m.content_type," \
	" m.dir, m.reason, m.attempts FROM job_media jm" \
	" LEFT JOIN media m ON m.url = jm.url WHERE jm.jobid = ?1"

static const char *const stmt_sql[ST__MAX] = {
	[ST_LOOKUP] =
	    "SELECT j.status, j.terminal, j.etag, j.fetched_at, g.fetched_at,"
	    " j.body FROM grants g JOIN jobs j ON j.jobid = g.jobid"
	    " WHERE g.jobid = ?1 AND g.token_id = ?2",
	[ST_LOOKUP_NEG] =
	    "SELECT status, fetched_at, expires_at, body FROM negatives"
	    " WHERE jobid = ?1 AND token_id = ?2",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* A terminal row is only ever replaced by another terminal row. */
	[ST_PUT_JOB] =
	    "INSERT INTO jobs (jobid, type, status, terminal, etag, body,"
	    " fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (jobid) DO UPDATE SET type = excluded.type,"
	    " status = excluded.status, terminal = excluded.terminal,"
	    " etag = excluded.etag, body = excluded.body,"
	    " fetched_at = excluded.fetched_at"
	    " WHERE jobs.terminal = 0 OR excluded.terminal = 1",
	[ST_PUT_GRANT] =
	    "INSERT INTO grants (jobid, token_id, fetched_at) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (jobid, token_id) DO UPDATE"
	    " SET fetched_at = excluded.fetched_at",
	[ST_DEL_NEG] = "DELETE FROM negatives WHERE jobid = ?1 AND token_id = ?2",
	[ST_PUT_NEG] =
	    "INSERT OR REPLACE INTO negatives (jobid, token_id, status, body,"
	    " fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_REVOKE] = "DELETE FROM grants WHERE jobid = ?1 AND token_id = ?2",
	[ST_EXPIRE_NEG] =
	    "DELETE FROM negatives WHERE (jobid, token_id) IN (SELECT jobid,"
	    " token_id FROM negatives"
	    " WHERE expires_at <= ?1 LIMIT ?2)",
	[ST_COUNT] = "SELECT count(*), coalesce(sum(terminal), 0) FROM jobs",
	[ST_PING] = "SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT 1)",
	/* Labels of a metric: a bounded set, whatever upstream says. */
	[ST_COUNT_STATUS] =
	    "SELECT CASE WHEN status IN ('pending', 'processing', 'completed',"
	    " 'failed') THEN status ELSE 'other' END AS s, count(*) FROM jobs"
	    " GROUP BY s ORDER BY s",
	[ST_PUT_SUBMISSION] =
	    "INSERT OR IGNORE INTO submissions (jobid, type, token_id,"
	    " submitted_at) VALUES (?1, ?2, ?3, ?4)",
	[ST_SUBMITTER] =
	    "SELECT submitted_at FROM submissions WHERE jobid = ?1"
	    " AND token_id = ?2",
	[ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[ST_MEDIA_JOB] = JOB_MEDIA " ORDER BY 1",
	[ST_MEDIA_SHA] =
	    "SELECT coalesce(content_type, '') FROM media WHERE sha256 = ?1"
	    " ORDER BY content_type IS NULL LIMIT 1",
	/* CACHE_REPLACE_MAX pairs; unused ones repeat the first. */
	[ST_JSON_REPLACE] =
	    "SELECT json_replace(CAST(?1 AS TEXT), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	    " ?10, ?11)",
	[ST_MEDIA_DUE] =
	    "SELECT url, attempts, sha256, size, content_type, state FROM media"
	    " WHERE state IN ('pending', 'failed') AND next_at <= ?1"
	    " AND url IN (SELECT url FROM job_media)"
	    " ORDER BY next_at, url LIMIT ?2",
	[ST_MEDIA_NEXT] =
	    "SELECT min(next_at) FROM media WHERE state IN ('pending', 'failed')"
	    " AND next_at > ?1 AND url IN (SELECT url FROM job_media)",
	[ST_MEDIA_MIRRORED] =
	    "UPDATE media SET state = 'mirrored', sha256 = ?2, size = ?3,"
	    " content_type = ?4, dir = ?5, attempts = attempts + 1,"
	    " next_at = NULL, reason = NULL, updated_at = ?6 WHERE url = ?1",
	[ST_MEDIA_FAILED] =
	    "UPDATE media SET state = 'failed', attempts = ?2, next_at = ?3,"
	    " reason = ?4, updated_at = ?5 WHERE url = ?1"
	    " AND state != 'mirrored'",
};

struct cache {
	unsigned	 magic;
	sqlite3		*db;			/* owned */
	sqlite3_stmt	*st[ST__MAX];		/* owned */
};

int
cache_schema_version(void)
{
	return (int)schema_nmigrations;
}

/* Runs a one-value integer query; -1 on error. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Decides whether db may be used, before anything writes to it.  Returns
 * the schema version found (0: a new, empty database), or -1 with err set.
 */
static int
cache_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t appid, version, objects;
	sqlite3_stmt *st;
	const char *res;
	int ok;

	if (query_int(db, "PRAGMA application_id", &appid) != 0 ||
	    query_int(db, "PRAGMA user_version", &version) != 0 ||
	    query_int(db, "SELECT count(*) FROM sqlite_master", &objects) != 0) {
		if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOTADB)
			snprintf(err, errlen, "%s: not a lumaproxy database (%s)",
			    path, sqlite3_errmsg(db));
		else
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (appid == 0 && version == 0 && objects == 0)
		return 0;
	if (appid != APPLICATION_ID) {
		snprintf(err, errlen, "%s: not a lumaproxy database", path);
		return -1;
	}
	if (version > (int64_t)schema_nmigrations) {
		snprintf(err, errlen, "%s: database schema version %lld is newer"
		    " than this lumaproxy understands (%d)", path,
		    (long long)version, (int)schema_nmigrations);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	ok = sqlite3_step(st) == SQLITE_ROW &&
	    (res = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    strcmp(res, "ok") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(err, errlen, "%s: database is corrupt", path);
		return -1;
	}
	return (int)version;
}

/* Puts db in WAL mode, checking that it took (":memory:" stays "memory"). */
static int
set_wal(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char *mode;
	int ok;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	ok = sqlite3_step(st) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
	if (!ok)
		snprintf(err, errlen, "%s: cannot use WAL mode: %s", path,
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Applies migrations from version `from` on, each in its own transaction. */
static int
cache_migrate(sqlite3 *db, int from, char *err, size_t errlen)
{
	char sql[128];
	char *msg = NULL;
	int v;

	for (v = from; v < (int)schema_nmigrations; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d;"
		    " PRAGMA user_version = %d; COMMIT", APPLICATION_ID, v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, schema_migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migrating to schema version %d: %s",
			    v + 1, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

struct cache *
cache_open(const char *path, char *err, size_t errlen)
{
	struct cache *c;
	struct stat sb;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int version, i;
	char *msg = NULL;

	/* Never create a file next to one we were told to use but cannot. */
	if (strcmp(path, ":memory:") != 0 && stat(path, &sb) != 0)
		flags |= SQLITE_OPEN_CREATE;
	else if (strcmp(path, ":memory:") == 0)
		flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY;
	else if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->magic = CACHE_MAGIC;
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open database: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	if ((version = cache_check(c->db, path, err, errlen)) < 0)
		goto fail;
	/*
	 * synchronous = NORMAL is durable against crashes in WAL mode;
	 * terminal jobs are committed with FULL (cache_store_job).  A
	 * writer from another process may hold the loop 200 ms at most.
	 */
	if (sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL;"
	    " PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 200", NULL, NULL,
	    &msg) != SQLITE_OK || set_wal(c->db, path, err, errlen) != 0) {
		if (msg != NULL)
			snprintf(err, errlen, "%s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	if (cache_migrate(c->db, version, err, errlen) != 0)
		goto fail;
	for (i = 0; i < ST__MAX; i++) {
		if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing statement: %s",
			    path, sqlite3_errmsg(c->db));
			goto fail;
		}
	}
	return c;
fail:
	cache_close(c);
	return NULL;
}

void
cache_close(struct cache *c)
{
	int i;

	if (c == NULL)
		return;
	CHECK_OBJ(c, CACHE_MAGIC);
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(c->st[i]);
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		sqlite3_close_v2(c->db);
	memset(c, 0, sizeof(*c));
	free(c);
}

/* Binds the (jobid, token_id) key shared by most statements as ?1, ?2. */
static sqlite3_stmt *
bind_key(struct cache *c, int which, const char *jobid, const char *token_id)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token_id, -1, SQLITE_STATIC);
	return st;
}

/* Copies a text column into out (len bytes), "" when NULL or too long. */
static void
column_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (s == NULL || n >= len)
		n = 0;
	else
		memcpy(out, s, n);
	out[n] = '\0';
}

/* Appends a blob column to buf; -1 when out of memory. */
static int
column_body(sqlite3_stmt *st, int col, struct evbuffer *buf, size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);

	*len = (size_t)sqlite3_column_bytes(st, col);
	if (buf == NULL || *len == 0)
		return 0;
	return p == NULL ? -1 : evbuffer_add(buf, p, *len);
}

int
cache_lookup(struct cache *c, const char *jobid, const char *token_id,
    struct cache_job *job, struct evbuffer *body)
{
	sqlite3_stmt *st = bind_key(c, ST_LOOKUP, jobid, token_id);
	int rc;

	memset(job, 0, sizeof(*job));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_copy(st, 0, job->status, sizeof(job->status));
		job->terminal = sqlite3_column_int(st, 1);
		column_copy(st, 2, job->etag, sizeof(job->etag));
		job->job_fetched_at = sqlite3_column_int64(st, 3);
		job->grant_fetched_at = sqlite3_column_int64(st, 4);
		rc = column_body(st, 5, body, &job->len) == 0 ? 1 : -1;
	} else
		rc = rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int
cache_lookup_negative(struct cache *c, const char *jobid, const char *token_id,
    struct cache_negative *neg, struct evbuffer *body)
{
	sqlite3_stmt *st = bind_key(c, ST_LOOKUP_NEG, jobid, token_id);
	int rc;

	memset(neg, 0, sizeof(*neg));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		neg->status = sqlite3_column_int(st, 0);
		neg->fetched_at = sqlite3_column_int64(st, 1);
		neg->expires_at = sqlite3_column_int64(st, 2);
		rc = column_body(st, 3, body, &neg->len) == 0 ? 1 : -1;
	} else
		rc = rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Steps a write statement to completion and resets it; 0 on success. */
static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
tx_begin(struct cache *c)
{
	return step_done(c->st[ST_BEGIN]);
}

/* Commits, or rolls back when ok is not 0; returns 0 once committed. */
static int
tx_end(struct cache *c, int ok)
{
	if (ok == 0 && step_done(c->st[ST_COMMIT]) == 0)
		return 0;
	step_done(c->st[ST_ROLLBACK]);
	return -1;
}

int
cache_store_job(struct cache *c, const char *jobid, const char *token_id,
    const struct record *rec, const char *etag, const void *body, size_t len,
    int64_t now)
{
	char tag[ETAG_LEN + 1];
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (etag == NULL) {
		record_etag(body, len, tag);
		etag = tag;
	}
	/* A finished job must survive a power cut too, once answered. */
	if (rec->terminal)
		step_done(c->st[ST_SYNC_FULL]);
	if (tx_begin(c) != 0) {
		if (rec->terminal)
			step_done(c->st[ST_SYNC_NORMAL]);
		return -1;
	}
	st = bind_key(c, ST_PUT_JOB, jobid, NULL);
	if (rec->type[0] != '\0')
		sqlite3_bind_text(st, 2, rec->type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, rec->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, rec->terminal);
	sqlite3_bind_text(st, 5, etag, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 6, body, len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	rc = step_done(st);
	if (rc == 0) {
		st = bind_key(c, ST_PUT_GRANT, jobid, token_id);
		sqlite3_bind_int64(st, 3, now);
		rc = step_done(st);
	}
	if (rc == 0)
		rc = step_done(bind_key(c, ST_DEL_NEG, jobid, token_id));
	rc = tx_end(c, rc);
	if (rec->terminal)
		step_done(c->st[ST_SYNC_NORMAL]);
	return rc;
}

int
cache_store_negative(struct cache *c, const char *jobid, const char *token_id,
    int status, const void *body, size_t len, int64_t now, int64_t expires)
{
	sqlite3_stmt *st = bind_key(c, ST_PUT_NEG, jobid, token_id);

	sqlite3_bind_int(st, 3, status);
	sqlite3_bind_blob64(st, 4, len ? body : "", len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, expires);
	return step_done(st);
}

int
cache_revoke(struct cache *c, const char *jobid, const char *token_id)
{
	return step_done(bind_key(c, ST_REVOKE, jobid, token_id));
}

int
cache_expire_negatives(struct cache *c, int64_t now, int limit)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_EXPIRE_NEG];
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit);
	if (step_done(st) != 0)
		return -1;
	return sqlite3_changes(c->db);
}

int
cache_count_jobs(struct cache *c, int64_t *all, int64_t *terminal)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_COUNT];
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*all = sqlite3_column_int64(st, 0);
		*terminal = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
cache_ping(struct cache *c)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_PING];
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
cache_count_by_status(struct cache *c,
    void (*fn)(const char *status, int64_t count, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_COUNT_STATUS];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1), arg);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
cache_store_submission(struct cache *c, const char *jobid, const char *type,
    const char *token_id, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_PUT_SUBMISSION];
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, token_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
cache_submitted_by(struct cache *c, const char *jobid, const char *token_id,
    int64_t *at)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_SUBMITTER];
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && at != NULL)
		*at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
cache_set_busy_timeout(struct cache *c, int ms)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	sqlite3_busy_timeout(c->db, ms);
}

/* A statement for the commands (not the hot path): prepared per use. */
static sqlite3_stmt *
prepare(struct cache *c, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

#define EXPORT_GRANTS_MAX	100000

int
cache_export(struct cache *c, const char *status, int64_t since,
    int (*fn)(const struct cache_row *, void *), void *arg)
{
	sqlite3_stmt *jobs, *grants;
	struct cache_row row;
	char **list = NULL;
	size_t n, cap = 0;
	int rc = -1, step;

	CHECK_OBJ(c, CACHE_MAGIC);
	jobs = prepare(c, "SELECT jobid, type, status, fetched_at, body FROM jobs"
	    " WHERE terminal = 1 AND (?1 IS NULL OR status = ?1)"
	    " AND fetched_at >= ?2 ORDER BY jobid");
	grants = prepare(c, "SELECT token_id FROM grants WHERE jobid = ?1"
	    " ORDER BY token_id");
	if (jobs == NULL || grants == NULL ||
	    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto done;
	bind_text_or_null(jobs, 1, status);
	sqlite3_bind_int64(jobs, 2, since < 0 ? INT64_MIN : since);
	while ((step = sqlite3_step(jobs)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.jobid = (const char *)sqlite3_column_text(jobs, 0);
		row.type = (const char *)sqlite3_column_text(jobs, 1);
		row.status = (const char *)sqlite3_column_text(jobs, 2);
		row.fetched_at = sqlite3_column_int64(jobs, 3);
		row.body = sqlite3_column_blob(jobs, 4);
		row.len = (size_t)sqlite3_column_bytes(jobs, 4);
		sqlite3_bind_text(grants, 1, row.jobid, -1, SQLITE_STATIC);
		n = 0;
		while ((step = sqlite3_step(grants)) == SQLITE_ROW &&
		    n < EXPORT_GRANTS_MAX) {
			if (n == cap) {
				char **p = realloc(list, (cap ? cap * 2 : 16) *
				    sizeof(*list));

				if (p == NULL)
					goto fail;
				list = p;
				cap = cap ? cap * 2 : 16;
			}
			if ((list[n] = strdup((const char *)
			    sqlite3_column_text(grants, 0))) == NULL)
				goto fail;
			n++;
		}
		sqlite3_reset(grants);
		row.grants = (const char *const *)list;
		row.ngrants = n;
		rc = fn(&row, arg);
		for (size_t i = 0; i < n; i++)
			free(list[i]);
		if (rc != 0)
			goto done;
		rc = -1;
	}
	if (step == SQLITE_DONE)
		rc = 0;
	goto done;
fail:
	for (size_t i = 0; i < n; i++)
		free(list[i]);
done:
	free(list);
	sqlite3_finalize(jobs);
	sqlite3_finalize(grants);
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int
cache_begin(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK ? 0 : -1;
}

int
cache_commit(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

void
cache_rollback(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs st to its end and finalizes it; 0 or -1. */
static int
run_once(sqlite3_stmt *st)
{
	int rc = st != NULL && sqlite3_step(st) == SQLITE_DONE ? 0 : -1;

	sqlite3_finalize(st);
	return rc;
}

int
cache_import_job(struct cache *c, const struct cache_row *row,
    const char *etag, const char *const *extra, size_t nextra)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = prepare(c, "INSERT INTO jobs (jobid, type, status, terminal, etag,"
	    " body, fetched_at) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)"
	    " ON CONFLICT (jobid) DO UPDATE SET type = excluded.type,"
	    " status = excluded.status, terminal = 1, etag = excluded.etag,"
	    " body = excluded.body, fetched_at = excluded.fetched_at"
	    " WHERE jobs.terminal = 0 OR jobs.fetched_at < excluded.fetched_at");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, row->jobid, -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, row->type);
	sqlite3_bind_text(st, 3, row->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, etag, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 5, row->body, row->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, row->fetched_at);
	if (run_once(st) != 0)
		return -1;
	for (size_t i = 0; i < row->ngrants + nextra; i++) {
		st = prepare(c, "INSERT INTO grants (jobid, token_id, fetched_at)"
		    " VALUES (?1, ?2, ?3) ON CONFLICT (jobid, token_id) DO NOTHING");
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, row->jobid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, i < row->ngrants ? row->grants[i] :
		    extra[i - row->ngrants], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, row->fetched_at);
		if (run_once(st) != 0)
			return -1;
	}
	return 0;
}

int
cache_stats(struct cache *c,
    void (*fn)(const char *, const char *, int64_t, void *), void *arg)
{
	sqlite3_stmt *st;
	int step;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((st = prepare(c, "SELECT type, status, count(*) FROM jobs"
	    " GROUP BY type, status ORDER BY type, status")) == NULL)
		return -1;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), arg);
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : -1;
}

int
cache_list_older(struct cache *c, int64_t before, const char *status,
    int (*fn)(const char *, const char *, void *), void *arg)
{
	sqlite3_stmt *st;
	int step, rc = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((st = prepare(c, "SELECT jobid, status FROM jobs WHERE fetched_at < ?1"
	    " AND (?2 IS NULL OR status = ?2) ORDER BY jobid")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	bind_text_or_null(st, 2, status);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), arg);
	sqlite3_finalize(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}

int
cache_purge_job(struct cache *c, const char *jobid)
{
	static const char *const sql[] = {
		"DELETE FROM grants WHERE jobid = ?1",
		"DELETE FROM job_media WHERE jobid = ?1",
		"DELETE FROM media_jobs WHERE jobid = ?1",
		"DELETE FROM negatives WHERE jobid = ?1",
		"DELETE FROM submissions WHERE jobid = ?1",
		"DELETE FROM jobs WHERE jobid = ?1",
	};
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((st = prepare(c, sql[i])) == NULL)
			return -1;
		sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
		if (run_once(st) != 0)
			return -1;
	}
	return sqlite3_changes(c->db) > 0 ? 1 : 0;
}

int64_t
cache_size(struct cache *c)
{
	const char *path;
	char wal[4096];
	struct stat sb;
	int64_t n = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((path = sqlite3_db_filename(c->db, "main")) == NULL || *path == '\0')
		return 0;
	if (stat(path, &sb) == 0)
		n += sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0)
		n += sb.st_size;
	return n;
}

/*
 * The media mirror's rows.  A completed job is scanned once for the URLs
 * of its response (SQLite's JSON functions read the stored body); each
 * URL gets a media row that the downloader moves from pending to mirrored
 * or failed.
 */

/* The response fields that carry media, as in the vendor's job record. */
#define MEDIA_FIELDS \
	"('video', 'video_hdr_exr', 'thumbnail', 'last_frame', 'image')"

/*
 * (field, url) of each media URL in jobid's stored body, when it is
 * completed: http(s) URLs under the known fields.  CASE: json_extract()
 * only ever sees an object.  A field or url key given twice is left out:
 * parsers differ on which one counts, and rewriting could miss the other.
 */
#define BODY_MEDIA \
	" SELECT e.key AS field, CASE WHEN e.type = 'object' AND" \
	" (SELECT count(*) FROM json_each(e.value) k WHERE k.key = 'url') = 1" \
	" THEN json_extract(e.value, '$.url') END AS url" \
	" FROM jobs j, json_each(CAST(j.body AS TEXT), '$.response') e" \
	" WHERE j.jobid = ?1 AND j.terminal = 1 AND j.status = 'completed'" \
	" AND e.key IN " MEDIA_FIELDS " AND typeof(url) = 'text'" \
	" AND (url LIKE 'http://%' OR url LIKE 'https://%')" \
	" AND (SELECT count(*) FROM json_each(CAST(j.body AS TEXT)," \
	" '$.response') d WHERE d.key = e.key) = 1"

int
cache_media_scan(struct cache *c, const char *jobid, int64_t now)
{
	static const char *const sql[] = {
		/*
		 * A refetch renews signed URLs of the same files: a new URL
		 * for a field takes over the mirrored file of the old one.
		 */
		"INSERT OR IGNORE INTO media (url, state, sha256, size,"
		" content_type, dir, attempts, updated_at)"
		" SELECT n.url, 'mirrored', m.sha256, m.size, m.content_type,"
		" m.dir, 0, ?2 FROM (" BODY_MEDIA ") n"
		" JOIN job_media o ON o.jobid = ?1 AND o.field = n.field"
		" JOIN media m ON m.url = o.url AND m.state = 'mirrored'"
		" WHERE n.url != o.url",
		"DELETE FROM job_media WHERE jobid = ?1",
		"INSERT OR IGNORE INTO job_media (jobid, field, url)"
		" SELECT ?1, field, url FROM (" BODY_MEDIA ")",
		"INSERT OR IGNORE INTO media (url, state, next_at, updated_at)"
		" SELECT url, 'pending', ?2, ?2 FROM job_media WHERE jobid = ?1",
		"INSERT OR IGNORE INTO media_jobs (jobid) VALUES (?1)",
	};
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	/* All or nothing, also inside an import's transaction. */
	if (sqlite3_exec(c->db, "SAVEPOINT scan", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; rc == 0 && i < nitems(sql); i++) {
		if ((st = prepare(c, sql[i])) == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, now);
		rc = run_once(st);
		if (i == 2)
			n = sqlite3_changes(c->db);
	}
	if (rc != 0)
		sqlite3_exec(c->db, "ROLLBACK TO scan", NULL, NULL, NULL);
	sqlite3_exec(c->db, "RELEASE scan", NULL, NULL, NULL);
	return rc == 0 ? (int)n : -1;
}

/* Completed jobs whose media were never looked at (index jobs_status). */
#define UNSCANNED \
	" FROM jobs WHERE terminal = 1 AND status = 'completed'" \
	" AND NOT EXISTS (SELECT 1 FROM media_jobs m" \
	" WHERE m.jobid = jobs.jobid)"

int64_t
cache_media_unscanned(struct cache *c)
{
	int64_t n;

	CHECK_OBJ(c, CACHE_MAGIC);
	return query_int(c->db, "SELECT count(*)" UNSCANNED, &n) == 0 ? n : -1;
}

int
cache_media_scan_some(struct cache *c, char *after, size_t afterlen,
    int limit, int64_t now)
{
	sqlite3_stmt *st;
	char **ids;
	int n = 0, rc = 0, step;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (limit <= 0 || (ids = calloc((size_t)limit, sizeof(*ids))) == NULL)
		return -1;
	/* From where the last batch ended: the whole walk is linear. */
	if ((st = prepare(c, "SELECT jobid" UNSCANNED " AND jobid > ?1"
	    " ORDER BY jobid LIMIT ?2")) == NULL) {
		free(ids);
		return -1;
	}
	sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	while (n < limit && (step = sqlite3_step(st)) == SQLITE_ROW)
		if ((ids[n] = strdup((const char *)sqlite3_column_text(st,
		    0))) != NULL)
			n++;
	sqlite3_finalize(st);
	if (n > 0 && cache_begin(c) != 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < n; i++)
		if (cache_media_scan(c, ids[i], now) < 0)
			rc = -1;
	if (n > 0 && rc == 0 && cache_commit(c) != 0)
		rc = -1;
	if (n > 0 && rc != 0)
		cache_rollback(c);
	if (rc == 0 && n > 0)
		snprintf(after, afterlen, "%s", ids[n - 1]);
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc == 0 ? n : -1;
}

int
cache_media_due(struct cache *c, int64_t now, int limit,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	struct cache_media m;
	sqlite3_stmt *st;
	int step, rc = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_MEDIA_DUE];
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.url = (const char *)sqlite3_column_text(st, 0);
		m.attempts = sqlite3_column_int(st, 1);
		m.sha256 = (const char *)sqlite3_column_text(st, 2);
		m.size = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 3);
		m.content_type = (const char *)sqlite3_column_text(st, 4);
		m.state = (const char *)sqlite3_column_text(st, 5);
		rc = fn(&m, arg);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}

int64_t
cache_media_next_at(struct cache *c, int64_t after)
{
	sqlite3_stmt *st;
	int64_t at = -1;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_MEDIA_NEXT];
	sqlite3_bind_int64(st, 1, after);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return at;
}

int
cache_media_reset(struct cache *c, const char *url, int64_t now)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((st = prepare(c, "UPDATE media SET state = 'pending', attempts = 0,"
	    " next_at = ?2, reason = NULL, updated_at = ?2 WHERE url = ?1"
	    " AND state != 'mirrored'")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return run_once(st);
}

int
cache_media_mirrored(struct cache *c, const char *url, const char *sha256,
    int64_t size, const char *content_type, const char *dir, int64_t now)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_MEDIA_MIRRORED];
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	bind_text_or_null(st, 4, content_type);
	bind_text_or_null(st, 5, dir);
	sqlite3_bind_int64(st, 6, now);
	if (step_done(st) != 0)
		return -1;
	return sqlite3_changes(c->db) > 0 ? 1 : 0;
}

int
cache_media_failed(struct cache *c, const char *url, const char *reason,
    int attempts, int64_t next_at, int64_t now)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_MEDIA_FAILED];
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, attempts);
	if (next_at >= 0)
		sqlite3_bind_int64(st, 3, next_at);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	return step_done(st);
}

int
cache_media_type(struct cache *c, const char *sha256, char *ct, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_MEDIA_SHA];
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(ct, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Calls fn for each row of st (bound already): field, url, state, sha256,
 * size, content_type, dir, reason, attempts; resets st.
 */
static int
media_rows(sqlite3_stmt *st, int (*fn)(const struct cache_media *, void *),
    void *arg)
{
	struct cache_media m;
	int step, rc = 0;

	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.field = (const char *)sqlite3_column_text(st, 0);
		m.url = (const char *)sqlite3_column_text(st, 1);
		m.state = (const char *)sqlite3_column_text(st, 2);
		m.sha256 = (const char *)sqlite3_column_text(st, 3);
		m.size = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 4);
		m.content_type = (const char *)sqlite3_column_text(st, 5);
		m.dir = (const char *)sqlite3_column_text(st, 6);
		m.reason = (const char *)sqlite3_column_text(st, 7);
		m.attempts = sqlite3_column_int(st, 8);
		if (m.state == NULL)
			m.state = "pending";
		rc = fn(&m, arg);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}

int
cache_media_job(struct cache *c, const char *jobid,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	sqlite3_bind_text(c->st[ST_MEDIA_JOB], 1, jobid, -1, SQLITE_STATIC);
	return media_rows(c->st[ST_MEDIA_JOB], fn, arg);
}

int
cache_media_listed(struct cache *c, const char *jobid,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	/* A job never scanned: the URLs of its body, nothing known of them. */
	if ((st = prepare(c, JOB_MEDIA " UNION ALL"
	    " SELECT field, url, NULL, NULL, NULL, NULL, NULL, NULL, 0"
	    " FROM (" BODY_MEDIA ") WHERE NOT EXISTS"
	    " (SELECT 1 FROM media_jobs WHERE jobid = ?1) ORDER BY 1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	rc = media_rows(st, fn, arg);
	sqlite3_finalize(st);
	return rc;
}

int
cache_media_import(struct cache *c, const char *jobid, const char *url,
    const char *sha256, int64_t size, const char *content_type, int64_t now)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((st = prepare(c, "SELECT 1 FROM job_media WHERE jobid = ?1"
	    " AND url = ?2")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 1;
	}
	sqlite3_finalize(st);
	if (sha256 == NULL)
		return 0;
	/*
	 * The bytes are known, not yet here: due now, so that a server with
	 * the files in its directory takes them over, or downloads them.
	 */
	if ((st = prepare(c, "UPDATE media SET state = 'pending', sha256 = ?2,"
	    " size = ?3, content_type = ?4, next_at = ?5, reason = NULL,"
	    " updated_at = ?5 WHERE url = ?1 AND state != 'mirrored'")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	bind_text_or_null(st, 4, content_type);
	sqlite3_bind_int64(st, 5, now);
	return run_once(st);
}

int
cache_media_counts(struct cache *c, int64_t *mirrored, int64_t *pending,
    int64_t *failed)
{
	sqlite3_stmt *st;
	const char *state;
	int step;

	CHECK_OBJ(c, CACHE_MAGIC);
	*mirrored = *pending = *failed = 0;
	if ((st = prepare(c, "SELECT state, count(*) FROM media"
	    " WHERE url IN (SELECT url FROM job_media) GROUP BY state")) == NULL)
		return -1;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		state = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(state, "mirrored") == 0)
			*mirrored = sqlite3_column_int64(st, 1);
		else if (strcmp(state, "pending") == 0)
			*pending = sqlite3_column_int64(st, 1);
		else
			*failed = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : -1;
}

int
cache_media_gc(struct cache *c,
    int (*fn)(const char *dir, const char *sha256, void *), void *arg)
{
	sqlite3_stmt *st;
	int step, rc = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	/* Files of media no job refers to, unless a kept URL has the same bytes. */
	if ((st = prepare(c, "SELECT DISTINCT dir, sha256 FROM media"
	    " WHERE state = 'mirrored' AND dir IS NOT NULL"
	    " AND url NOT IN (SELECT url FROM job_media)"
	    " AND sha256 NOT IN (SELECT m.sha256 FROM media m"
	    " JOIN job_media jm ON jm.url = m.url WHERE m.sha256 IS NOT NULL)"
	    " ORDER BY sha256")) == NULL)
		return -1;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), arg);
	sqlite3_finalize(st);
	if (rc != 0 || step != SQLITE_DONE)
		return rc != 0 ? rc : -1;
	return run_once(prepare(c, "DELETE FROM media"
	    " WHERE url NOT IN (SELECT url FROM job_media)"));
}


int
cache_json_replace(struct cache *c, const void *body, size_t len,
    const char *const *paths, const char *const *values, size_t n,
    struct evbuffer *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (n == 0 || n > CACHE_REPLACE_MAX)
		return -1;
	st = c->st[ST_JSON_REPLACE];
	sqlite3_bind_blob64(st, 1, body, len, SQLITE_STATIC);
	for (size_t i = 0; i < CACHE_REPLACE_MAX; i++) {
		size_t k = i < n ? i : 0;

		sqlite3_bind_text(st, 2 + 2 * (int)i, paths[k], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3 + 2 * (int)i, values[k], -1,
		    SQLITE_STATIC);
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_TEXT &&
	    evbuffer_add(out, sqlite3_column_text(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0)) == 0)
		rc = 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int
cache_media_all(struct cache *c,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	sqlite3_stmt *st;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((st = prepare(c, "SELECT DISTINCT NULL, jm.url, m.state, m.sha256,"
	    " m.size, m.content_type, m.dir, NULL, 0"
	    " FROM job_media jm JOIN jobs j ON j.jobid = jm.jobid"
	    " LEFT JOIN media m ON m.url = jm.url WHERE j.terminal = 1"
	    " AND j.status = 'completed' ORDER BY jm.url")) == NULL)
		return -1;
	rc = media_rows(st, fn, arg);
	sqlite3_finalize(st);
	return rc;
}
