/*
 * The decision rules of the jobs route, as pure functions of their inputs:
 * what the cache knows, what the request asks and the time in; an action
 * out.  No I/O, no clock, no allocation; jobs.c carries the actions out.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdint.h>

enum pending_mode { PENDING_SERVE, PENDING_REJECT };

struct policy_config {
	int64_t			pending_interval_ms;
	int64_t			negative_ttl_ms;
	enum pending_mode	pending_mode;
};

/* What is known about one (jobid, token) before deciding. */
struct policy_state {
	int	granted;	/* a job row exists and is granted to the token */
	int	terminal;	/* that row is completed or failed */
	int64_t	fetched_at;	/* last upstream fetch for the pair (ms) */
	int	negative;	/* a negative entry exists ... */
	int64_t	negative_expires; /* ... until this time (ms) */
	int64_t	backoff_until;	/* upstream said 429: wait until (ms), or 0 */
	int64_t	hold_until;	/* upstream failed the pair: wait until (ms) */
};

struct policy_request {
	int	offline;	/* --offline or Cache-Control: only-if-cached */
	int	no_cache;	/* Cache-Control: no-cache */
};

enum policy_action {
	ACT_HIT,		/* 200 with the snapshot, X-Cache: HIT */
	ACT_HIT_NEGATIVE,	/* the negative entry again, X-Cache: HIT */
	ACT_STALE,		/* 200 with the snapshot, X-Cache: STALE */
	ACT_TOO_FAST,		/* 429 "Polling too fast" (pending-mode reject) */
	ACT_BACKOFF,		/* 429 with upstream's 429 body */
	ACT_OFFLINE_MISS,	/* 504 "Not in cache (offline)" */
	ACT_FETCH,		/* ask upstream (or join the fetch in flight) */
};

struct policy_decision {
	enum policy_action	action;
	int64_t			retry_after;	/* seconds, for Retry-After; 0: none */
};

/* Decides how to answer a valid request (SPEC 2.3). */
void	policy_decide(const struct policy_config *, const struct policy_state *,
	    const struct policy_request *, int64_t now_ms,
	    struct policy_decision *);

/* How an upstream answer is classified (SPEC 2.4). */
enum policy_upstream {
	POLICY_UP_JOB,		/* 200 with a job record */
	POLICY_UP_BAD_RECORD,	/* 200 that is not a job record */
	POLICY_UP_TOO_LARGE,	/* body over max-upstream-body */
	POLICY_UP_NEGATIVE,	/* 400, 403, 404 */
	POLICY_UP_UNAUTHORIZED,	/* 401 */
	POLICY_UP_RATE_LIMITED,	/* 429 */
	POLICY_UP_CLIENT_ERROR,	/* 596, other 4xx: relay only */
	POLICY_UP_SERVER_ERROR,	/* 5xx */
	POLICY_UP_UNREACHABLE,	/* connection error */
	POLICY_UP_TIMEOUT,
};

enum policy_body {
	POLICY_BODY_UPSTREAM,	/* relay upstream's status and body */
	POLICY_BODY_SNAPSHOT,	/* the cached snapshot, 200, STALE */
	POLICY_BODY_INVALID_RECORD,	/* 502 "Upstream sent an invalid job record" */
	POLICY_BODY_TOO_LARGE,	/* 502 "Upstream answer too large" */
	POLICY_BODY_UNREACHABLE,	/* 502 "Upstream unreachable: <reason>" */
	POLICY_BODY_TIMEOUT,	/* 504 "Upstream timed out" */
};

struct policy_outcome {
	enum policy_body	body;
	int		store_job;	/* store snapshot and grant */
	int		store_negative;	/* store a negative entry */
	int		revoke_grant;	/* drop the (jobid, token) grant */
	int		backoff;	/* remember upstream's 429 */
};

/* Classifies an HTTP answer from upstream; is_record: the body parsed. */
enum policy_upstream policy_classify(long status, int is_record);

/*
 * What to send and store for an upstream answer of the given kind and HTTP
 * status; has_snapshot: the pair has a granted row to fall back on.
 */
void	policy_answer(enum policy_upstream, long status, int has_snapshot,
	    struct policy_outcome *);

#endif
