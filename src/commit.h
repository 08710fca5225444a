/*
 * Group commit of the jobs route's job rows: the rows of fetches that end
 * together are committed in one transaction, with one sync to disk, from
 * the loop once the callbacks ready in its pass have run; each fetch's
 * answer waits for that commit (SPEC 2.4).  It knows nothing of HTTP.
 */
#ifndef COMMIT_H
#define COMMIT_H

#include <stdint.h>
#include <sys/queue.h>

#include "cache.h"

struct commit;
struct commit_job;
struct event_base;

#define COMMIT_JOB_MAGIC	0x434a4f42u

/* What a queued job is told once its group was committed (or not). */
typedef void commit_done_fn(struct commit_job *, void *arg);

/*
 * A job row waiting for the group commit.  The caller's: it fills put and
 * done, and keeps it (and what put points to) alive until done fires.
 */
struct commit_job {
	unsigned		 magic;		/* set by commit_add() */
	struct cache_put	 put;		/* put.stored: the outcome */
	commit_done_fn		*done;
	void			*arg;
	TAILQ_ENTRY(commit_job)	 entry;
};

/* The group commit of cache c on base; NULL when out of memory. */
struct commit	*commit_new(struct event_base *base, struct cache *c);

/*
 * Commits what is queued, then frees the group (the done callbacks fire
 * before it returns).  NULL is a no-op.
 */
void	commit_free(struct commit *);

/*
 * Queues cj (borrowed) for the next commit.  Its done callback fires
 * exactly once, after the COMMIT of its group (put.stored 1) or its
 * failure (put.stored 0): from the loop, once the other callbacks ready
 * in the current pass have run, or from commit_flush().  Nothing of cj is
 * written before then.  A done callback may queue further jobs (they go
 * into the next group) but must not free the group.
 */
void	commit_add(struct commit *, struct commit_job *cj);

/* Commits what is queued now and fires its done callbacks. */
void	commit_flush(struct commit *);

/* Transactions committed (or tried) and the jobs they held, so far. */
void	commit_get_stats(const struct commit *, uint64_t *groups,
	    uint64_t *jobs);

#endif
