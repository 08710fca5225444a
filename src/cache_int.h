/*
 * What cache.c, cache_media.c and cache_record.c share and nobody else
 * sees: struct cache, the statement tables prepared together at open, and
 * the small step and bind helpers.  The public API is cache.h.
 */
#ifndef CACHE_INT_H
#define CACHE_INT_H

#include <stddef.h>
#include <string.h>

#include <sys/types.h>

#include <sqlite3.h>

#define CACHE_MAGIC		0x43414348u

/* cache.c's statements (stmt_sql there). */
enum {
	ST_LOOKUP,
	ST_LOOKUP_OWNED,
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
	ST_DATA_VERSION,
	ST_COUNT_STATUS,
	ST_PUT_SUBMISSION,
	ST_SUBMITTER,
	ST_SYNC_FULL,
	ST_SYNC_NORMAL,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST__MAX
};

/* cache_media.c's statements (cache_media_sql there). */
enum {
	MST_SAVEPOINT,
	MST_ROLLBACK_TO,
	MST_RELEASE,
	MST_SCAN_RENEWED,
	MST_SCAN_FORGET,
	MST_SCAN_LIST,
	MST_SCAN_QUEUE,
	MST_SCAN_DONE,
	MST_SCAN_WALK,
	MST_DUE,
	MST_NEXT,
	MST_RESET,
	MST_MIRRORED,
	MST_FAILED,
	MST_SHA,
	MST_JOB,
	MST_LISTED,
	MST_IMPORT_HAS,
	MST_IMPORT_SET,
	MST_ALL,
	MST_COUNTS,
	MST_REWRITE,
	MST__MAX
};
extern const char *const cache_media_sql[MST__MAX];

/* cache_team.c's statements (cache_team_sql there). */
enum {
	TST_VERSION,
	TST_MEMBERS,
	TST_OWNER,
	TST_OWN,
	TST_FINISH,
	TST_RUNNING,
	TST_SPENT,
	TST_USAGE_ADD,
	TST_LAST_USED,
	TST__MAX
};
extern const char *const cache_team_sql[TST__MAX];

/* cache_record.c's one statement, on c->mem. */
extern const char *const cache_record_sql[1];

struct cache {
	unsigned	 magic;
	sqlite3		*db;			/* owned */
	sqlite3		*mem;			/* owned: in memory, for rst */
	sqlite3_stmt	*st[ST__MAX];		/* owned */
	sqlite3_stmt	*mst[MST__MAX];		/* owned */
	sqlite3_stmt	*rst[1];		/* owned */
	sqlite3_stmt	*tst[TST__MAX];		/* owned */
	const volatile unsigned char *shm;	/* owned: the -shm file's */
	int		 shm_tried;		/* first page, mapped */
	int		 shm_fd;		/* owned: open till the close */
	uint64_t	 damage;		/* corruption met before open */
	dev_t		 dev;			/* the file opened, or 0 */
	ino_t		 ino;
};

/* Steps a write statement to completion and resets it; 0 on success. */
static inline int
cache_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Statement `which` of table (c->st, c->mst...), reset, without bindings. */
static inline sqlite3_stmt *
cache_stmt(sqlite3_stmt *const *table, int which)
{
	sqlite3_stmt *st = table[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Copies a text column into out (len bytes), "" when NULL or too long. */
static inline void
cache_column_copy(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (s == NULL || n >= len)
		n = 0;
	else
		memcpy(out, s, n);
	out[n] = '\0';
}

/* Binds v as text, or NULL. */
static inline void
cache_bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

#endif
