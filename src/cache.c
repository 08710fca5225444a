/*
 * SQLite storage for the jobs route.  A file is checked before anything is
 * written to it: it must be empty, or carry our application_id with a
 * schema version we know and tables whose first rows read; the check reads
 * a bounded part of the file, never all of it.  Statements are prepared
 * once at open (with cache_media.c's, which owns the media rows); lookups
 * are one indexed query and never write.  Writes are short transactions
 * on the miss path; a terminal job is committed before its answer is
 * sent.  A write that fails for want of a disk (EIO, ENOSPC) starts a
 * time of failing writes, logged once, that a synced commit of jobs, or
 * the write probe, ends (cache_write_error()).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "cache.h"
#include "cache_int.h"
#include "log.h"
#include "util.h"

#define SHM_MAP		4096	/* bytes of the -shm file mapped */

#define APPLICATION_ID		0x4c554d41	/* "LUMA" */
#define PROBE_MS		1000	/* write probes, while writes fail */
#define HOLD_MS			10000	/* failing, at least, after a failure */
#define SAY_MS			60000	/* between two "cannot write" lines */
/*
 * How long opening waits for another process that creates or migrates the
 * same file (a server starting, a keys command); the loop's 200 ms apply
 * once it is open.
 */
#define OPEN_BUSY_MS		10000
/*
 * The page size of a new file.  A job's row (record, jobid, ETag) is 0.4
 * to 1.4 KB: a 4 KiB page holds two or three and leaves part of a row
 * unused, which 8 KiB pages halve (the jobs table took 5 to 14 % less
 * room in bench/startup.sh, depending on the records' size).  A file
 * keeps the size it was made with.
 */
#define NEW_PAGE_SIZE		"8192"

/*
 * Corruption SQLite has met in this process, in any statement: its log
 * callback counts it (main loop only), and a cache's ping fails once the
 * count has moved since the cache was opened.  SQLite takes the callback
 * only before its first use in the process.
 */
static uint64_t damage_seen;

extern const char *const schema_migrations[];
extern const size_t schema_nmigrations;

static const char *const stmt_sql[ST__MAX] = {
	[ST_LOOKUP] =
	    "SELECT j.status, j.terminal, j.etag, j.fetched_at, g.fetched_at,"
	    " j.body FROM grants g JOIN jobs j ON j.jobid = g.jobid"
	    " WHERE g.jobid = ?1 AND g.token_id = ?2",
	/* The same, with the owner of a job a team member submitted. */
	[ST_LOOKUP_OWNED] =
	    "SELECT j.status, j.terminal, j.etag, j.fetched_at, g.fetched_at,"
	    " j.body, (SELECT owner FROM job_owners o WHERE o.jobid = ?1)"
	    " FROM grants g JOIN jobs j ON j.jobid = g.jobid"
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
	/* The counts the triggers keep: a row per status, not per job. */
	[ST_COUNT] =
	    "SELECT coalesce(sum(n), 0), coalesce(sum(n * terminal), 0)"
	    " FROM job_counts",
	[ST_PING] = "SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT 1)",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	/* Labels of a metric: a bounded set, whatever upstream says. */
	[ST_COUNT_STATUS] =
	    "SELECT CASE WHEN status IN ('pending', 'processing', 'completed',"
	    " 'failed') THEN status ELSE 'other' END AS s, sum(n)"
	    " FROM job_counts GROUP BY s ORDER BY s",
	[ST_PUT_SUBMISSION] =
	    "INSERT OR IGNORE INTO submissions (jobid, type, token_id,"
	    " submitted_at) VALUES (?1, ?2, ?3, ?4)",
	[ST_SUBMITTER] =
	    "SELECT submitted_at FROM submissions WHERE jobid = ?1"
	    " AND token_id = ?2",
	/* One job of a group commit (cache_store_jobs). */
	[ST_SAVEPOINT] = "SAVEPOINT put",
	[ST_RELEASE] = "RELEASE put",
	[ST_ROLLBACK_TO] = "ROLLBACK TO put",
};

int
cache_schema_version(void)
{
	return (int)schema_nmigrations;
}

