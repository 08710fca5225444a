/*
 * The SQLite cache: opening (refusing foreign, corrupt or newer files),
 * migrations, and the rows of the jobs route in and out through prepared
 * statements.  It knows nothing of HTTP; bodies are copied into evbuffers.
 */
#ifndef CACHE_H
#define CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "record.h"
#include "team.h"

struct cache;
struct evbuffer;

/* A job row granted to a token, as cache_lookup() finds it. */
struct cache_job {
	char	status[RECORD_FIELD_MAX];
	char	etag[ETAG_LEN + 1];
	int	terminal;
	int64_t	job_fetched_at;		/* when the body was fetched (ms) */
	int64_t	grant_fetched_at;	/* last upstream fetch for the pair */
	size_t	len;			/* body length */
	char	owner[TEAM_NAME_MAX + 1];	/* cache_lookup_owned(): "" none */
};

/* A negative entry: upstream's 400/403/404 for a (jobid, token). */
struct cache_negative {
	int	status;
	int64_t	fetched_at;
	int64_t	expires_at;
	size_t	len;
};

/*
 * Opens (creating when missing) and migrates the cache at path, or
 * ":memory:".  Returns NULL with a message in err when the file is not a
 * lumaproxy cache, is corrupt, newer, or cannot be opened; such a file is
 * left untouched.
 */
struct cache	*cache_open(const char *path, char *err, size_t errlen);

/* Closes the database cleanly (WAL checkpointed).  NULL is a no-op. */
void	cache_close(struct cache *);

/* The schema version this build writes. */
int	cache_schema_version(void);

/*
 * Finds the job row granted to (jobid, token_id).  Returns 1 and fills *job
 * (appending the body to body when not NULL), 0 when there is none, -1 on a
 * database error.  Reads only.
 */
int	cache_lookup(struct cache *, const char *jobid, const char *token_id,
	    struct cache_job *job, struct evbuffer *body);

/* As cache_lookup(), with the job's owner (team gateway) in job->owner. */
int	cache_lookup_owned(struct cache *, const char *jobid,
	    const char *token_id, struct cache_job *job, struct evbuffer *body);

/* As cache_lookup(), for the negative entry of (jobid, token_id). */
int	cache_lookup_negative(struct cache *, const char *jobid,
	    const char *token_id, struct cache_negative *neg,
	    struct evbuffer *body);

/*
 * Stores upstream's 200 for (jobid, token_id) in one transaction: the job
 * row (a terminal row is only replaced by a terminal one), the grant with
 * fetched_at = now, and drops the pair's negative entry.  etag is the
 * body's (record_etag), or NULL to compute it.  0 once committed; a
 * terminal row is synced to disk before that.
 */
int	cache_store_job(struct cache *, const char *jobid, const char *token_id,
	    const struct record *, const char *etag, const void *body,
	    size_t len, int64_t now);

/* One job row of cache_store_jobs(): what cache_store_job() takes. */
struct cache_put {
	const char		*jobid;		/* borrowed, as all of these */
	const char		*token_id;
	const struct record	*rec;
	const char		*etag;		/* the body's, or NULL */
	const void		*body;
	size_t			 len;
	int64_t			 now;
	int			 stored;	/* out: 1 once committed */
};

/*
 * Group commit: stores puts[0..n) as cache_store_job() would, all in one
 * transaction, synced to disk once when any row is terminal.  Each job is
 * kept or dropped whole: one that cannot be written leaves the others in.
 * Returns how many were committed (each with ->stored set), or -1 when
 * the transaction failed and none was.
 */
int	cache_store_jobs(struct cache *, struct cache_put *const *puts,
	    size_t n);

/* Stores a negative entry for (jobid, token_id) until expires (ms). */
int	cache_store_negative(struct cache *, const char *jobid,
	    const char *token_id, int status, const void *body, size_t len,
	    int64_t now, int64_t expires);

/* Removes the grant of (jobid, token_id), if any. */
int	cache_revoke(struct cache *, const char *jobid, const char *token_id);

