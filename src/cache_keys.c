/*
 * The rows of the keys and usage commands (SPEC 10): members in and out,
 * their audit log, and the usage table summed per member.  A change runs
 * between cache_keys_begin() and cache_keys_commit(), which writes its
 * members_log row and bumps members_version in the same transaction, so
 * that a running server reloads the members.  It never sees a key, only
 * key hashes; the server's own reads and writes are not here.  Statements
 * are prepared when used: a command runs a few of them once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cache.h"
#include "cache_int.h"
#include "util.h"

/* How long a busy BEGIN IMMEDIATE rests before it is tried again. */
#define BEGIN_RETRY_MS		50

/* The columns of a member as member_row() reads them. */
#define MEMBER_COLUMNS \
	"name, admin, rpm, max_running, daily_credits, created, expires," \
	" last_used"

static const char *const sql_get =
    "SELECT " MEMBER_COLUMNS " FROM members WHERE name = ?1";
static const char *const sql_list =
    "SELECT " MEMBER_COLUMNS " FROM members ORDER BY name";
/* A name taken already changes nothing (and says so: no row changed). */
static const char *const sql_add =
    "INSERT INTO members (name, key_hash, admin, rpm, max_running,"
    " daily_credits, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (name) DO NOTHING";
/* last_used is the server's: left as it is. */
static const char *const sql_set =
    "UPDATE members SET admin = ?2, rpm = ?3, max_running = ?4,"
    " daily_credits = ?5, expires = ?6 WHERE name = ?1";
/* The right-hand sides read the row as it was: the old hash is kept. */
static const char *const sql_rotate =
    "UPDATE members SET old_key_hash = CASE WHEN ?3 IS NULL THEN NULL"
    " ELSE key_hash END, old_key_until = ?3, key_hash = ?2 WHERE name = ?1";
static const char *const sql_revoke = "DELETE FROM members WHERE name = ?1";
static const char *const sql_log_add =
    "INSERT INTO members_log (time, action, name, changes)"
    " VALUES (?1, ?2, ?3, ?4)";
static const char *const sql_bump =
    "UPDATE members_version SET version = version + 1";
static const char *const sql_log =
    "SELECT time, action, name, changes FROM members_log ORDER BY rowid";
/*
 * Every member, and every name with usage in the period, with its sums
 * over the hours from ?1 on.
 */
static const char *const sql_usage =
    "SELECT n.name, coalesce(sum(u.requests), 0), coalesce(sum(u.hits), 0),"
    " coalesce(sum(u.upstream_calls), 0), coalesce(sum(u.submissions), 0),"
    " coalesce(sum(u.completed), 0), coalesce(sum(u.failed), 0),"
    " coalesce(sum(u.credits), 0.0), coalesce(sum(u.refused_rpm), 0),"
    " coalesce(sum(u.refused_running), 0),"
    " coalesce(sum(u.refused_credits), 0)"
    " FROM (SELECT name FROM members UNION"
    " SELECT name FROM usage WHERE hour >= ?1) n"
    " LEFT JOIN usage u ON u.name = n.name AND u.hour >= ?1"
    " GROUP BY n.name ORDER BY n.name";

/* Prepares one of the statements above; NULL on error. */
static sqlite3_stmt *
prepare(struct cache *c, const char *sql)
{
	sqlite3_stmt *st = NULL;

	CHECK_OBJ(c, CACHE_MAGIC);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Runs a write statement to its end and finalizes it; rows changed or -1. */
static int
run_write(struct cache *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(c->db) : -1;
}

static void
bind_ms_or_null(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms >= 0)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

static int64_t
column_ms_or_none(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, col);
}

/* The member of the current row (MEMBER_COLUMNS); strings borrowed from st. */
static void
member_row(sqlite3_stmt *st, struct cache_keys_member *m)
{
	memset(m, 0, sizeof(*m));
	m->name = (const char *)sqlite3_column_text(st, 0);
	m->admin = sqlite3_column_int(st, 1) != 0;
	m->rpm = sqlite3_column_int64(st, 2);
	m->max_running = sqlite3_column_int64(st, 3);
	m->daily_credits = sqlite3_column_int64(st, 4);
	m->created = sqlite3_column_int64(st, 5);
	m->expires = column_ms_or_none(st, 6);
	m->last_used = column_ms_or_none(st, 7);
}

int
cache_keys_begin(struct cache *c, int wait_ms)
{
	int64_t until = util_mono_ms() + wait_ms;
	int rc;

	CHECK_OBJ(c, CACHE_MAGIC);
	/*
	 * The busy timeout waits for the other writer; should SQLite give
	 * up before wait_ms anyway (it does not wait in every case), the
	 * whole BEGIN is tried again.
	 */
	for (;;) {
		rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return -1;
		if (util_mono_ms() >= until)
			return 1;
		sqlite3_sleep(BEGIN_RETRY_MS);
	}
}