/*
 * A look at each table of a schema version before anything writes: its
 * first row, so the root page and the path to the first leaf must be
 * sound.  Bounded whatever the size of the file, where PRAGMA quick_check
 * reads all of it; damage elsewhere shows when it is read.  NOT INDEXED:
 * the table's own b-tree, not a covering index.
 */
static const struct {
	int		 since;		/* the schema version that made it */
	const char	*sql;
} probes[] = {
	{ 1, "SELECT 1 FROM jobs NOT INDEXED LIMIT 1" },
	{ 1, "SELECT 1 FROM grants NOT INDEXED LIMIT 1" },
	{ 1, "SELECT 1 FROM negatives NOT INDEXED LIMIT 1" },
	{ 2, "SELECT 1 FROM submissions NOT INDEXED LIMIT 1" },
	{ 3, "SELECT 1 FROM media NOT INDEXED LIMIT 1" },
	{ 3, "SELECT 1 FROM job_media NOT INDEXED LIMIT 1" },
	{ 3, "SELECT 1 FROM media_jobs NOT INDEXED LIMIT 1" },
	{ 4, "SELECT 1 FROM members NOT INDEXED LIMIT 1" },
	{ 4, "SELECT 1 FROM members_version NOT INDEXED LIMIT 1" },
	{ 4, "SELECT 1 FROM members_log NOT INDEXED LIMIT 1" },
	{ 4, "SELECT 1 FROM job_owners NOT INDEXED LIMIT 1" },
	{ 4, "SELECT 1 FROM usage NOT INDEXED LIMIT 1" },
	{ 5, "SELECT 1 FROM job_counts NOT INDEXED LIMIT 1" },
};

/* SQLite's error log: counts the corruption it reports. */
static void
damage_log(void *arg, int code, const char *msg)
{
	(void)arg;
	(void)msg;
	if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
		damage_seen++;
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
	int rc = -1, step;

	/* One snapshot: another process may be migrating the file. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (query_int(db, "PRAGMA application_id", &appid) != 0 ||
	    query_int(db, "PRAGMA user_version", &version) != 0 ||
	    query_int(db, "SELECT count(*) FROM sqlite_master", &objects) != 0) {
		if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOTADB)
			snprintf(err, errlen, "%s: not a lumaproxy database (%s)",
			    path, sqlite3_errmsg(db));
		else
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto done;
	}
	if (appid == 0 && version == 0 && objects == 0) {
		rc = 0;
		goto done;
	}
	if (appid != APPLICATION_ID) {
		snprintf(err, errlen, "%s: not a lumaproxy database", path);
		goto done;
	}
	if (version > (int64_t)schema_nmigrations) {
		snprintf(err, errlen, "%s: database schema version %lld is newer"
		    " than this lumaproxy understands (%d)", path,
		    (long long)version, (int)schema_nmigrations);
		goto done;
	}
	for (size_t i = 0; i < nitems(probes); i++) {
		if (probes[i].since > version)
			continue;
		if (sqlite3_prepare_v2(db, probes[i].sql, -1, &st,
		    NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
			goto done;
		}
		step = sqlite3_step(st);
		sqlite3_finalize(st);
		if (step != SQLITE_ROW && step != SQLITE_DONE) {
			snprintf(err, errlen, "%s: database is corrupt (%s)", path,
			    sqlite3_errstr(step));
			goto done;
		}
	}
	rc = (int)version;
done:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * Puts db in WAL mode, checking that it took (":memory:" stays "memory").
 * The switch can be refused as busy without the busy handler being asked
 * (another process opening the same new file): it is tried again.
 */
static int
set_wal(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t until = util_mono_ms() + OPEN_BUSY_MS;
	sqlite3_stmt *st;
	const char *mode;
	int ok, rc;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) != SQLITE_ROW && (rc & 0xff) ==
	    SQLITE_BUSY && util_mono_ms() < until) {
		sqlite3_reset(st);
		sqlite3_sleep(20);
	}
	ok = rc == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
	if (!ok)
		snprintf(err, errlen, "%s: cannot use WAL mode: %s", path,
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/*
 * Applies the migrations past the version found, each in its own
 * transaction.  The version is read again once the transaction holds the
 * write lock: another process may have migrated the file (or, when it was
 * empty, created it) since cache_check() looked.
 */
static int
cache_migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int64_t appid, v;
	char sql[128];
	char *msg = NULL;

	for (;;) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    query_int(db, "PRAGMA application_id", &appid) != 0 ||
		    query_int(db, "PRAGMA user_version", &v) != 0) {
			snprintf(err, errlen, "%s: %s", path, msg ? msg :
			    sqlite3_errmsg(db));
			goto fail;
		}
		if (v > 0 && appid != APPLICATION_ID) {
			snprintf(err, errlen, "%s: not a lumaproxy database", path);
			goto fail;
		}
		if (v >= (int64_t)schema_nmigrations) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			return 0;
		}
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d;"
		    " PRAGMA user_version = %d; COMMIT", APPLICATION_ID,
		    (int)v + 1);
		if (sqlite3_exec(db, schema_migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migrating to schema version %d: %s",
			    (int)v + 1, msg ? msg : sqlite3_errmsg(db));
			goto fail;
		}
	}
