/*
 * Hot answers: finished jobs answered from memory, before evhttp sees the
 * request.  A terminal job served as a HIT by the jobs route is kept here
 * for its (jobid, token_id) with its body and the fixed part of its head;
 * the framer asks hot_answer() about each request head, and a plain GET or
 * HEAD of such a pair is answered with one writev(2), logged and counted
 * as the route would have.  Anything else (another method or version,
 * Cache-Control, If-None-Match, Prefer, an event stream, a query, the team
 * gateway, rewritten media links, a draining server) goes the usual way.
 *
 * What is kept never goes stale on its own: a terminal row is only
 * replaced by a terminal one.  The route forgets a job when it stores or
 * revokes anything of it, and every entry goes when another process
 * commits to the database (import, purge), which a timer checks ten times
 * a second.  The memory is bounded (--memory-cache); the least recently
 * answered entries go first.
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

/*
 * Keeps the answer of a finished job for (jobid, token_id): its strong
 * etag, when its body was fetched (ms, for Age) and the body.
 */
void	hot_put(struct hot *, const char *jobid, const char *token_id,
	    const char *etag, int64_t fetched_at, const void *body,
	    size_t len);

/* Forgets every answer of jobid. */
void	hot_forget(struct hot *, const char *jobid);

/* Forgets everything. */
void	hot_clear(struct hot *);

/* framer_fast_fn (arg: the struct hot): 1 when it answered. */
int	hot_answer(void *arg, struct framer *, const struct head *,
	    const char *p);

struct hot_stats {
	uint64_t	answers;	/* requests answered from memory */
	size_t		entries;
	size_t		bytes;
};
void	hot_get_stats(const struct hot *, struct hot_stats *);

#endif
