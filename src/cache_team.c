/*
 * The team gateway's rows as the server reads and adds to them (SPEC 10):
 * members and the change counter the keys commands bump, job owners with
 * their outcome and credits, usage per member and hour.  The keys and
 * usage commands have their own statements (cache_keys.c).  Statements are
 * prepared with cache.c's at open (cache_int.h).
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cache.h"
#include "cache_int.h"
#include "team.h"
#include "util.h"

const char *const cache_team_sql[TST__MAX] = {
	[TST_VERSION] = "SELECT version FROM members_version WHERE id = 1",
	[TST_MEMBERS] =
	    "SELECT name, key_hash, old_key_hash, old_key_until, admin, rpm,"
	    " max_running, daily_credits, expires, last_used FROM members",
	[TST_OWNER] = "SELECT owner FROM job_owners WHERE jobid = ?1",
	[TST_OWN] =
	    "INSERT OR IGNORE INTO job_owners (jobid, owner, submitted_at)"
	    " VALUES (?1, ?2, ?3)",
	/* Once per job: a second finished fetch finds nothing to update. */
	[TST_FINISH] =
	    "UPDATE job_owners SET finished_at = ?2, status = ?3, credits = ?4"
	    " WHERE jobid = ?1 AND finished_at IS NULL",
	/*
	 * Read at start, member by member through job_owners_owner (CROSS
	 * JOIN keeps members outside), so that only the rows wanted are read,
	 * not every job a member ever submitted.  A job whose owner is no
	 * member is of no one's limits.  Not finished: a job stored finished
	 * whose end was not recorded is.
	 */
	[TST_RUNNING] =
	    "SELECT o.jobid, o.owner, o.submitted_at FROM members m"
	    " CROSS JOIN job_owners o ON o.owner = m.name"
	    " AND o.finished_at IS NULL WHERE o.submitted_at >= ?1"
	    " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.jobid = o.jobid"
	    " AND j.terminal = 1)",
	[TST_SPENT] =
	    "SELECT o.owner, o.finished_at, o.credits FROM members m"
	    " CROSS JOIN job_owners o ON o.owner = m.name"
	    " AND o.finished_at >= ?1 WHERE o.status = 'completed'"
	    " AND o.credits > 0 ORDER BY o.finished_at",
	[TST_USAGE_ADD] =
	    "INSERT INTO usage (name, hour, requests, hits, upstream_calls,"
	    " submissions, completed, failed, credits, refused_rpm,"
	    " refused_running, refused_credits)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	    " ON CONFLICT (name, hour) DO UPDATE SET"
	    " requests = requests + excluded.requests,"
	    " hits = hits + excluded.hits,"
	    " upstream_calls = upstream_calls + excluded.upstream_calls,"
	    " submissions = submissions + excluded.submissions,"
	    " completed = completed + excluded.completed,"
	    " failed = failed + excluded.failed,"
	    " credits = credits + excluded.credits,"
	    " refused_rpm = refused_rpm + excluded.refused_rpm,"
	    " refused_running = refused_running + excluded.refused_running,"
	    " refused_credits = refused_credits + excluded.refused_credits",
	[TST_LAST_USED] =
	    "UPDATE members SET last_used = ?2 WHERE name = ?1"
	    " AND (last_used IS NULL OR last_used < ?2)",
};

/* c's team statement `which`, reset and without bindings. */
static sqlite3_stmt *
team_stmt(struct cache *c, int which)
{
	CHECK_OBJ(c, CACHE_MAGIC);
	return cache_stmt(c->tst, which);
}

