/*
 * Unit tests of policy.c as tables: policy_decide() over cache state x
 * request x time (SPEC 2.3, ages in ms, fresh while age < interval), and
 * policy_classify() + policy_answer() for each upstream answer of SPEC 2.4.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "policy.h"

#define T	1000000000LL	/* "now" in most rows, ms */
#define IVL	5000		/* pending-interval of most rows, ms */
#define ANY	(-1)		/* retry_after not asserted */

enum { SERVE = PENDING_SERVE, REJECT = PENDING_REJECT };

struct decide_case {
	const char		*name;
	int			 mode;
	int64_t			 interval;
	struct policy_state	 st;
	struct policy_request	 rq;
	int64_t			 now;
	enum policy_action	 action;
	int64_t			 retry_after;
};

/* Shorthands for the states and requests most rows use. */
#define NOTHING		{ .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0, \
			  .negative_expires = 0, .backoff_until = 0, .hold_until = 0 }
#define TERM(age)	{ .granted = 1, .terminal = 1, .fetched_at = T - (age), .negative = 0, \
			  .negative_expires = 0, .backoff_until = 0, .hold_until = 0 }
#define PEND(age)	{ .granted = 1, .terminal = 0, .fetched_at = T - (age), .negative = 0, \
			  .negative_expires = 0, .backoff_until = 0, .hold_until = 0 }
#define ONLINE			{ .offline = 0, .no_cache = 0 }
#define NO_CACHE		{ .offline = 0, .no_cache = 1 }
#define OFFLINE			{ .offline = 1, .no_cache = 0 }
#define OFFLINE_NO_CACHE	{ .offline = 1, .no_cache = 1 }