/* Deletes up to limit negative entries that expired before now. */
int	cache_expire_negatives(struct cache *, int64_t now, int limit);

/*
 * Counts job rows (all, and terminal ones) from the counts the schema's
 * triggers keep: a few rows read, however many jobs; -1 on error.
 */
int	cache_count_jobs(struct cache *, int64_t *all, int64_t *terminal);

/*
 * Reads upstream's body[0..len) as a job record (cache_record.c): 0 and
 * *rec filled when it is a JSON object with a string "status", -1
 * otherwise.  The cache's database is not touched.
 */
int	cache_parse_record(struct cache *, const void *body, size_t len,
	    struct record *rec);

/*
 * Whether a read of the cache's own tables succeeds (0) or not (-1); -1
 * also from the moment any statement has met a damaged page.
 */
int	cache_ping(struct cache *);

/*
 * Why writes to the database fail ("disk I/O error", "database or disk is
 * full"), from a write that failed for want of a disk until a synced
 * commit stores something again (while they fail, every commit of
 * cache_store_jobs() is synced) or the probe succeeds; NULL while they
 * work.  The start and the end of such a time are logged, once each, and
 * a start at most once a minute (cache.c).
 */
const char	*cache_write_error(struct cache *);

/*
 * The level of a line that says a write of the cache failed: LOG_ERROR,
 * or LOG_DEBUG when the last write failed for want of a disk while such
 * failures are logged already (cache_write_error()).
 */
enum log_level	cache_failure_level(struct cache *);

/* Why the last write that failed did ("database is locked"...). */
const char	*cache_last_error(struct cache *);

/*
 * Gives the cache the time (now, monotonic ms; call it every second or
 * so).  While writes fail: tries one small synced commit that changes
 * nothing, at most once a second and not within 10 s of the last failed
 * write.  0 when writes work (again), -1 while they fail.
 */
int	cache_write_probe(struct cache *, int64_t now);

/*
 * Whether the file at the cache's path is no longer the one opened
 * (removed, or replaced by another): 1, else 0.  What the server still
 * writes then goes where nobody will read it.
 */
int	cache_file_gone(struct cache *);

/*
 * A number that changes when another connection (import, purge, keys in
 * another process) commits to the database; -1 on error.  Cheap: no table
 * is read.
 */
int64_t	cache_data_version(struct cache *);

/* What cache_stamp_moved() compares: a copy of the WAL index header. */
struct cache_stamp {
	unsigned char	hdr[48];
	int		valid;		/* 0: nothing seen yet */
};

/*
 * Whether anyone, this connection included, may have committed since *s
 * was taken (1, and *s is taken anew) or surely not (0); -1 when it cannot
 * be told (no WAL index to read).  Cheaper than cache_data_version(): no
 * statement, no system call.
 */
int	cache_stamp_moved(struct cache *, struct cache_stamp *s);

/*
 * Calls fn once per job status (pending, processing, completed, failed or
 * other) with the number of job rows, from the same counts as
 * cache_count_jobs(); 0, or -1 on a database error.
 */
int	cache_count_by_status(struct cache *,
	    void (*fn)(const char *status, int64_t count, void *arg), void *arg);

/* Records that token_id submitted jobid (of type) through the proxy. */
int	cache_store_submission(struct cache *, const char *jobid,
	    const char *type, const char *token_id, int64_t now);

/*
 * 1 when token_id submitted jobid through the proxy (when, into *at unless
 * NULL), 0 if not, -1 on error.
 */
int	cache_submitted_by(struct cache *, const char *jobid,
	    const char *token_id, int64_t *at);

/*
 * The commands (export, import, stats, purge) work on a database a server
 * may be using: they wait up to ms for its locks.
 */
void	cache_set_busy_timeout(struct cache *, int ms);

/* A finished job as export writes it and import reads it. */
struct cache_row {
	const char		*jobid;
	const char		*type;		/* NULL when the record has none */
	const char		*status;
	int64_t			 fetched_at;	/* ms */
	const char *const	*grants;	/* token_ids, sorted */
	size_t			 ngrants;
	const void		*body;
	size_t			 len;
	const char		*owner;		/* team gateway member, or NULL */
};

