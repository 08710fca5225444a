/*
 * Counters and a latency histogram for GET /metrics, written in the
 * Prometheus text exposition format.  Every label value comes from a small
 * fixed set (routes, cache results, HTTP status codes): never a token, a
 * jobid or anything else a client or upstream chooses.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

#include "route.h"

struct evbuffer;
struct metrics;

/* What an upstream call ended with, besides an HTTP status. */
#define METRICS_UP_ERROR	(-1)	/* unreachable, reset, too large */
#define METRICS_UP_TIMEOUT	(-2)

/* Values read at scrape time from elsewhere. */
struct metrics_gauges {
	uint64_t	coalesced;		/* counters kept by the jobs route */
	uint64_t	rate_limited;
	int64_t		open_connections;
	int64_t		waiting;		/* long polls and streams held */
	int64_t		watched;		/* jobs watched (SPEC 11) */
	uint64_t	memory_answers;		/* hot.c: answered from memory */
	int64_t		memory_entries;
	int64_t		memory_bytes;
	int		cached_ok;		/* the counts below were read */
	int64_t		cached[5];		/* pending, processing, completed, failed, other */
};

/* The status labels of cached[], in order. */
extern const char *const metrics_job_statuses[5];

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);

/* One answered request; cache is "HIT", "MISS", "STALE" or NULL. */
void	metrics_request(struct metrics *, enum route, int status,
	    const char *cache);

/* One upstream call: its status (or METRICS_UP_*) and how long it took. */
void	metrics_upstream(struct metrics *, enum route, int status,
	    int64_t elapsed_ms);

/* The same, from an upstream call's result. */
struct upstream_result;
void	metrics_upstream_result(struct metrics *, enum route,
	    const struct upstream_result *);

/* A job was submitted through the proxy. */
void	metrics_submitted(struct metrics *);

/* Appends the whole exposition to buf; -1 when out of memory. */
int	metrics_write(const struct metrics *, const struct metrics_gauges *,
	    struct evbuffer *buf);

#endif