int
cache_keys_commit(struct cache *c, int64_t now, const char *action,
    const char *name, const char *changes)
{
	sqlite3_stmt *st;

	if ((st = prepare(c, sql_log_add)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, changes, -1, SQLITE_STATIC);
	if (run_write(c, st) != 1)
		goto fail;
	if ((st = prepare(c, sql_bump)) == NULL || run_write(c, st) != 1)
		goto fail;
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
fail:
	cache_keys_rollback(c);
	return -1;
}

void
cache_keys_rollback(struct cache *c)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int
cache_keys_get(struct cache *c, const char *name, struct cache_keys_member *m)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = prepare(c, sql_get)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		member_row(st, m);
		m->name = name;		/* st's copy goes with it */
		rc = 1;
	} else
		rc = rc == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

int
cache_keys_add(struct cache *c, const struct cache_keys_member *m,
    const char *key_hash)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = prepare(c, sql_add)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, m->admin != 0);
	sqlite3_bind_int64(st, 4, m->rpm);
	sqlite3_bind_int64(st, 5, m->max_running);
	sqlite3_bind_int64(st, 6, m->daily_credits);
	sqlite3_bind_int64(st, 7, m->created);
	bind_ms_or_null(st, 8, m->expires);
	rc = run_write(c, st);
	return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

int
cache_keys_set(struct cache *c, const struct cache_keys_member *m)
{
	sqlite3_stmt *st;

	if ((st = prepare(c, sql_set)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, m->admin != 0);
	sqlite3_bind_int64(st, 3, m->rpm);
	sqlite3_bind_int64(st, 4, m->max_running);
	sqlite3_bind_int64(st, 5, m->daily_credits);
	bind_ms_or_null(st, 6, m->expires);
	return run_write(c, st);
}

int
cache_keys_rotate(struct cache *c, const char *name, const char *key_hash,
    int64_t old_until)
{
	sqlite3_stmt *st;

	if ((st = prepare(c, sql_rotate)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key_hash, -1, SQLITE_STATIC);
	bind_ms_or_null(st, 3, old_until);
	return run_write(c, st);
}

int
cache_keys_revoke(struct cache *c, const char *name)
{
	sqlite3_stmt *st;

	if ((st = prepare(c, sql_revoke)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return run_write(c, st);
}

int
cache_keys_list(struct cache *c,
    int (*fn)(const struct cache_keys_member *, void *), void *arg)
{
	struct cache_keys_member m;
	sqlite3_stmt *st;
	int rc = 0, step;

	if ((st = prepare(c, sql_list)) == NULL)
		return -1;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		member_row(st, &m);
		rc = fn(&m, arg);
	}
	sqlite3_finalize(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}

int
cache_keys_log(struct cache *c,
    int (*fn)(int64_t at, const char *action, const char *name,
    const char *changes, void *), void *arg)
{
	sqlite3_stmt *st;
	int rc = 0, step;

	if ((st = prepare(c, sql_log)) == NULL)
		return -1;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3), arg);
	sqlite3_finalize(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}

int
cache_keys_usage(struct cache *c, int64_t since,
    int (*fn)(const struct cache_keys_usage *, void *), void *arg)
{
	struct cache_keys_usage u;
	sqlite3_stmt *st;
	int rc = 0, step;

	if ((st = prepare(c, sql_usage)) == NULL)
		return -1;
	/* hour = ms / 3600000: the hour that holds since, and those after. */
	sqlite3_bind_int64(st, 1, since < 0 ? INT64_MIN : since / 3600000);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&u, 0, sizeof(u));
		u.name = (const char *)sqlite3_column_text(st, 0);
		u.requests = sqlite3_column_int64(st, 1);
		u.hits = sqlite3_column_int64(st, 2);
		u.upstream_calls = sqlite3_column_int64(st, 3);
		u.submissions = sqlite3_column_int64(st, 4);
		u.completed = sqlite3_column_int64(st, 5);
		u.failed = sqlite3_column_int64(st, 6);
		u.credits = sqlite3_column_double(st, 7);
		u.refused_rpm = sqlite3_column_int64(st, 8);
		u.refused_running = sqlite3_column_int64(st, 9);
		u.refused_credits = sqlite3_column_int64(st, 10);
		rc = fn(&u, arg);
	}
	sqlite3_finalize(st);
	return rc != 0 ? rc : step == SQLITE_DONE ? 0 : -1;
}