/*
 * Calls fn for each finished job, ordered by jobid, optionally only those
 * of status and fetched at or after since (ms; -1: any), from one
 * consistent snapshot.  fn returns 0 to go on.  0, or -1 on a database
 * error (or what fn returned).
 */
int	cache_export(struct cache *, const char *status, int64_t since,
	    int (*fn)(const struct cache_row *, void *), void *arg);

/* A transaction around several imports or purges; 0 or -1. */
int	cache_begin(struct cache *);
int	cache_commit(struct cache *);
void	cache_rollback(struct cache *);

/*
 * Stores a finished job read by import (within cache_begin()) with its
 * grants and those of extra (token_ids).  A row fetched later than the one
 * in the cache replaces it; the same row again changes nothing.
 */
int	cache_import_job(struct cache *, const struct cache_row *,
	    const char *etag, const char *const *extra, size_t nextra);

/* Calls fn with the number of job rows per (type or NULL, status). */
int	cache_stats(struct cache *,
	    void (*fn)(const char *type, const char *status, int64_t count,
	    void *arg), void *arg);

/*
 * Calls fn with the jobid and status of each job fetched before before
 * (ms), optionally only those of status, ordered by jobid.
 */
int	cache_list_older(struct cache *, int64_t before, const char *status,
	    int (*fn)(const char *jobid, const char *status, void *arg),
	    void *arg);

/*
 * Deletes jobid with its grants, negative entries and submission (within
 * cache_begin()).  1 when a job row was removed, 0 when there was none,
 * -1 on error.
 */
int	cache_purge_job(struct cache *, const char *jobid);

/* Bytes of the database file and its write-ahead log. */
int64_t	cache_size(struct cache *);

/*
 * The media mirror (SPEC 9), in cache_media.c.  Each media URL of a
 * completed job has a row: pending, mirrored (its bytes are in
 * dir/<sha256>) or failed (tried again from next_at, unless it gave up).
 */
struct cache_media {
	const char	*field;		/* video, thumbnail, ... */
	const char	*url;
	const char	*state;		/* pending, mirrored or failed */
	const char	*sha256;	/* NULL unless mirrored */
	int64_t		 size;		/* -1 unless mirrored */
	const char	*content_type;	/* the download's, or NULL */
	const char	*dir;		/* where it was downloaded, or NULL */
	const char	*reason;	/* why it failed, or NULL */
	int		 attempts;
};

/*
 * Records the media URLs of jobid's response (when it is completed) in
 * place of those recorded before, with a pending row for each new URL due
 * at now.  Returns how many URLs it found, -1 on error.
 */
int	cache_media_scan(struct cache *, const char *jobid, int64_t now);

/*
 * Looks at up to limit jobs with jobids after `after` ("" at first) and
 * scans, in one transaction, those completed and never scanned; leaves
 * the last jobid looked at in after and how many were scanned in
 * *scanned.  Returns how many jobs it looked at (fewer than limit: the
 * walk is over), -1 on error.  A call reads about limit index entries,
 * however large the database.
 */
int	cache_media_scan_some(struct cache *, char *after, size_t afterlen,
	    int limit, int64_t now, int *scanned);

/*
 * Calls fn for up to limit media not mirrored whose next attempt is due
 * at now, earliest first (url, state, attempts, and sha256, size and
 * content_type when an import said what the bytes are).  fn returns 0 to
 * go on.
 */
int	cache_media_due(struct cache *, int64_t now, int limit,
	    int (*fn)(const struct cache_media *, void *), void *arg);

/* When the next media download is due after `after` (ms), -1 if never. */
int64_t	cache_media_next_at(struct cache *, int64_t after);

/* Makes a failed (or given up) media row due again at now. */
int	cache_media_reset(struct cache *, const char *url, int64_t now);