static const struct decide_case decide_cases[] = {
	{ .name = "nothing cached", .mode = SERVE, .interval = IVL,
	  .st = NOTHING, .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },

	/* After an upstream failure: the snapshot until the hold is over. */
	{ .name = "pending, upstream failed lately", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = T + 2000 },
	  .rq = ONLINE, .now = T, .action = ACT_STALE, .retry_after = 2 },
	{ .name = "pending, hold just over", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = T },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "not granted: a hold does not apply", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = T + 2000 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "terminal, no-cache during a hold", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = T + 2000 },
	  .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "pending, fetched in the future (clock stepped back)", .mode = SERVE,
	  .interval = IVL,
	  .st = PEND(-5000), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "nothing cached, no-cache", .mode = SERVE, .interval = IVL,
	  .st = NOTHING, .rq = NO_CACHE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "nothing cached, reject", .mode = REJECT, .interval = IVL,
	  .st = NOTHING, .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },

	/* 1. terminal and granted: HIT, no Retry-After. */
	{ .name = "terminal, old", .mode = SERVE, .interval = IVL,
	  .st = TERM(86400000), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, just fetched", .mode = SERVE, .interval = IVL,
	  .st = TERM(0), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, reject mode", .mode = REJECT, .interval = IVL,
	  .st = TERM(1000), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, cached for another token only", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 1, .fetched_at = T - 1000, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },

	/* no-cache renews a terminal job at most once per interval. */
	{ .name = "terminal, no-cache, age 0", .mode = SERVE, .interval = IVL,
	  .st = TERM(0), .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, no-cache, age interval-1", .mode = SERVE, .interval = IVL,
	  .st = TERM(IVL - 1), .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, no-cache, age interval", .mode = SERVE, .interval = IVL,
	  .st = TERM(IVL), .rq = NO_CACHE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "terminal, no-cache, age interval+1", .mode = SERVE, .interval = IVL,
	  .st = TERM(IVL + 1), .rq = NO_CACHE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "terminal, no-cache, reject mode, fresh", .mode = REJECT, .interval = IVL,
	  .st = TERM(10), .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, no-cache, during 429 back-off", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2000, .hold_until = 0 },
	  .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "terminal, no-cache, back-off just over", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T, .hold_until = 0 },
	  .rq = NO_CACHE, .now = T, .action = ACT_FETCH, .retry_after = 0 },

	/* 3. unfinished within the interval, serve mode. */
	{ .name = "pending, age 0", .mode = SERVE, .interval = IVL,
	  .st = PEND(0), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 5 },
	{ .name = "pending, age 1", .mode = SERVE, .interval = IVL,
	  .st = PEND(1), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 5 },
	{ .name = "pending, age 999", .mode = SERVE, .interval = IVL,
	  .st = PEND(999), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 5 },
	{ .name = "pending, age 1000", .mode = SERVE, .interval = IVL,
	  .st = PEND(1000), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 4 },
	{ .name = "pending, age 3999", .mode = SERVE, .interval = IVL,
	  .st = PEND(3999), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 2 },
	{ .name = "pending, age 4000", .mode = SERVE, .interval = IVL,
	  .st = PEND(4000), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 1 },
	{ .name = "pending, age 4001", .mode = SERVE, .interval = IVL,
	  .st = PEND(4001), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 1 },
	{ .name = "pending, age 4999", .mode = SERVE, .interval = IVL,
	  .st = PEND(4999), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 1 },
	{ .name = "pending, age interval", .mode = SERVE, .interval = IVL,
	  .st = PEND(IVL), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "pending, age interval+1", .mode = SERVE, .interval = IVL,
	  .st = PEND(IVL + 1), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "pending, one hour old", .mode = SERVE, .interval = IVL,
	  .st = PEND(3600000), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "pending, no-cache never bypasses the interval", .mode = SERVE,
	  .interval = IVL,
	  .st = PEND(100), .rq = NO_CACHE, .now = T, .action = ACT_HIT, .retry_after = 5 },
	{ .name = "pending, no-cache after the interval", .mode = SERVE, .interval = IVL,
	  .st = PEND(IVL), .rq = NO_CACHE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "pending, 1 s interval, age 1", .mode = SERVE, .interval = 1000,
	  .st = PEND(1), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 1 },
	{ .name = "pending, 1 s interval, age 1000", .mode = SERVE, .interval = 1000,
	  .st = PEND(1000), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "pending, 60 s interval, age 500", .mode = SERVE, .interval = 60000,
	  .st = PEND(500), .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 60 },
	{ .name = "pending, interval 0", .mode = SERVE, .interval = 0,
	  .st = PEND(0), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "not granted, recent fetched_at", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = T - 10, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },

	/* 3. the same in reject mode. */
	{ .name = "reject, age 0", .mode = REJECT, .interval = IVL,
	  .st = PEND(0), .rq = ONLINE, .now = T, .action = ACT_TOO_FAST, .retry_after = 5 },
	{ .name = "reject, age 1000", .mode = REJECT, .interval = IVL,
	  .st = PEND(1000), .rq = ONLINE, .now = T, .action = ACT_TOO_FAST, .retry_after = 4 },
	{ .name = "reject, age 4999", .mode = REJECT, .interval = IVL,
	  .st = PEND(4999), .rq = ONLINE, .now = T, .action = ACT_TOO_FAST, .retry_after = 1 },
	{ .name = "reject, age interval", .mode = REJECT, .interval = IVL,
	  .st = PEND(IVL), .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "reject, no-cache", .mode = REJECT, .interval = IVL,
	  .st = PEND(2500), .rq = NO_CACHE, .now = T, .action = ACT_TOO_FAST, .retry_after = 3 },

	/* 2. negative entries: until they expire, before pending snapshots. */
	{ .name = "negative", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "negative, 1 ms left", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T + 1, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "negative, expires now", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "negative, expired", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T - 1, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "negative, no-cache", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = NO_CACHE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "negative beats a fresh pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 100, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "negative beats a stale pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "negative beats too-fast", .mode = REJECT, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 100, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "expired negative, fresh pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 1000, .negative = 1,
	      .negative_expires = T - 1, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 4 },
	{ .name = "expired negative, stale pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 1,
	      .negative_expires = T, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "terminal beats negative", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "negative beats back-off", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = T + 5000, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },

	/* 429 back-off: no upstream call before Retry-After. */
	{ .name = "back-off, no snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 3 },
	{ .name = "back-off, no snapshot, 1 ms left", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 1, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 1 },
	{ .name = "back-off, no snapshot, 1000 ms left", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 1000, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 1 },
	{ .name = "back-off, no snapshot, 1001 ms left", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 1001, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 2 },
	{ .name = "back-off, no snapshot, 60 s left", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 60000, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 60 },
	{ .name = "back-off over", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "back-off long over", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T - 9999, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "back-off, no-cache", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = NO_CACHE, .now = T, .action = ACT_BACKOFF, .retry_after = 3 },
	{ .name = "back-off, reject mode", .mode = REJECT, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_BACKOFF, .retry_after = 3 },
	{ .name = "back-off, stale pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "back-off, stale pending snapshot, reject", .mode = REJECT, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "back-off, stale pending snapshot, no-cache", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 2500, .hold_until = 0 },
	  .rq = NO_CACHE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "back-off over, stale pending snapshot", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_FETCH, .retry_after = 0 },
	{ .name = "fresh snapshot during back-off", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 1000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 60000, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 4 },
	{ .name = "terminal during back-off", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 60000, .hold_until = 0 },
	  .rq = ONLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },

	/* 5. offline: never FETCH. */
	{ .name = "offline, nothing", .mode = SERVE, .interval = IVL,
	  .st = NOTHING, .rq = OFFLINE, .now = T, .action = ACT_OFFLINE_MISS, .retry_after = ANY },
	{ .name = "offline, terminal", .mode = SERVE, .interval = IVL,
	  .st = TERM(86400000), .rq = OFFLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "offline, terminal, no-cache", .mode = SERVE, .interval = IVL,
	  .st = TERM(86400000), .rq = OFFLINE_NO_CACHE, .now = T, .action = ACT_HIT,
	  .retry_after = 0 },
	{ .name = "offline, terminal of another token", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 1, .fetched_at = T - 1000, .negative = 0,
	      .negative_expires = 0, .backoff_until = 0, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_OFFLINE_MISS, .retry_after = ANY },
	{ .name = "offline, stale pending", .mode = SERVE, .interval = IVL,
	  .st = PEND(60000), .rq = OFFLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "offline, fresh pending", .mode = SERVE, .interval = IVL,
	  .st = PEND(100), .rq = OFFLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "offline, fresh pending, reject", .mode = REJECT, .interval = IVL,
	  .st = PEND(100), .rq = OFFLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "offline, pending, no-cache", .mode = SERVE, .interval = IVL,
	  .st = PEND(60000), .rq = OFFLINE_NO_CACHE, .now = T, .action = ACT_STALE,
	  .retry_after = ANY },
	{ .name = "offline, negative", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_HIT_NEGATIVE, .retry_after = ANY },
	{ .name = "offline, expired negative", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 1,
	      .negative_expires = T, .backoff_until = 0, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_OFFLINE_MISS, .retry_after = ANY },
	{ .name = "offline, back-off, nothing", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 0, .terminal = 0, .fetched_at = 0, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 5000, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_OFFLINE_MISS, .retry_after = ANY },
	{ .name = "offline, back-off, pending", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 0, .fetched_at = T - 60000, .negative = 0,
	      .negative_expires = 0, .backoff_until = T + 5000, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
	{ .name = "offline, terminal with negative", .mode = SERVE, .interval = IVL,
	  .st = { .granted = 1, .terminal = 1, .fetched_at = T - 60000, .negative = 1,
	      .negative_expires = T + 30000, .backoff_until = 0, .hold_until = 0 },
	  .rq = OFFLINE, .now = T, .action = ACT_HIT, .retry_after = 0 },
	{ .name = "offline, interval 0, pending", .mode = SERVE, .interval = 0,
	  .st = PEND(0), .rq = OFFLINE, .now = T, .action = ACT_STALE, .retry_after = ANY },
};