fail:
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Prepares the n statements of sql on db into st, to live as long as c. */
static int
prepare_all(sqlite3 *db, const char *const *sql, int n, sqlite3_stmt **st,
    const char *path, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing statement: %s",
			    path, sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

struct cache *
cache_open(const char *path, char *err, size_t errlen)
{
	static int logging;
	struct cache *c;
	struct stat sb;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int version;
	char *msg = NULL;

	if (!logging) {
		/* Before SQLite's first use in the process, or it refuses. */
		if (sqlite3_config(SQLITE_CONFIG_LOG, damage_log, NULL) !=
		    SQLITE_OK)
			log_warn("cache: SQLite's log cannot be read; damage"
			    " met after opening goes unnoticed by /healthz");
		logging = 1;
	}

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
	c->shm_fd = -1;
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open database: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, OPEN_BUSY_MS);
	if ((version = cache_check(c->db, path, err, errlen)) < 0)
		goto fail;
	/* Before anything is written: a new file's pages are its for good. */
	if (version == 0 && sqlite3_exec(c->db, "PRAGMA page_size = "
	    NEW_PAGE_SIZE, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	/*
	 * synchronous = NORMAL is durable against crashes in WAL mode; a
	 * group of cache_store_jobs() that holds a terminal job is committed
	 * with FULL, and while writes fail every one of its commits is.
	 */
	if (sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL;"
	    " PRAGMA foreign_keys = ON", NULL, NULL, &msg) != SQLITE_OK ||
	    set_wal(c->db, path, err, errlen) != 0) {
		if (msg != NULL)
			snprintf(err, errlen, "%s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	if (version < (int)schema_nmigrations &&
	    cache_migrate(c->db, path, err, errlen) != 0)
		goto fail;
	/* A writer from another process may hold the loop 200 ms at most. */
	sqlite3_busy_timeout(c->db, 200);
	/*
	 * Upstream's records are read on an in-memory database of their own
	 * (cache_record.c): its json_each() needs a read transaction, which
	 * on the file would cost two lock calls per record.
	 */
	if (sqlite3_open_v2(":memory:", &c->mem, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open an in-memory database",
		    path);
		goto fail;
	}
	if (prepare_all(c->db, stmt_sql, ST__MAX, c->st, path, err,
	    errlen) != 0 ||
	    prepare_all(c->db, cache_media_sql, MST__MAX, c->mst, path, err,
	    errlen) != 0 ||
	    prepare_all(c->mem, cache_record_sql, 1, c->rst, path, err,
	    errlen) != 0 ||
	    prepare_all(c->db, cache_team_sql, TST__MAX, c->tst, path, err,
	    errlen) != 0)
		goto fail;
	c->damage = damage_seen;
	if (strcmp(path, ":memory:") != 0 && stat(path, &sb) == 0) {
		c->dev = sb.st_dev;
		c->ino = sb.st_ino;
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
	for (i = 0; i < MST__MAX; i++)
		sqlite3_finalize(c->mst[i]);
	sqlite3_finalize(c->rst[0]);
	for (i = 0; i < TST__MAX; i++)
		sqlite3_finalize(c->tst[i]);
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		sqlite3_close_v2(c->db);
	/* After SQLite: closing shm_fd drops its locks (cache_stamp_moved()). */
	if (c->shm != NULL)
		munmap((void *)c->shm, SHM_MAP);
	if (c->shm_fd >= 0)
		close(c->shm_fd);
	if (c->mem != NULL)
		sqlite3_close_v2(c->mem);
	memset(c, 0, sizeof(*c));
	free(c);
}

/* Binds the (jobid, token_id) key shared by most statements as ?1, ?2. */
static sqlite3_stmt *
bind_key(struct cache *c, int which, const char *jobid, const char *token_id)
{
	sqlite3_stmt *st;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = cache_stmt(c->st, which);
	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token_id, -1, SQLITE_STATIC);
	return st;
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

/* cache_lookup() with statement which: ST_LOOKUP, or ST_LOOKUP_OWNED. */
static int
lookup(struct cache *c, int which, const char *jobid, const char *token_id,
    struct cache_job *job, struct evbuffer *body)
{
	sqlite3_stmt *st = bind_key(c, which, jobid, token_id);
	int rc;

	memset(job, 0, sizeof(*job));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cache_column_copy(st, 0, job->status, sizeof(job->status));
		job->terminal = sqlite3_column_int(st, 1);
		cache_column_copy(st, 2, job->etag, sizeof(job->etag));
		job->job_fetched_at = sqlite3_column_int64(st, 3);
		job->grant_fetched_at = sqlite3_column_int64(st, 4);
		rc = column_body(st, 5, body, &job->len) == 0 ? 1 : -1;
		if (which == ST_LOOKUP_OWNED)
			cache_column_copy(st, 6, job->owner, sizeof(job->owner));
	} else
		rc = rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int
cache_lookup(struct cache *c, const char *jobid, const char *token_id,
    struct cache_job *job, struct evbuffer *body)
{
	return lookup(c, ST_LOOKUP, jobid, token_id, job, body);
}

int
cache_lookup_owned(struct cache *c, const char *jobid, const char *token_id,
    struct cache_job *job, struct evbuffer *body)
{
	return lookup(c, ST_LOOKUP_OWNED, jobid, token_id, job, body);
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

/* Whether SQLite's code rc says a write failed for want of a disk. */
static int
disk_failure(int rc)
{
	switch (rc) {
	case SQLITE_FULL:
	case SQLITE_IOERR_WRITE:
	case SQLITE_IOERR_FSYNC:
	case SQLITE_IOERR_DIR_FSYNC:
	case SQLITE_IOERR_TRUNCATE:
	case SQLITE_IOERR_SHMSIZE:
		return 1;
	}
	return 0;
}

/*
 * A time of failing writes begins with a write that fails for want of a
 * disk and ends with a synced commit that stored something: a job
 * (cache_store_jobs()), or, when no traffic comes, the probe's one page.
 * On a nearly full disk that page fits where a large job does not, so
 * the probe alone could end the time at every second and the next miss
 * begin it again: a pair of lines per miss and a /healthz that flaps.
 * Hence the probe ends it only HOLD_MS after the last failure, and once
 * it has, the next start line waits until SAY_MS after the one before;
 * one held back is written by the probe once that time is up, with the
 * failures counted since the last line.  A commit that stores jobs shows
 * the disk takes them: a start after it is said at once.  The end is
 * logged only when its start was.  The clock is the last one the probe
 * was given (the server's sweep calls it every 100 ms).
 */

/* Logs the start of a time of failing writes, unless said or too soon. */
static void
say_failing(struct cache *c)
{
	char since[64] = "";

	if (c->write_rc == 0 || c->write_said || c->clock < c->say_at)
		return;
	if (c->write_fails > 1)
		snprintf(since, sizeof(since), " (%llu failed writes since the"
		    " last line)", (unsigned long long)c->write_fails);
	log_error("cache: cannot write to the database %s (%s); answers"
	    " are relayed without being stored until a write succeeds%s",
	    sqlite3_db_filename(c->db, "main"), sqlite3_errstr(c->write_rc),
	    since);
	c->write_said = 1;
	c->said_at = c->clock;
}

/*
 * A statement of c failed with SQLite's (extended) code rc: one that says
 * the disk failed begins (or prolongs) a time of failing writes.
 */
static void
write_failed(struct cache *c, int rc)
{
	c->last_rc = rc;
	if (!disk_failure(rc))
		return;
	c->write_rc = rc;
	c->write_fails++;
	c->failed_at = c->clock;
	say_failing(c);
}

int
cache_step_done(struct cache *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	write_failed(c, rc);
	return -1;
}

/*
 * Writes work (again): a commit of c stored something (synced, while
 * they failed), or, when by_probe, the probe's page was synced.
 */
static void
write_works(struct cache *c, int by_probe)
{
	c->say_at = by_probe ? c->said_at + SAY_MS : 0;
	if (c->write_rc == 0)
		return;
	if (c->write_said) {
		log_warn("cache: the database %s can be written again (%llu"
		    " failed write%s)", sqlite3_db_filename(c->db, "main"),
		    (unsigned long long)c->write_fails,
		    c->write_fails == 1 ? "" : "s");
		c->write_fails = 0;
	}
	c->write_rc = 0;
	c->write_said = 0;
}

const char *
cache_write_error(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return c->write_rc != 0 ? sqlite3_errstr(c->write_rc) : NULL;
}

enum log_level
cache_failure_level(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	/* Only the disk's failure was said; a lock, a damaged page were not. */
	return c->write_rc != 0 && disk_failure(c->last_rc) ? LOG_DEBUG :
	    LOG_ERROR;
}

const char *
cache_last_error(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return sqlite3_errstr(c->last_rc);
}

/*
 * Sets how the next commits are synced: FULL (the WAL is synced at each
 * commit) or NORMAL.  Run anew each time: PRAGMA synchronous takes effect
 * when the statement is compiled, not when it is stepped, so that one
 * prepared once would have set it once, at open, and never again.
 */
static int
set_synchronous(struct cache *c, int full)
{
	return sqlite3_exec(c->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

/*
 * The probe rewrites the header's application_id with the value it holds:
 * one page, committed and synced, nothing changed.
 */
int
cache_write_probe(struct cache *c, int64_t now)
{
	char probe[96];
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (now > c->clock)
		c->clock = now;
	if (c->write_rc == 0)
		return 0;
	say_failing(c);		/* one held back, once its time is up */
	if (now < c->probe_at || now < c->failed_at + HOLD_MS)
		return -1;
	c->probe_at = now + PROBE_MS;
	snprintf(probe, sizeof(probe), "BEGIN IMMEDIATE;"
	    " PRAGMA application_id = %d; COMMIT", APPLICATION_ID);
	if (set_synchronous(c, 1) != 0)
		return -1;
	if ((rc = sqlite3_exec(c->db, probe, NULL, NULL, NULL)) == SQLITE_OK)
		write_works(c, 1);
	else {
		write_failed(c, rc);
		if (!sqlite3_get_autocommit(c->db))
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	set_synchronous(c, 0);
	return c->write_rc == 0 ? 0 : -1;
}

static int
tx_begin(struct cache *c)
{
	return cache_step_done(c, c->st[ST_BEGIN]);
}

/* Commits, or rolls back when ok is not 0; returns 0 once committed. */
static int
tx_end(struct cache *c, int ok)
{
	if (ok == 0 && cache_step_done(c, c->st[ST_COMMIT]) == 0)
		return 0;
	/* A failed commit may have ended it: no error of its own then. */
	if (!sqlite3_get_autocommit(c->db))
		cache_step_done(c, c->st[ST_ROLLBACK]);
	return -1;
}

/* Writes the rows of put p within the transaction open; 0 or -1. */
static int
put_rows(struct cache *c, const struct cache_put *p)
{
	char tag[ETAG_LEN + 1];
	const char *etag = p->etag;
	sqlite3_stmt *st;

	if (etag == NULL) {
		record_etag(p->body, p->len, tag);
		etag = tag;
	}
	st = bind_key(c, ST_PUT_JOB, p->jobid, NULL);
	if (p->rec->type[0] != '\0')
		sqlite3_bind_text(st, 2, p->rec->type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, p->rec->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, p->rec->terminal);
	sqlite3_bind_text(st, 5, etag, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 6, p->body, p->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, p->now);
	if (cache_step_done(c, st) != 0)
		return -1;
	st = bind_key(c, ST_PUT_GRANT, p->jobid, p->token_id);
	sqlite3_bind_int64(st, 3, p->now);
	if (cache_step_done(c, st) != 0)
		return -1;
	return cache_step_done(c, bind_key(c, ST_DEL_NEG, p->jobid,
	    p->token_id));
}

int
cache_store_jobs(struct cache *c, struct cache_put *const *puts, size_t n)
{
	size_t i, nstored = 0;
	int sync = 0, rc = -1, ok;

	CHECK_OBJ(c, CACHE_MAGIC);
	for (i = 0; i < n; i++) {
		puts[i]->stored = 0;
		sync |= puts[i]->rec->terminal;
	}
	if (n == 0)
		return 0;
	/*
	 * A finished job must survive a power cut too, once answered: the
	 * commit of a group that holds one is synced (once, for all).  While
	 * writes fail every commit is, so that its success says they work.
	 */
	sync |= c->write_rc != 0;
	if (sync && set_synchronous(c, 1) != 0)
		return -1;
	if (tx_begin(c) != 0)
		goto done;
	for (i = 0; i < n; i++) {
		/* Each job all or nothing, as if committed on its own. */
		if (cache_step_done(c, c->st[ST_SAVEPOINT]) != 0)
			break;
		ok = put_rows(c, puts[i]) == 0;
		if (!ok)
			cache_step_done(c, c->st[ST_ROLLBACK_TO]);
		if (cache_step_done(c, c->st[ST_RELEASE]) != 0 ||
		    sqlite3_get_autocommit(c->db))
			break;	/* the error ended the transaction */
		puts[i]->stored = ok;
	}
	if (tx_end(c, i < n ? -1 : 0) == 0) {
		for (i = 0; i < n; i++)
			nstored += (size_t)puts[i]->stored;
		rc = (int)nstored;
		/* Only stored rows prove it: the commit may have had none. */
		if (nstored > 0)
			write_works(c, 0);
	}
done:
	if (rc < 0)
		for (i = 0; i < n; i++)
			puts[i]->stored = 0;
	if (sync)
		set_synchronous(c, 0);
	return rc;
}

int
cache_store_job(struct cache *c, const char *jobid, const char *token_id,
    const struct record *rec, const char *etag, const void *body, size_t len,
    int64_t now)
{
	struct cache_put put, *p = &put;

	memset(&put, 0, sizeof(put));
	put.jobid = jobid;
	put.token_id = token_id;
	put.rec = rec;
	put.etag = etag;
	put.body = body;
	put.len = len;
	put.now = now;
	return cache_store_jobs(c, &p, 1) == 1 ? 0 : -1;
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
	return cache_step_done(c, st);
}

int
cache_revoke(struct cache *c, const char *jobid, const char *token_id)
{
	return cache_step_done(c, bind_key(c, ST_REVOKE, jobid, token_id));
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
	if (cache_step_done(c, st) != 0)
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
	if (damage_seen != c->damage)
		return -1;
	st = c->st[ST_PING];
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
cache_file_gone(struct cache *c)
{
	const char *path;
	struct stat sb;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (c->ino == 0 || (path = sqlite3_db_filename(c->db, "main")) == NULL)
		return 0;
	return stat(path, &sb) != 0 || sb.st_dev != c->dev ||
	    sb.st_ino != c->ino;
}

int64_t
cache_data_version(struct cache *c)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	CHECK_OBJ(c, CACHE_MAGIC);
	st = c->st[ST_DATA_VERSION];
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/*
 * The wal-index header (the first 48 bytes of the -shm file, sqlite.org's
 * walformat.html) changes with every commit to the WAL (its frame count
 * and checksums) and every restart of it (its salts), whoever commits.
 * Mapped read-only, it tells at the cost of a copy whether anyone may
 * have committed.  The descriptor stays open until cache_close(): closing
 * any descriptor of a file drops every fcntl(2) lock the process holds on
 * it, SQLite's on the -shm file too, and another process opening the
 * database would then take the WAL index for unused and truncate it under
 * this one's mapping (SIGBUS on its next read).
 */
int
cache_stamp_moved(struct cache *c, struct cache_stamp *s)
{
	const char *path;
	char shm[4096];
	unsigned char now[sizeof(s->hdr)];
	struct stat sb;
	void *p;
	int fd;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (c->shm == NULL && !c->shm_tried) {
		c->shm_tried = 1;
		if ((path = sqlite3_db_filename(c->db, "main")) != NULL &&
		    *path != '\0' && (size_t)snprintf(shm, sizeof(shm),
		    "%s-shm", path) < sizeof(shm) &&
		    (fd = open(shm, O_RDONLY | O_CLOEXEC)) >= 0) {
			/* Kept even unmapped: closing it now would drop locks. */
			c->shm_fd = fd;
			if (fstat(fd, &sb) == 0 && sb.st_size >= SHM_MAP &&
			    (p = mmap(NULL, SHM_MAP, PROT_READ, MAP_SHARED, fd,
			    0)) != MAP_FAILED)
				c->shm = p;
		}
	}
	if (c->shm == NULL)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(now, (const void *)c->shm, sizeof(now));
	if (s->valid && memcmp(now, s->hdr, sizeof(now)) == 0)
		return 0;
	memcpy(s->hdr, now, sizeof(now));
	s->valid = 1;
	return 1;
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
	rc = cache_step_done(c, st);
	sqlite3_clear_bindings(st);
	return rc;
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
	jobs = prepare(c, "SELECT jobid, type, status, fetched_at, body,"
	    " (SELECT owner FROM job_owners o WHERE o.jobid = jobs.jobid)"
	    " FROM jobs WHERE terminal = 1 AND (?1 IS NULL OR status = ?1)"
	    " AND fetched_at >= ?2 ORDER BY jobid");
	grants = prepare(c, "SELECT token_id FROM grants WHERE jobid = ?1"
	    " ORDER BY token_id");
	if (jobs == NULL || grants == NULL ||
	    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto done;
	cache_bind_text_or_null(jobs, 1, status);
	sqlite3_bind_int64(jobs, 2, since < 0 ? INT64_MIN : since);
	while ((step = sqlite3_step(jobs)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.jobid = (const char *)sqlite3_column_text(jobs, 0);
		row.type = (const char *)sqlite3_column_text(jobs, 1);
		row.status = (const char *)sqlite3_column_text(jobs, 2);
		row.fetched_at = sqlite3_column_int64(jobs, 3);
		row.body = sqlite3_column_blob(jobs, 4);
		row.len = (size_t)sqlite3_column_bytes(jobs, 4);
		row.owner = (const char *)sqlite3_column_text(jobs, 5);
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

/* Runs sql, one of the statements of a transaction; 0 or -1, said. */
static int
tx_exec(struct cache *c, const char *sql)
{
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) == SQLITE_OK)
		return 0;
	write_failed(c, rc);
	return -1;
}

int
cache_begin(struct cache *c)
{
	return tx_exec(c, "BEGIN IMMEDIATE");
}

int
cache_commit(struct cache *c)
{
	return tx_exec(c, "COMMIT");
}

void
cache_rollback(struct cache *c)
{
	/* A failed commit may have ended it: no error of its own then. */
	if (!sqlite3_get_autocommit(c->db))
		tx_exec(c, "ROLLBACK");
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
	cache_bind_text_or_null(st, 2, row->type);
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
	/* The owner is kept where such a member exists; it is finished. */
	if (row->owner != NULL) {
		st = prepare(c, "INSERT OR IGNORE INTO job_owners (jobid, owner,"
		    " submitted_at, finished_at, status) SELECT ?1, ?2, ?3, ?3, ?4"
		    " WHERE EXISTS (SELECT 1 FROM members WHERE name = ?2)");
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, row->jobid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, row->owner, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, row->fetched_at);
		sqlite3_bind_text(st, 4, row->status, -1, SQLITE_STATIC);
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
	cache_bind_text_or_null(st, 2, status);
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