/* Records a finished download of url: 1, or 0 when url has no row (purged). */
int	cache_media_mirrored(struct cache *, const char *url,
	    const char *sha256, int64_t size, const char *content_type,
	    const char *dir, int64_t now);

/* Records a failed attempt; next_at -1: never again. */
int	cache_media_failed(struct cache *, const char *url, const char *reason,
	    int attempts, int64_t next_at, int64_t now);

/*
 * 1 when media with this sha256 are known (their Content-Type, or "",
 * into ct), 0 when not, -1 on error.
 */
int	cache_media_type(struct cache *, const char *sha256, char *ct,
	    size_t len);

/* Calls fn for each media URL of jobid, ordered by field. */
int	cache_media_job(struct cache *, const char *jobid,
	    int (*fn)(const struct cache_media *, void *), void *arg);

/*
 * As cache_media_job(), and for a completed job never scanned, the URLs
 * of its body (state pending, nothing else known): export --media.
 */
int	cache_media_listed(struct cache *, const char *jobid,
	    int (*fn)(const struct cache_media *, void *), void *arg);

/*
 * Import: url of jobid (scanned already) was mirrored elsewhere as sha256
 * (NULL: not mirrored).  Unless mirrored here already, it is recorded as
 * pending with those bytes expected, due at now.  0, 1 when jobid's record
 * has no such URL, -1 on error.
 */
int	cache_media_import(struct cache *, const char *jobid, const char *url,
	    const char *sha256, int64_t size, const char *content_type,
	    int64_t now);

/*
 * jobid's stored body, when its ETag is etag, with the value at each of
 * paths[0..n) replaced by the string values[i] by SQLite's json_replace()
 * in the query that reads the row, appended to out: 1; 0 when jobid has no
 * row with that ETag (out untouched); -1 on error.
 */
#define CACHE_REPLACE_MAX	5
int	cache_media_rewrite(struct cache *, const char *jobid,
	    const char *etag, const char *const *paths,
	    const char *const *values, size_t n, struct evbuffer *out);

/* Calls fn once per media URL of a completed job (field NULL). */
int	cache_media_all(struct cache *,
	    int (*fn)(const struct cache_media *, void *), void *arg);

/* Media URLs that jobs refer to, by state. */
int	cache_media_counts(struct cache *, int64_t *mirrored, int64_t *pending,
	    int64_t *failed);

/*
 * Forgets media no job refers to (within cache_begin()), calling fn first
 * for each file among them that no kept media shares.
 */
int	cache_media_gc(struct cache *,
	    int (*fn)(const char *dir, const char *sha256, void *), void *arg);

/*
 * The team gateway (SPEC 10), as the server reads and adds to it.  A
 * member's row comes as a struct team_key (team.h).
 */
struct team_key;
struct team_usage;

/* The change counter the keys commands bump; 0 or -1. */
int	cache_team_version(struct cache *, int64_t *version);

/* Calls fn for each member row; 0, -1 on a database error, or fn's. */
int	cache_team_members(struct cache *,
	    int (*fn)(const struct team_key *, void *), void *arg);

/* jobid's owner into owner (len bytes): 1, 0 when it has none, -1. */
int	cache_team_owner(struct cache *, const char *jobid, char *owner,
	    size_t len);

/* Records that owner submitted jobid at now; 0 or -1. */
int	cache_team_own(struct cache *, const char *jobid, const char *owner,
	    int64_t now);

/*
 * An owned job was stored finished with status (credits used): 1 with its
 * owner (len bytes) the first time, 0 when it has no owner or was already
 * finished, -1 on error.
 */
int	cache_team_finish(struct cache *, const char *jobid,
	    const char *status, double credits, int64_t now, char *owner,
	    size_t len);

/*
 * Calls fn for each job a member owns that is not finished, submitted at
 * or after since; reads those rows, not all of job_owners.
 */
int	cache_team_running(struct cache *, int64_t since,
	    int (*fn)(const char *jobid, const char *owner, int64_t submitted,
	    void *), void *arg);

