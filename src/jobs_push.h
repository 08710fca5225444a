/*
 * Push instead of polling (SPEC 11): the background watch, which the
 * pass-through and the server start, and what jobs.c asks of jobs_push.c
 * (the events the in-flight table reports to it, a slot's own token, the
 * drain).
 */
#ifndef JOBS_PUSH_H
#define JOBS_PUSH_H

#include <stddef.h>
#include <stdint.h>

struct jobs;
struct slot;
struct slot_events;

/*
 * Watches jobid: fetched with token once per pending-interval until it is
 * finished or until (ms), whether anyone asks or not.  0, or -1 when it
 * cannot be watched.  Nothing is done with --no-watch.
 */
int	jobs_watch(struct jobs *, const char *jobid, const char *token,
	    size_t token_len, int64_t until);

/* jobs_push.c's, which jobs_new() gives the table. */
extern const struct slot_events jobs_push_events;

/* Gives s a copy of token for the fetches it makes itself; 0 or -1. */
int	jobs_push_arm(struct slot *, const char *token, size_t token_len);

/* Answers every held request now and ends every watch (draining). */
void	jobs_push_drain(struct jobs *);

#endif
