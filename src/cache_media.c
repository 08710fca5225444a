/*
 * The media mirror's rows in the cache (SPEC 9).  A completed job is
 * scanned once for the URLs of its response (SQLite's JSON functions read
 * the stored body); each URL gets a media row that the downloader moves
 * from pending to mirrored or failed.  Its statements are prepared with
 * cache.c's at open (cache_int.h); it knows nothing of files or downloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "cache.h"
#include "cache_int.h"
#include "util.h"

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

/*
 * The media rows of job ?1 as media_rows() reads them: field, url, state,
 * sha256, size, content_type, dir, reason, attempts.
 */
#define JOB_MEDIA \
	"SELECT jm.field, jm.url, m.state, m.sha256, m.size, m.content_type," \
	" m.dir, m.reason, m.attempts FROM job_media jm" \
	" LEFT JOIN media m ON m.url = jm.url WHERE jm.jobid = ?1"

const char *const cache_media_sql[MST__MAX] = {
	/* A scan is all or nothing, also inside an import's transaction. */
	[MST_SAVEPOINT] = "SAVEPOINT scan",
	[MST_ROLLBACK_TO] = "ROLLBACK TO scan",
	[MST_RELEASE] = "RELEASE scan",
	/*
	 * A refetch renews signed URLs of the same files: a new URL for a
	 * field takes over the mirrored file of the old one.
	 */
	[MST_SCAN_RENEWED] =
	    "INSERT OR IGNORE INTO media (url, state, sha256, size,"
	    " content_type, dir, attempts, updated_at)"
	    " SELECT n.url, 'mirrored', m.sha256, m.size, m.content_type,"
	    " m.dir, 0, ?2 FROM (" BODY_MEDIA ") n"
	    " JOIN job_media o ON o.jobid = ?1 AND o.field = n.field"
	    " JOIN media m ON m.url = o.url AND m.state = 'mirrored'"
	    " WHERE n.url != o.url",
	[MST_SCAN_FORGET] = "DELETE FROM job_media WHERE jobid = ?1",
	[MST_SCAN_LIST] =
	    "INSERT OR IGNORE INTO job_media (jobid, field, url)"
	    " SELECT ?1, field, url FROM (" BODY_MEDIA ")",
	[MST_SCAN_QUEUE] =
	    "INSERT OR IGNORE INTO media (url, state, next_at, updated_at)"
	    " SELECT url, 'pending', ?2, ?2 FROM job_media WHERE jobid = ?1",
	[MST_SCAN_DONE] = "INSERT OR IGNORE INTO media_jobs (jobid) VALUES (?1)",
	/*
	 * The next ?2 jobs after ?1 by jobid (the primary key's index), each
	 * with whether it is completed and was never scanned.  A batch
	 * costs ?2 index entries however few need a scan, so the whole walk
	 * is linear and no turn of the loop is long; the row of a job is
	 * read only when media_jobs does not list it.
	 */
	[MST_SCAN_WALK] =
	    "SELECT w.jobid, CASE WHEN EXISTS (SELECT 1 FROM media_jobs m"
	    " WHERE m.jobid = w.jobid) THEN 0 ELSE EXISTS (SELECT 1 FROM jobs j"
	    " WHERE j.jobid = w.jobid AND j.terminal = 1"
	    " AND j.status = 'completed') END"
	    " FROM (SELECT jobid FROM jobs WHERE jobid > ?1 ORDER BY jobid"
	    " LIMIT ?2) w ORDER BY w.jobid",
	/*
	 * "state IN ('pending', 'failed')" is the WHERE of the partial index
	 * media_due (sql/006), word for word, so that SQLite uses it.
	 */
	[MST_DUE] =
	    "SELECT url, attempts, sha256, size, content_type, state FROM media"
	    " WHERE state IN ('pending', 'failed') AND next_at <= ?1"
	    " AND url IN (SELECT url FROM job_media)"
	    " ORDER BY next_at, url LIMIT ?2",
	[MST_NEXT] =
	    "SELECT min(next_at) FROM media WHERE state IN ('pending', 'failed')"
	    " AND next_at > ?1 AND url IN (SELECT url FROM job_media)",
	[MST_RESET] =
	    "UPDATE media SET state = 'pending', attempts = 0, next_at = ?2,"
	    " reason = NULL, updated_at = ?2 WHERE url = ?1"
	    " AND state != 'mirrored'",
	[MST_MIRRORED] =
	    "UPDATE media SET state = 'mirrored', sha256 = ?2, size = ?3,"
	    " content_type = ?4, dir = ?5, attempts = attempts + 1,"
	    " next_at = NULL, reason = NULL, updated_at = ?6 WHERE url = ?1",
	[MST_FAILED] =
	    "UPDATE media SET state = 'failed', attempts = ?2, next_at = ?3,"
	    " reason = ?4, updated_at = ?5 WHERE url = ?1"
	    " AND state != 'mirrored'",
	[MST_SHA] =
	    "SELECT coalesce(content_type, '') FROM media WHERE sha256 = ?1"
	    " ORDER BY content_type IS NULL LIMIT 1",
	[MST_JOB] = JOB_MEDIA " ORDER BY 1",
	/* A job never scanned: the URLs of its body, nothing known of them. */
	[MST_LISTED] =
	    JOB_MEDIA " UNION ALL"
	    " SELECT field, url, NULL, NULL, NULL, NULL, NULL, NULL, 0"
	    " FROM (" BODY_MEDIA ") WHERE NOT EXISTS"
	    " (SELECT 1 FROM media_jobs WHERE jobid = ?1) ORDER BY 1",
	[MST_IMPORT_HAS] = "SELECT 1 FROM job_media WHERE jobid = ?1 AND url = ?2",
	/*
	 * The bytes are known, not yet here: due now, so that a server with
	 * the files in its directory takes them over, or downloads them.
	 */
	[MST_IMPORT_SET] =
	    "UPDATE media SET state = 'pending', sha256 = ?2, size = ?3,"
	    " content_type = ?4, next_at = ?5, reason = NULL, updated_at = ?5"
	    " WHERE url = ?1 AND state != 'mirrored'",
	[MST_ALL] =
	    "SELECT DISTINCT NULL, jm.url, m.state, m.sha256, m.size,"
	    " m.content_type, m.dir, NULL, 0"
	    " FROM job_media jm JOIN jobs j ON j.jobid = jm.jobid"
	    " LEFT JOIN media m ON m.url = jm.url WHERE j.terminal = 1"
	    " AND j.status = 'completed' ORDER BY jm.url",
	[MST_COUNTS] =
	    "SELECT state, count(*) FROM media"
	    " WHERE url IN (SELECT url FROM job_media) GROUP BY state",
	/*
	 * A job's stored body with its media links replaced, read by key:
	 * CACHE_REPLACE_MAX pairs, unused ones repeat the first.  As text,
	 * not the BLOB it is stored as, which the JSON functions refuse (or,
	 * from SQLite 3.45 on, would read as JSONB).
	 */
	[MST_REWRITE] =
	    "SELECT json_replace(CAST(body AS TEXT), ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	    " ?10, ?11, ?12) FROM jobs WHERE jobid = ?1 AND etag = ?2",
};