/* Calls fn for credits members used at or after since, oldest first. */
int	cache_team_spent(struct cache *, int64_t since,
	    int (*fn)(const char *owner, int64_t at, double credits, void *),
	    void *arg);

/* Adds u to name's usage of hour (ms / 3600000); 0 or -1. */
int	cache_team_usage(struct cache *, const char *name, int64_t hour,
	    const struct team_usage *u);

/* name was last used at (ms), unless a later time is stored; 0 or -1. */
int	cache_team_last_used(struct cache *, const char *name, int64_t at);

/*
 * The keys and usage commands (SPEC 10), in cache_keys.c: members, their
 * audit log and the usage table.  A change runs between
 * cache_keys_begin() and cache_keys_commit(), which adds its members_log
 * row and bumps members_version in the same transaction, so that a
 * running server reloads the members.  Keys never come here, only the
 * hex SHA-256 of each (auth_token_id()).  Times are ms since the epoch.
 */
struct cache_keys_member {
	const char	*name;
	int		 admin;
	int64_t		 rpm;		/* limits: 0 = unlimited */
	int64_t		 max_running;
	int64_t		 daily_credits;
	int64_t		 created;
	int64_t		 expires;	/* -1: never */
	int64_t		 last_used;	/* -1: never (the server's) */
};

/* A member's usage summed over a period (the usage table's columns). */
struct cache_keys_usage {
	const char	*name;
	int64_t		 requests, hits, upstream_calls, submissions;
	int64_t		 completed, failed;
	double		 credits;
	int64_t		 refused_rpm, refused_running, refused_credits;
};

/*
 * Starts a change (BEGIN IMMEDIATE), waiting up to wait_ms for another
 * writer (a server, another command) to finish: 0, 1 when the database
 * stayed busy that long, -1 on another error.
 */
int	cache_keys_begin(struct cache *, int wait_ms);

/*
 * Ends the change: logs (now, action, name, changes), bumps
 * members_version and commits.  0, or -1 with everything rolled back.
 */
int	cache_keys_commit(struct cache *, int64_t now, const char *action,
	    const char *name, const char *changes);

/* Abandons the change, if one is under way. */
void	cache_keys_rollback(struct cache *);

/* Member name into *m (m->name is name): 1, 0 when there is none, -1. */
int	cache_keys_get(struct cache *, const char *name,
	    struct cache_keys_member *m);

/*
 * Adds member m (last_used ignored) whose key has the hex SHA-256
 * key_hash: 0, 1 when the name is taken, -1 on error.
 */
int	cache_keys_add(struct cache *, const struct cache_keys_member *m,
	    const char *key_hash);

/* Sets m->name's admin flag, limits and expiry: 1, 0 when none, -1. */
int	cache_keys_set(struct cache *, const struct cache_keys_member *m);

/*
 * Gives name the key whose hash is key_hash; the old one works until
 * old_until (ms), or stops at once when it is -1.  1, 0 when none, -1.
 */
int	cache_keys_rotate(struct cache *, const char *name,
	    const char *key_hash, int64_t old_until);

/* Deletes member name: 1, 0 when there was none, -1 on error. */
int	cache_keys_revoke(struct cache *, const char *name);

/*
 * Calls fn for each member, ordered by name (strings borrowed for the
 * call); fn returns 0 to go on.  0, -1 on error, or what fn returned.
 */
int	cache_keys_list(struct cache *,
	    int (*fn)(const struct cache_keys_member *, void *), void *arg);

/* As cache_keys_list(), for each members_log row in the order written. */
int	cache_keys_log(struct cache *,
	    int (*fn)(int64_t at, const char *action, const char *name,
	    const char *changes, void *), void *arg);

/*
 * As cache_keys_list(), for each member and each other name with usage,
 * ordered by name, summed over the hours from the one holding since on
 * (-1: all time).
 */
int	cache_keys_usage(struct cache *, int64_t since,
	    int (*fn)(const struct cache_keys_usage *, void *), void *arg);

#endif
