/*
 * Hot answers: cache hits answered from memory, before evhttp sees the
 * request.  What the jobs route answered as a HIT (a finished job, an
 * unfinished job's snapshot within pending-interval, a negative entry
 * within negative-ttl) is kept here for its (jobid, token_id), with its
 * body, the fixed part of its head and until when it holds; the framer
 * asks hot_answer() about each request head, and a plain GET or HEAD of
 * such a pair is answered with one writev(2), logged and counted as the
 * route would have.  Anything else (another method or version,
 * Cache-Control, If-None-Match, Prefer, an event stream, a query, a key
 * the team gateway does not know, a job a member may not see by what is
 * kept, rewritten media links, a draining server) goes the usual way.
 *
 * A finished job's answer holds for good (a terminal row is only replaced
 * by a terminal one), the others until their time is up.  The route
 * forgets a job when it stores or revokes anything of it, and every entry
 * goes when another process has committed to the database (import, purge,
 * keys), which each answer checks first (hot_check()).  The memory is
 * bounded (--memory-cache); the least recently answered entries go first.
 */
#ifndef HOT_H
#define HOT_H

#include <stddef.h>
#include <stdint.h>

struct framer;
struct head;
struct hot;
struct proxy;

/* NULL when out of memory.  max_bytes 0: nothing is kept. */
struct hot	*hot_new(struct proxy *, uint64_t max_bytes);
void		 hot_free(struct hot *);

/* An answer the route gave, to give again from memory. */
struct hot_item {
	int		 status;	/* 200, or a negative entry's 400/403/404 */
	const char	*etag;		/* a finished job's strong ETag, or NULL */
	int64_t		 fetched_at;	/* ms: Age counts from it */
	int64_t		 from, until;	/* ms: given only in [from, until); */
					/* until 0: for good */
	int		 retry_after;	/* with Retry-After: seconds to until */
	const char	*owner;		/* team gateway: the job's member, or "" */
	const void	*body;
	size_t		 len;
};

/* Keeps item as the answer for (jobid, token_id). */
void	hot_put(struct hot *, const char *jobid, const char *token_id,
	    const struct hot_item *item);

/* Forgets every answer of jobid. */
void	hot_forget(struct hot *, const char *jobid);

/* Forgets everything. */
void	hot_clear(struct hot *);

/*
 * Forgets everything when another connection committed to the database
 * since the last call: a look at the WAL index (cache_stamp_moved()), and
 * a statement only when that moved.
 */
void	hot_check(struct hot *);

/*
 * For the framer (framer.h's answer()): answers a plain request from
 * memory with framer_send(); 1 when it did, 0 when the route must.
 */
int	hot_answer(struct hot *, struct framer *, const struct head *,
	    const char *p);

struct hot_stats {
	uint64_t	answers;	/* requests answered from memory */
	size_t		entries;
	size_t		bytes;
};
void	hot_get_stats(const struct hot *, struct hot_stats *);

#endif