static const char *
action_name(enum policy_action a)
{
	switch (a) {
	case ACT_HIT: return "HIT";
	case ACT_HIT_NEGATIVE: return "HIT_NEGATIVE";
	case ACT_STALE: return "STALE";
	case ACT_TOO_FAST: return "TOO_FAST";
	case ACT_BACKOFF: return "BACKOFF";
	case ACT_OFFLINE_MISS: return "OFFLINE_MISS";
	case ACT_FETCH: return "FETCH";
	}
	return "?";
}

START_TEST(test_decide)
{
	const struct decide_case *c = &decide_cases[_i];
	struct policy_config cfg;
	struct policy_decision d;

	cfg.pending_interval_ms = c->interval;
	cfg.negative_ttl_ms = 30000;
	cfg.pending_mode = (enum pending_mode)c->mode;
	/* The output is fully written, whatever it held. */
	memset(&d, 0x5a, sizeof(d));
	policy_decide(&cfg, &c->st, &c->rq, c->now, &d);
	ck_assert_msg(d.action == c->action, "%s: got %s, want %s", c->name,
	    action_name(d.action), action_name(c->action));
	if (c->retry_after != ANY)
		ck_assert_msg(d.retry_after == c->retry_after,
		    "%s: Retry-After %lld, want %lld", c->name,
		    (long long)d.retry_after, (long long)c->retry_after);
}
END_TEST

