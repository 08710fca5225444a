/*
 * The jobs route, GET/HEAD /v1/luma/jobs/{jobid}: one request's journey
 * from input checks through the cache and the decision rules to upstream
 * and back, and the in-flight table that coalesces concurrent misses of the
 * same (jobid, token) into one upstream call.
 */
#ifndef JOBS_H
#define JOBS_H

#include <stddef.h>
#include <stdint.h>

struct evhttp_request;
struct jobs;
struct proxy;

/* Counters the route keeps (for logs now, metrics later). */
struct jobs_stats {
	uint64_t	upstream_calls;
	uint64_t	coalesced;	/* requests that joined a fetch in flight */
	uint64_t	rate_limited;	/* 429 answers sent */
	size_t		waiting;	/* long polls and event streams held */
	size_t		watched;	/* jobs fetched without anyone asking */
};

/* Creates the route's state for px (which must outlive it). */
struct jobs	*jobs_new(struct proxy *px);

/*
 * Commits the job records waiting for the group commit (their requests
 * get their answers), answers every other request still waiting with 503
 * (sent if the loop turns again before the connections are freed),
 * cancels the fetches and frees everything.  NULL is a no-op.
 */
void	jobs_free(struct jobs *);

/*
 * Handles one request whose path is "/v1/luma/jobs" + rest (rest starts
 * after "/v1/luma/jobs", so "/j123" or "" or "/"); started is
 * util_mono_ms() at arrival.  The request is answered now or later, always
 * exactly once.
 */
void	jobs_handle(struct jobs *, struct evhttp_request *, const char *rest,
	    int64_t started);

/*
 * The server stops: long polls are answered now from the cache, event
 * streams ended; watches stop.
 */
void	jobs_drain(struct jobs *);

/* A copy of the counters. */
void	jobs_get_stats(const struct jobs *, struct jobs_stats *);

#endif