/* c's media statement `which`, reset and without bindings. */
static sqlite3_stmt *
stmt(struct cache *c, int which)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return cache_stmt(c->mst, which);
}

/* Runs statement `which` of a scan for jobid (and now, where it takes ?2). */
static int
scan_step(struct cache *c, int which, const char *jobid, int64_t now)
{
	sqlite3_stmt *st = stmt(c, which);

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, now);
	return cache_step_done(c, st);
}

int
cache_media_scan(struct cache *c, const char *jobid, int64_t now)
{
	static const int steps[] = {
		MST_SCAN_RENEWED,
		MST_SCAN_FORGET,
		MST_SCAN_LIST,
		MST_SCAN_QUEUE,
		MST_SCAN_DONE,
	};
	int64_t n = 0;
	int rc = 0, alone;

	alone = sqlite3_get_autocommit(c->db);
	if (cache_step_done(c, stmt(c, MST_SAVEPOINT)) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < nitems(steps); i++) {
		rc = scan_step(c, steps[i], jobid, now);
		if (steps[i] == MST_SCAN_LIST)
			n = sqlite3_changes(c->db);
	}
	if (rc != 0)
		cache_step_done(c, stmt(c, MST_ROLLBACK_TO));
	/*
	 * Outside a transaction the savepoint was one, and RELEASE is its
	 * COMMIT: when that fails nothing was stored, and a transaction it
	 * left open is rolled back.
	 */
	if (cache_step_done(c, stmt(c, MST_RELEASE)) != 0) {
		rc = -1;
		if (alone && !sqlite3_get_autocommit(c->db))
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc == 0 ? (int)n : -1;
}

int
cache_media_scan_some(struct cache *c, char *after, size_t afterlen,
    int limit, int64_t now, int *scanned)
{
	sqlite3_stmt *st;
	char **ids, *last = NULL;
	const char *id;
	int looked = 0, n = 0, rc = 0, step = SQLITE_DONE;

	CHECK_OBJ(c, CACHE_MAGIC);
	*scanned = 0;
	if (limit <= 0 || (ids = calloc((size_t)limit, sizeof(*ids))) == NULL)
		return -1;
	st = stmt(c, MST_SCAN_WALK);
	sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	while (rc == 0 && looked < limit &&
	    (step = sqlite3_step(st)) == SQLITE_ROW) {
		id = (const char *)sqlite3_column_text(st, 0);
		free(last);
		last = NULL;
		if (id == NULL || (last = strdup(id)) == NULL ||
		    (sqlite3_column_int(st, 1) &&
		    (ids[n++] = strdup(id)) == NULL))
			rc = -1;
		looked++;
	}
	if (rc == 0 && looked < limit && step != SQLITE_DONE)
		rc = -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (n > 0 && rc == 0 && cache_begin(c) != 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < n; i++)
		if (cache_media_scan(c, ids[i], now) < 0)
			rc = -1;
	if (n > 0 && rc == 0 && cache_commit(c) != 0)
		rc = -1;
	if (n > 0 && rc != 0)
		cache_rollback(c);
	if (rc == 0 && last != NULL)
		snprintf(after, afterlen, "%s", last);
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(last);
	if (rc != 0)
		return -1;
	*scanned = n;
	return looked;
}

int
cache_media_due(struct cache *c, int64_t now, int limit,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	sqlite3_stmt *st = stmt(c, MST_DUE);
	struct cache_media m;
	int step, rc = 0;

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
	sqlite3_stmt *st = stmt(c, MST_NEXT);
	int64_t at = -1;

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
	sqlite3_stmt *st = stmt(c, MST_RESET);

	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return cache_step_done(c, st);
}

int
cache_media_mirrored(struct cache *c, const char *url, const char *sha256,
    int64_t size, const char *content_type, const char *dir, int64_t now)
{
	sqlite3_stmt *st = stmt(c, MST_MIRRORED);

	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	cache_bind_text_or_null(st, 4, content_type);
	cache_bind_text_or_null(st, 5, dir);
	sqlite3_bind_int64(st, 6, now);
	if (cache_step_done(c, st) != 0)
		return -1;
	return sqlite3_changes(c->db) > 0 ? 1 : 0;
}

int
cache_media_failed(struct cache *c, const char *url, const char *reason,
    int attempts, int64_t next_at, int64_t now)
{
	sqlite3_stmt *st = stmt(c, MST_FAILED);

	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, attempts);
	if (next_at >= 0)
		sqlite3_bind_int64(st, 3, next_at);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	return cache_step_done(c, st);
}