/* Retry-After in serve and reject mode counts down to the next fetch. */
START_TEST(test_decide_countdown)
{
	struct policy_config cfg = { .pending_interval_ms = 5000,
	    .negative_ttl_ms = 30000, .pending_mode = PENDING_SERVE };
	struct policy_state st = { .granted = 1, .terminal = 0, .fetched_at = T,
	    .negative = 0, .negative_expires = 0, .backoff_until = 0,
	    .hold_until = 0 };
	struct policy_request rq = ONLINE;
	struct policy_decision d;
	int64_t now;

	for (now = T; now < T + 5000; now += 7) {
		int64_t want = (T + 5000 - now + 999) / 1000;

		cfg.pending_mode = PENDING_SERVE;
		policy_decide(&cfg, &st, &rq, now, &d);
		ck_assert_int_eq(d.action, ACT_HIT);
		ck_assert_int_eq(d.retry_after, want);
		ck_assert_int_ge(d.retry_after, 1);
		cfg.pending_mode = PENDING_REJECT;
		policy_decide(&cfg, &st, &rq, now, &d);
		ck_assert_int_eq(d.action, ACT_TOO_FAST);
		ck_assert_int_eq(d.retry_after, want);
	}
	policy_decide(&cfg, &st, &rq, T + 5000, &d);
	ck_assert_int_eq(d.action, ACT_FETCH);
}
END_TEST

/* The inputs are not modified.  They are compared byte for byte, so they
 * are zeroed whole (padding too) and copied with memcpy(). */
START_TEST(test_decide_const)
{
	struct policy_config cfg, cfg2;
	struct policy_state st, st2;
	struct policy_request rq = NO_CACHE, rq2;
	struct policy_decision d;

	memset(&cfg, 0, sizeof(cfg));
	cfg.pending_interval_ms = 5000;
	cfg.negative_ttl_ms = 30000;
	cfg.pending_mode = PENDING_REJECT;
	memset(&st, 0, sizeof(st));
	st.granted = 1;
	st.fetched_at = T - 100;
	st.negative = 1;
	st.negative_expires = T - 1;
	st.backoff_until = T + 100;
	memcpy(&cfg2, &cfg, sizeof(cfg));
	memcpy(&st2, &st, sizeof(st));
	memcpy(&rq2, &rq, sizeof(rq));

	policy_decide(&cfg, &st, &rq, T, &d);
	ck_assert_mem_eq(&cfg, &cfg2, sizeof(cfg));
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	ck_assert_mem_eq(&rq, &rq2, sizeof(rq));
}
END_TEST

struct classify_case {
	long			status;
	int			is_record;
	enum policy_upstream	kind;
};