int
cache_team_version(struct cache *c, int64_t *version)
{
	sqlite3_stmt *st = team_stmt(c, TST_VERSION);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
cache_team_members(struct cache *c,
    int (*fn)(const struct team_key *, void *), void *arg)
{
	sqlite3_stmt *st = team_stmt(c, TST_MEMBERS);
	struct team_key k;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&k, 0, sizeof(k));
		cache_column_copy(st, 0, k.name, sizeof(k.name));
		cache_column_copy(st, 1, k.key_hash, sizeof(k.key_hash));
		cache_column_copy(st, 2, k.old_hash, sizeof(k.old_hash));
		k.old_until = sqlite3_column_int64(st, 3);
		k.admin = sqlite3_column_int(st, 4) != 0;
		k.rpm = sqlite3_column_int64(st, 5);
		k.max_running = sqlite3_column_int64(st, 6);
		k.daily_credits = sqlite3_column_int64(st, 7);
		/* NULL: never; the epoch itself is a time like any other. */
		if (sqlite3_column_type(st, 8) != SQLITE_NULL &&
		    (k.expires = sqlite3_column_int64(st, 8)) < 1)
			k.expires = 1;
		k.last_used = sqlite3_column_int64(st, 9);
		if (k.name[0] == '\0' || strlen(k.key_hash) != TOKEN_ID_LEN)
			continue;	/* not a row a keys command writes */
		if ((rc = fn(&k, arg)) != 0) {
			sqlite3_reset(st);
			return rc;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
cache_team_owner(struct cache *c, const char *jobid, char *owner, size_t len)
{
	sqlite3_stmt *st = team_stmt(c, TST_OWNER);
	int rc;

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cache_column_copy(st, 0, owner, len);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

int
cache_team_own(struct cache *c, const char *jobid, const char *owner,
    int64_t now)
{
	sqlite3_stmt *st = team_stmt(c, TST_OWN);

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	return cache_step_done(c, st);
}

int
cache_team_finish(struct cache *c, const char *jobid, const char *status,
    double credits, int64_t now, char *owner, size_t len)
{
	sqlite3_stmt *st = team_stmt(c, TST_FINISH);

	sqlite3_bind_text(st, 1, jobid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, credits);
	if (cache_step_done(c, st) != 0)
		return -1;
	if (sqlite3_changes(c->db) == 0)
		return 0;
	return cache_team_owner(c, jobid, owner, len) == 1 ? 1 : -1;
}

int
cache_team_running(struct cache *c, int64_t since,
    int (*fn)(const char *jobid, const char *owner, int64_t submitted,
    void *), void *arg)
{
	sqlite3_stmt *st = team_stmt(c, TST_RUNNING);
	int rc;

	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), arg) != 0)
			break;
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
cache_team_spent(struct cache *c, int64_t since,
    int (*fn)(const char *owner, int64_t at, double credits, void *),
    void *arg)
{
	sqlite3_stmt *st = team_stmt(c, TST_SPENT);
	int rc;

	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1), sqlite3_column_double(st, 2),
		    arg) != 0)
			break;
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
cache_team_usage(struct cache *c, const char *name, int64_t hour,
    const struct team_usage *u)
{
	sqlite3_stmt *st = team_stmt(c, TST_USAGE_ADD);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, (int64_t)u->requests);
	sqlite3_bind_int64(st, 4, (int64_t)u->hits);
	sqlite3_bind_int64(st, 5, (int64_t)u->upstream_calls);
	sqlite3_bind_int64(st, 6, (int64_t)u->submissions);
	sqlite3_bind_int64(st, 7, (int64_t)u->completed);
	sqlite3_bind_int64(st, 8, (int64_t)u->failed);
	sqlite3_bind_double(st, 9, u->credits);
	sqlite3_bind_int64(st, 10, (int64_t)u->refused[TEAM_LIMIT_RPM]);
	sqlite3_bind_int64(st, 11, (int64_t)u->refused[TEAM_LIMIT_RUNNING]);
	sqlite3_bind_int64(st, 12, (int64_t)u->refused[TEAM_LIMIT_CREDITS]);
	return cache_step_done(c, st);
}

int
cache_team_last_used(struct cache *c, const char *name, int64_t at)
{
	sqlite3_stmt *st = team_stmt(c, TST_LAST_USED);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, at);
	return cache_step_done(c, st);
}
