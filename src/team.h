/*
 * The members of a team gateway (SPEC 10) as the server holds them: their
 * keys (by SHA-256), limits, the jobs each has running, the credits each
 * used in the last 24 h, and their usage counters.  Pure bookkeeping in
 * memory, no I/O: gateway.c loads it from the database and calls it from
 * the loop, where every check and count is atomic by construction.
 *
 * A member is never freed while the team lives: a revoked key's member
 * stays (without keys), so that requests in flight may keep pointers.
 */
#ifndef TEAM_H
#define TEAM_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "jobid.h"

#define TEAM_NAME_MAX		64
#define TEAM_DAY_MS		(86400 * 1000LL)

/* The limits of SPEC 10, in the order they are checked. */
enum team_limit {
	TEAM_LIMIT_RPM,
	TEAM_LIMIT_RUNNING,
	TEAM_LIMIT_CREDITS,
	TEAM_LIMIT__MAX,
	TEAM_LIMIT_NONE = TEAM_LIMIT__MAX
};

/* What a member did: since the start, and since the last flush. */
struct team_usage {
	uint64_t	requests;
	uint64_t	hits;
	uint64_t	upstream_calls;
	uint64_t	submissions;
	uint64_t	completed;
	uint64_t	failed;
	double		credits;
	uint64_t	refused[TEAM_LIMIT__MAX];
};

/* A member's row, as the database holds it (times in ms, 0: none). */
struct team_key {
	char		name[TEAM_NAME_MAX + 1];
	char		key_hash[TOKEN_ID_LEN + 1];
	char		old_hash[TOKEN_ID_LEN + 1];	/* "": none */
	int64_t		old_until;
	int		admin;
	int64_t		rpm, max_running, daily_credits;	/* 0: unlimited */
	int64_t		expires;
	int64_t		last_used;
};

struct team_running {
	char		*jobid;		/* owned */
	int64_t		 seen;		/* submitted, or last fetched (ms) */
};

struct team_spend {
	int64_t		 at;		/* stored as completed (ms) */
	double		 credits;
};

struct member {
	unsigned		 magic;
	struct team_key		 key;
	char			 tag[TEAM_NAME_MAX + 2];	/* "@name" */
	int			 present;	/* 0: revoked */
	double			 bucket;	/* rpm tokens */
	int64_t			 bucket_at;
	uint64_t		 reserved;	/* submissions in flight */
	int64_t			 max_age;	/* watch-max-age, ms */
	struct team_running	*running;	/* owned */
	size_t			 nrunning, caprunning;
	struct team_spend	*spend;		/* owned, oldest first */
	size_t			 nspend, capspend;
	double			 spent;		/* sum over spend */
	struct team_usage	 total;		/* since the start */
	struct team_usage	 unflushed;	/* not yet in the database */
	int			 used;		/* last_used changed */
};

struct team;

/* A team whose running jobs stop counting after watch_max_age_ms. */
struct team	*team_new(int64_t watch_max_age_ms);
void		 team_free(struct team *);

/* The members, in no particular order, revoked ones included. */
size_t		 team_count(const struct team *);
struct member	*team_at(struct team *, size_t i);

/*
 * Loading: team_load_begin(), team_load() for each row, team_load_end().
 * Members not loaded are revoked; the key index is rebuilt.  Each returns
 * -1 when out of memory: members not loaded by then stay revoked, and
 * until an index is rebuilt some keys may not be found (never one of a
 * revoked member, nor one a member no longer has).
 */
void	team_load_begin(struct team *);
int	team_load(struct team *, const struct team_key *);
int	team_load_end(struct team *);

/* The member called name, or NULL. */
struct member	*team_find_name(struct team *, const char *name);

/*
 * The member whose key (or rotated key within its grace) has the SHA-256
 * token_id, NULL when none does or the key expired.  Digests are compared
 * in constant time.
 */
struct member	*team_find_key(struct team *, const char *token_id, int64_t now);

/*
 * A submission by m: checks the limits in order.  TEAM_LIMIT_NONE: it may
 * go, counted as in flight (and one rpm token taken) until
 * team_submit_done().  Otherwise the limit refused it, *retry_s says when
 * it would pass (at least 1 s; interval_s for max-running, whose end
 * nobody can predict), and the refusal is counted.
 */
enum team_limit	team_submit(struct member *, int64_t now, int64_t interval_s,
		    int64_t *retry_s);

/* The submission ended: jobid (NULL: no job was made) is running. */
void	team_submit_done(struct member *, const char *jobid, int64_t now);

/* A job m had running when the server started (submitted at ms). */
int	team_add_running(struct member *, const char *jobid, int64_t submitted);

/* Credits m used at ms, read back at start. */
int	team_add_spend(struct member *, int64_t at, double credits);

/* m's job was fetched unfinished at now: it keeps counting. */
void	team_job_seen(struct member *, const char *jobid, int64_t now);

/* m's job is finished upstream: no longer running (nothing counted). */
void	team_job_ended(struct member *, const char *jobid);

/* m's job was stored finished (completed: credits count). */
void	team_job_finished(struct member *, const char *jobid, int completed,
	    double credits, int64_t now);

/* Jobs m has running (expired ones dropped). */
size_t	team_running_count(struct member *, int64_t now);

/* Credits m used in the 24 h before now. */
double	team_spent(struct member *, int64_t now);

/*
 * Whether m may see a job owned by owner (NULL: not submitted through
 * the gateway), everyone seeing everything when shared.
 */
int	team_may_see(const struct member *, const char *owner, int shared);

/* The limit in words, for a 429 ("max-running 3 jobs running"...). */
void	team_refusal(const struct member *, enum team_limit, char *buf,
	    size_t len);

/* The limit's name as a metric label and usage key: rpm, max_running... */
const char	*team_limit_label(enum team_limit);

/* Whether name is 1-64 of A-Z a-z 0-9 . _ - */
int	team_name_valid(const char *name);

/* Counting from the routes: a request answered (hit: from the cache). */
static inline void
team_note_request(struct member *m, int hit)
{
	m->total.requests++;
	m->unflushed.requests++;
	if (hit) {
		m->total.hits++;
		m->unflushed.hits++;
	}
}

/* An upstream call made for m. */
static inline void
team_note_upstream(struct member *m)
{
	m->total.upstream_calls++;
	m->unflushed.upstream_calls++;
}

#endif