static const struct classify_case classify_cases[] = {
	{ .status = 200, .is_record = 1, .kind = POLICY_UP_JOB },
	{ .status = 200, .is_record = 0, .kind = POLICY_UP_BAD_RECORD },
	{ .status = 400, .is_record = 0, .kind = POLICY_UP_NEGATIVE },
	{ .status = 400, .is_record = 1, .kind = POLICY_UP_NEGATIVE },
	{ .status = 403, .is_record = 0, .kind = POLICY_UP_NEGATIVE },
	{ .status = 404, .is_record = 0, .kind = POLICY_UP_NEGATIVE },
	{ .status = 404, .is_record = 1, .kind = POLICY_UP_NEGATIVE },
	{ .status = 401, .is_record = 0, .kind = POLICY_UP_UNAUTHORIZED },
	{ .status = 401, .is_record = 1, .kind = POLICY_UP_UNAUTHORIZED },
	{ .status = 429, .is_record = 0, .kind = POLICY_UP_RATE_LIMITED },
	{ .status = 429, .is_record = 1, .kind = POLICY_UP_RATE_LIMITED },
	{ .status = 596, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 596, .is_record = 1, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 402, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 405, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 408, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 409, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 410, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 422, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 499, .is_record = 0, .kind = POLICY_UP_CLIENT_ERROR },
	{ .status = 500, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 500, .is_record = 1, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 502, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 503, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 504, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 595, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 597, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
	{ .status = 599, .is_record = 0, .kind = POLICY_UP_SERVER_ERROR },
};

START_TEST(test_classify)
{
	const struct classify_case *c = &classify_cases[_i];

	ck_assert_msg(policy_classify(c->status, c->is_record) == c->kind,
	    "status %ld record %d: got %d, want %d", c->status, c->is_record,
	    (int)policy_classify(c->status, c->is_record), (int)c->kind);
}
END_TEST

struct answer_case {
	const char		*name;
	enum policy_upstream	 kind;
	long			 status;
	int			 has_snapshot;
	enum policy_body		 body;
	int			 store_job, store_negative, revoke, backoff;
};

static const struct answer_case answer_cases[] = {
	{ .name = "200 record", .kind = POLICY_UP_JOB, .status = 200, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 1, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "200 record, snapshot", .kind = POLICY_UP_JOB, .status = 200, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 1, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "200 not a record", .kind = POLICY_UP_BAD_RECORD, .status = 200, .has_snapshot = 0,
	  .body = POLICY_BODY_INVALID_RECORD,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "200 not a record, snapshot", .kind = POLICY_UP_BAD_RECORD, .status = 200,
	  .has_snapshot = 1, .body = POLICY_BODY_INVALID_RECORD,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "too large", .kind = POLICY_UP_TOO_LARGE, .status = 200, .has_snapshot = 0,
	  .body = POLICY_BODY_TOO_LARGE,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "too large, snapshot", .kind = POLICY_UP_TOO_LARGE, .status = 200, .has_snapshot = 1,
	  .body = POLICY_BODY_TOO_LARGE,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "400", .kind = POLICY_UP_NEGATIVE, .status = 400, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 0, .backoff = 0 },
	{ .name = "400, snapshot", .kind = POLICY_UP_NEGATIVE, .status = 400, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 0, .backoff = 0 },
	{ .name = "403", .kind = POLICY_UP_NEGATIVE, .status = 403, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 1, .backoff = 0 },
	{ .name = "403, snapshot", .kind = POLICY_UP_NEGATIVE, .status = 403, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 1, .backoff = 0 },
	{ .name = "404", .kind = POLICY_UP_NEGATIVE, .status = 404, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 1, .backoff = 0 },
	{ .name = "404, snapshot", .kind = POLICY_UP_NEGATIVE, .status = 404, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 1, .revoke = 1, .backoff = 0 },
	{ .name = "401", .kind = POLICY_UP_UNAUTHORIZED, .status = 401, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 1, .backoff = 0 },
	{ .name = "401, snapshot", .kind = POLICY_UP_UNAUTHORIZED, .status = 401, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 1, .backoff = 0 },
	{ .name = "429", .kind = POLICY_UP_RATE_LIMITED, .status = 429, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 1 },
	{ .name = "429, snapshot", .kind = POLICY_UP_RATE_LIMITED, .status = 429, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 1 },
	{ .name = "596", .kind = POLICY_UP_CLIENT_ERROR, .status = 596, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "596, snapshot", .kind = POLICY_UP_CLIENT_ERROR, .status = 596, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "402", .kind = POLICY_UP_CLIENT_ERROR, .status = 402, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "422, snapshot", .kind = POLICY_UP_CLIENT_ERROR, .status = 422, .has_snapshot = 1,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "500", .kind = POLICY_UP_SERVER_ERROR, .status = 500, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "500, snapshot", .kind = POLICY_UP_SERVER_ERROR, .status = 500, .has_snapshot = 1,
	  .body = POLICY_BODY_SNAPSHOT,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "503", .kind = POLICY_UP_SERVER_ERROR, .status = 503, .has_snapshot = 0,
	  .body = POLICY_BODY_UPSTREAM,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "503, snapshot", .kind = POLICY_UP_SERVER_ERROR, .status = 503, .has_snapshot = 1,
	  .body = POLICY_BODY_SNAPSHOT,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "unreachable", .kind = POLICY_UP_UNREACHABLE, .status = 0, .has_snapshot = 0,
	  .body = POLICY_BODY_UNREACHABLE,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "unreachable, snapshot", .kind = POLICY_UP_UNREACHABLE, .status = 0,
	  .has_snapshot = 1, .body = POLICY_BODY_SNAPSHOT,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "timeout", .kind = POLICY_UP_TIMEOUT, .status = 0, .has_snapshot = 0,
	  .body = POLICY_BODY_TIMEOUT,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
	{ .name = "timeout, snapshot", .kind = POLICY_UP_TIMEOUT, .status = 0, .has_snapshot = 1,
	  .body = POLICY_BODY_SNAPSHOT,
	  .store_job = 0, .store_negative = 0, .revoke = 0, .backoff = 0 },
};

static void
check_outcome(const struct answer_case *c, const struct policy_outcome *o)
{
	ck_assert_msg((int)o->body == (int)c->body, "%s: body %d, want %d",
	    c->name, (int)o->body, (int)c->body);
	ck_assert_msg(!!o->store_job == c->store_job, "%s: store_job %d",
	    c->name, o->store_job);
	ck_assert_msg(!!o->store_negative == c->store_negative,
	    "%s: store_negative %d", c->name, o->store_negative);
	ck_assert_msg(!!o->revoke_grant == c->revoke, "%s: revoke_grant %d",
	    c->name, o->revoke_grant);
	ck_assert_msg(!!o->backoff == c->backoff, "%s: backoff %d", c->name,
	    o->backoff);
}

START_TEST(test_answer)
{
	const struct answer_case *c = &answer_cases[_i];
	struct policy_outcome o;

	memset(&o, 0x5a, sizeof(o));
	policy_answer(c->kind, c->status, c->has_snapshot, &o);
	check_outcome(c, &o);
}
END_TEST

/* The same table through policy_classify(), for HTTP answers. */
START_TEST(test_classify_answer)
{
	const struct answer_case *c = &answer_cases[_i];
	struct policy_outcome o;
	enum policy_upstream k;

	if (c->status == 0 || c->kind == POLICY_UP_TOO_LARGE)
		return;		/* transport outcomes, not HTTP answers */
	k = policy_classify(c->status, c->kind == POLICY_UP_JOB);
	ck_assert_msg(k == c->kind, "%s: classified as %d", c->name, (int)k);
	policy_answer(k, c->status, c->has_snapshot, &o);
	check_outcome(c, &o);
}
END_TEST

/* Exactly one upstream answer kind stores a job, only negatives store negatives. */
START_TEST(test_answer_exclusive)
{
	struct policy_outcome o;
	int k, snap;

	for (k = POLICY_UP_JOB; k <= POLICY_UP_TIMEOUT; k++)
		for (snap = 0; snap <= 1; snap++) {
			long st = k == POLICY_UP_NEGATIVE ? 404 : 200;

			policy_answer((enum policy_upstream)k, st, snap, &o);
			ck_assert_int_eq(!!o.store_job, k == POLICY_UP_JOB);
			ck_assert_int_eq(!!o.store_negative, k == POLICY_UP_NEGATIVE);
			ck_assert_int_eq(!!o.backoff, k == POLICY_UP_RATE_LIMITED);
			ck_assert(!(o.store_job && o.revoke_grant));
		}
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_decide, 0,
	    (int)(sizeof(decide_cases) / sizeof(decide_cases[0])));
	tcase_add_test(tc, test_decide_countdown);
	tcase_add_test(tc, test_decide_const);
	suite_add_tcase(s, tc);

	tc = tcase_create("answer");
	tcase_add_loop_test(tc, test_classify, 0,
	    (int)(sizeof(classify_cases) / sizeof(classify_cases[0])));
	tcase_add_loop_test(tc, test_answer, 0,
	    (int)(sizeof(answer_cases) / sizeof(answer_cases[0])));
	tcase_add_loop_test(tc, test_classify_answer, 0,
	    (int)(sizeof(answer_cases) / sizeof(answer_cases[0])));
	tcase_add_test(tc, test_answer_exclusive);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