int
cache_media_type(struct cache *c, const char *sha256, char *ct, size_t len)
{
	sqlite3_stmt *st = stmt(c, MST_SHA);
	int rc;

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
	sqlite3_stmt *st = stmt(c, MST_JOB);

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	return media_rows(st, fn, arg);
}

int
cache_media_listed(struct cache *c, const char *jobid,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	sqlite3_stmt *st = stmt(c, MST_LISTED);

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	return media_rows(st, fn, arg);
}

int
cache_media_import(struct cache *c, const char *jobid, const char *url,
    const char *sha256, int64_t size, const char *content_type, int64_t now)
{
	sqlite3_stmt *st = stmt(c, MST_IMPORT_HAS);
	int found;

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!found)
		return 1;
	if (sha256 == NULL)
		return 0;
	st = stmt(c, MST_IMPORT_SET);
	sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, size);
	cache_bind_text_or_null(st, 4, content_type);
	sqlite3_bind_int64(st, 5, now);
	return cache_step_done(c, st);
}

int
cache_media_all(struct cache *c,
    int (*fn)(const struct cache_media *, void *), void *arg)
{
	return media_rows(stmt(c, MST_ALL), fn, arg);
}

int
cache_media_counts(struct cache *c, int64_t *mirrored, int64_t *pending,
    int64_t *failed)
{
	sqlite3_stmt *st = stmt(c, MST_COUNTS);
	const char *state;
	int step;

	*mirrored = *pending = *failed = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		state = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(state, "mirrored") == 0)
			*mirrored = sqlite3_column_int64(st, 1);
		else if (strcmp(state, "pending") == 0)
			*pending = sqlite3_column_int64(st, 1);
		else
			*failed = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? 0 : -1;
}

/* A statement of the purge command only (once a run): prepared per use. */
static sqlite3_stmt *
prepare_once(struct cache *c, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

int
cache_media_gc(struct cache *c,
    int (*fn)(const char *dir, const char *sha256, void *), void *arg)
{
	sqlite3_stmt *st;
	int step, rc = 0;

	CHECK_OBJ(c, CACHE_MAGIC);
	/* Files of media no job refers to, unless a kept URL has the same bytes. */
	if ((st = prepare_once(c, "SELECT DISTINCT dir, sha256 FROM media"
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
	if ((st = prepare_once(c, "DELETE FROM media"
	    " WHERE url NOT IN (SELECT url FROM job_media)")) == NULL)
		return -1;
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : -1;
}

int
cache_media_rewrite(struct cache *c, const char *jobid, const char *etag,
    const char *const *paths, const char *const *values, size_t n,
    struct evbuffer *out)
{
	sqlite3_stmt *st;
	int rc = -1, step;

	if (n == 0 || n > CACHE_REPLACE_MAX)
		return -1;
	st = stmt(c, MST_REWRITE);
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, etag, -1, SQLITE_STATIC);
	for (size_t i = 0; i < CACHE_REPLACE_MAX; i++) {
		size_t k = i < n ? i : 0;

		sqlite3_bind_text(st, 3 + 2 * (int)i, paths[k], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4 + 2 * (int)i, values[k], -1,
		    SQLITE_STATIC);
	}
	if ((step = sqlite3_step(st)) == SQLITE_DONE)
		rc = 0;
	else if (step == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_TEXT &&
	    evbuffer_add(out, sqlite3_column_text(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0)) == 0)
		rc = 1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}
