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

/* State shorthands: { granted, terminal, fetched_at, negative, negative_expires, backoff_until, hold_until } */
#define NOTHING			{ 0, 0, 0, 0, 0, 0, 0 }
#define TERM(age)		{ 1, 1, T - (age), 0, 0, 0, 0 }
#define PEND(age)		{ 1, 0, T - (age), 0, 0, 0, 0 }
#define ONLINE			{ 0, 0 }
#define NO_CACHE		{ 0, 1 }
#define OFFLINE			{ 1, 0 }
#define OFFLINE_NO_CACHE	{ 1, 1 }

static const struct decide_case decide_cases[] = {
	{ "nothing cached", SERVE, IVL, NOTHING, ONLINE, T, ACT_FETCH, 0 },

	/* After an upstream failure: the snapshot until the hold is over. */
	{ "pending, upstream failed lately", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, 0, T + 2000 }, ONLINE, T, ACT_STALE, 2 },
	{ "pending, hold just over", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, 0, T }, ONLINE, T, ACT_FETCH, 0 },
	{ "not granted: a hold does not apply", SERVE, IVL,
	  { 0, 0, 0, 0, 0, 0, T + 2000 }, ONLINE, T, ACT_FETCH, 0 },
	{ "terminal, no-cache during a hold", SERVE, IVL,
	  { 1, 1, T - 60000, 0, 0, 0, T + 2000 }, NO_CACHE, T, ACT_HIT, 0 },
	{ "pending, fetched in the future (clock stepped back)", SERVE, IVL,
	  PEND(-5000), ONLINE, T, ACT_FETCH, 0 },
	{ "nothing cached, no-cache", SERVE, IVL, NOTHING, NO_CACHE, T, ACT_FETCH, 0 },
	{ "nothing cached, reject", REJECT, IVL, NOTHING, ONLINE, T, ACT_FETCH, 0 },

	/* 1. terminal and granted: HIT, no Retry-After. */
	{ "terminal, old", SERVE, IVL, TERM(86400000), ONLINE, T, ACT_HIT, 0 },
	{ "terminal, just fetched", SERVE, IVL, TERM(0), ONLINE, T, ACT_HIT, 0 },
	{ "terminal, reject mode", REJECT, IVL, TERM(1000), ONLINE, T, ACT_HIT, 0 },
	{ "terminal, cached for another token only", SERVE, IVL,
	  { 0, 1, T - 1000, 0, 0, 0, 0 }, ONLINE, T, ACT_FETCH, 0 },

	/* no-cache renews a terminal job at most once per interval. */
	{ "terminal, no-cache, age 0", SERVE, IVL, TERM(0), NO_CACHE, T, ACT_HIT, 0 },
	{ "terminal, no-cache, age interval-1", SERVE, IVL, TERM(IVL - 1), NO_CACHE, T, ACT_HIT, 0 },
	{ "terminal, no-cache, age interval", SERVE, IVL, TERM(IVL), NO_CACHE, T, ACT_FETCH, 0 },
	{ "terminal, no-cache, age interval+1", SERVE, IVL, TERM(IVL + 1), NO_CACHE, T, ACT_FETCH, 0 },
	{ "terminal, no-cache, reject mode, fresh", REJECT, IVL, TERM(10), NO_CACHE, T, ACT_HIT, 0 },
	{ "terminal, no-cache, during 429 back-off", SERVE, IVL,
	  { 1, 1, T - 60000, 0, 0, T + 2000, 0 }, NO_CACHE, T, ACT_HIT, 0 },
	{ "terminal, no-cache, back-off just over", SERVE, IVL,
	  { 1, 1, T - 60000, 0, 0, T, 0 }, NO_CACHE, T, ACT_FETCH, 0 },

	/* 3. unfinished within the interval, serve mode. */
	{ "pending, age 0", SERVE, IVL, PEND(0), ONLINE, T, ACT_HIT, 5 },
	{ "pending, age 1", SERVE, IVL, PEND(1), ONLINE, T, ACT_HIT, 5 },
	{ "pending, age 999", SERVE, IVL, PEND(999), ONLINE, T, ACT_HIT, 5 },
	{ "pending, age 1000", SERVE, IVL, PEND(1000), ONLINE, T, ACT_HIT, 4 },
	{ "pending, age 3999", SERVE, IVL, PEND(3999), ONLINE, T, ACT_HIT, 2 },
	{ "pending, age 4000", SERVE, IVL, PEND(4000), ONLINE, T, ACT_HIT, 1 },
	{ "pending, age 4001", SERVE, IVL, PEND(4001), ONLINE, T, ACT_HIT, 1 },
	{ "pending, age 4999", SERVE, IVL, PEND(4999), ONLINE, T, ACT_HIT, 1 },
	{ "pending, age interval", SERVE, IVL, PEND(IVL), ONLINE, T, ACT_FETCH, 0 },
	{ "pending, age interval+1", SERVE, IVL, PEND(IVL + 1), ONLINE, T, ACT_FETCH, 0 },
	{ "pending, one hour old", SERVE, IVL, PEND(3600000), ONLINE, T, ACT_FETCH, 0 },
	{ "pending, no-cache never bypasses the interval", SERVE, IVL, PEND(100), NO_CACHE, T, ACT_HIT, 5 },
	{ "pending, no-cache after the interval", SERVE, IVL, PEND(IVL), NO_CACHE, T, ACT_FETCH, 0 },
	{ "pending, 1 s interval, age 1", SERVE, 1000, PEND(1), ONLINE, T, ACT_HIT, 1 },
	{ "pending, 1 s interval, age 1000", SERVE, 1000, PEND(1000), ONLINE, T, ACT_FETCH, 0 },
	{ "pending, 60 s interval, age 500", SERVE, 60000, PEND(500), ONLINE, T, ACT_HIT, 60 },
	{ "pending, interval 0", SERVE, 0, PEND(0), ONLINE, T, ACT_FETCH, 0 },
	{ "not granted, recent fetched_at", SERVE, IVL,
	  { 0, 0, T - 10, 0, 0, 0, 0 }, ONLINE, T, ACT_FETCH, 0 },

	/* 3. the same in reject mode. */
	{ "reject, age 0", REJECT, IVL, PEND(0), ONLINE, T, ACT_TOO_FAST, 5 },
	{ "reject, age 1000", REJECT, IVL, PEND(1000), ONLINE, T, ACT_TOO_FAST, 4 },
	{ "reject, age 4999", REJECT, IVL, PEND(4999), ONLINE, T, ACT_TOO_FAST, 1 },
	{ "reject, age interval", REJECT, IVL, PEND(IVL), ONLINE, T, ACT_FETCH, 0 },
	{ "reject, no-cache", REJECT, IVL, PEND(2500), NO_CACHE, T, ACT_TOO_FAST, 3 },

	/* 2. negative entries: until they expire, before pending snapshots. */
	{ "negative", SERVE, IVL, { 0, 0, 0, 1, T + 30000, 0, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "negative, 1 ms left", SERVE, IVL, { 0, 0, 0, 1, T + 1, 0, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "negative, expires now", SERVE, IVL, { 0, 0, 0, 1, T, 0, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "negative, expired", SERVE, IVL, { 0, 0, 0, 1, T - 1, 0, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "negative, no-cache", SERVE, IVL, { 0, 0, 0, 1, T + 30000, 0, 0 }, NO_CACHE, T, ACT_HIT_NEGATIVE, ANY },
	{ "negative beats a fresh pending snapshot", SERVE, IVL,
	  { 1, 0, T - 100, 1, T + 30000, 0, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "negative beats a stale pending snapshot", SERVE, IVL,
	  { 1, 0, T - 60000, 1, T + 30000, 0, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "negative beats too-fast", REJECT, IVL,
	  { 1, 0, T - 100, 1, T + 30000, 0, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "expired negative, fresh pending snapshot", SERVE, IVL,
	  { 1, 0, T - 1000, 1, T - 1, 0, 0 }, ONLINE, T, ACT_HIT, 4 },
	{ "expired negative, stale pending snapshot", SERVE, IVL,
	  { 1, 0, T - 60000, 1, T, 0, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "terminal beats negative", SERVE, IVL,
	  { 1, 1, T - 60000, 1, T + 30000, 0, 0 }, ONLINE, T, ACT_HIT, 0 },
	{ "negative beats back-off", SERVE, IVL,
	  { 0, 0, 0, 1, T + 30000, T + 5000, 0 }, ONLINE, T, ACT_HIT_NEGATIVE, ANY },

	/* 429 back-off: no upstream call before Retry-After. */
	{ "back-off, no snapshot", SERVE, IVL, { 0, 0, 0, 0, 0, T + 2500, 0 }, ONLINE, T, ACT_BACKOFF, 3 },
	{ "back-off, no snapshot, 1 ms left", SERVE, IVL, { 0, 0, 0, 0, 0, T + 1, 0 }, ONLINE, T, ACT_BACKOFF, 1 },
	{ "back-off, no snapshot, 1000 ms left", SERVE, IVL, { 0, 0, 0, 0, 0, T + 1000, 0 }, ONLINE, T, ACT_BACKOFF, 1 },
	{ "back-off, no snapshot, 1001 ms left", SERVE, IVL, { 0, 0, 0, 0, 0, T + 1001, 0 }, ONLINE, T, ACT_BACKOFF, 2 },
	{ "back-off, no snapshot, 60 s left", SERVE, IVL, { 0, 0, 0, 0, 0, T + 60000, 0 }, ONLINE, T, ACT_BACKOFF, 60 },
	{ "back-off over", SERVE, IVL, { 0, 0, 0, 0, 0, T, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "back-off long over", SERVE, IVL, { 0, 0, 0, 0, 0, T - 9999, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "back-off, no-cache", SERVE, IVL, { 0, 0, 0, 0, 0, T + 2500, 0 }, NO_CACHE, T, ACT_BACKOFF, 3 },
	{ "back-off, reject mode", REJECT, IVL, { 0, 0, 0, 0, 0, T + 2500, 0 }, ONLINE, T, ACT_BACKOFF, 3 },
	{ "back-off, stale pending snapshot", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, T + 2500, 0 }, ONLINE, T, ACT_STALE, ANY },
	{ "back-off, stale pending snapshot, reject", REJECT, IVL,
	  { 1, 0, T - 60000, 0, 0, T + 2500, 0 }, ONLINE, T, ACT_STALE, ANY },
	{ "back-off, stale pending snapshot, no-cache", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, T + 2500, 0 }, NO_CACHE, T, ACT_STALE, ANY },
	{ "back-off over, stale pending snapshot", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, T, 0 }, ONLINE, T, ACT_FETCH, 0 },
	{ "fresh snapshot during back-off", SERVE, IVL,
	  { 1, 0, T - 1000, 0, 0, T + 60000, 0 }, ONLINE, T, ACT_HIT, 4 },
	{ "terminal during back-off", SERVE, IVL,
	  { 1, 1, T - 60000, 0, 0, T + 60000, 0 }, ONLINE, T, ACT_HIT, 0 },

	/* 5. offline: never FETCH. */
	{ "offline, nothing", SERVE, IVL, NOTHING, OFFLINE, T, ACT_OFFLINE_MISS, ANY },
	{ "offline, terminal", SERVE, IVL, TERM(86400000), OFFLINE, T, ACT_HIT, 0 },
	{ "offline, terminal, no-cache", SERVE, IVL, TERM(86400000), OFFLINE_NO_CACHE, T, ACT_HIT, 0 },
	{ "offline, terminal of another token", SERVE, IVL,
	  { 0, 1, T - 1000, 0, 0, 0, 0 }, OFFLINE, T, ACT_OFFLINE_MISS, ANY },
	{ "offline, stale pending", SERVE, IVL, PEND(60000), OFFLINE, T, ACT_STALE, ANY },
	{ "offline, fresh pending", SERVE, IVL, PEND(100), OFFLINE, T, ACT_STALE, ANY },
	{ "offline, fresh pending, reject", REJECT, IVL, PEND(100), OFFLINE, T, ACT_STALE, ANY },
	{ "offline, pending, no-cache", SERVE, IVL, PEND(60000), OFFLINE_NO_CACHE, T, ACT_STALE, ANY },
	{ "offline, negative", SERVE, IVL, { 0, 0, 0, 1, T + 30000, 0, 0 }, OFFLINE, T, ACT_HIT_NEGATIVE, ANY },
	{ "offline, expired negative", SERVE, IVL, { 0, 0, 0, 1, T, 0, 0 }, OFFLINE, T, ACT_OFFLINE_MISS, ANY },
	{ "offline, back-off, nothing", SERVE, IVL, { 0, 0, 0, 0, 0, T + 5000, 0 }, OFFLINE, T, ACT_OFFLINE_MISS, ANY },
	{ "offline, back-off, pending", SERVE, IVL,
	  { 1, 0, T - 60000, 0, 0, T + 5000, 0 }, OFFLINE, T, ACT_STALE, ANY },
	{ "offline, terminal with negative", SERVE, IVL,
	  { 1, 1, T - 60000, 1, T + 30000, 0, 0 }, OFFLINE, T, ACT_HIT, 0 },
	{ "offline, interval 0, pending", SERVE, 0, PEND(0), OFFLINE, T, ACT_STALE, ANY },
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
	struct policy_config cfg = { 5000, 30000, PENDING_SERVE };
	struct policy_state st = { 1, 0, T, 0, 0, 0, 0 };
	struct policy_request rq = { 0, 0 };
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

/* The inputs are not modified. */
START_TEST(test_decide_const)
{
	struct policy_config cfg = { 5000, 30000, PENDING_REJECT };
	struct policy_state st = { 1, 0, T - 100, 1, T - 1, T + 100, 0 };
	struct policy_request rq = { 0, 1 };
	struct policy_config cfg2 = cfg;
	struct policy_state st2 = st;
	struct policy_request rq2 = rq;
	struct policy_decision d;

	policy_decide(&cfg, &st, &rq, T, &d);
	ck_assert_mem_eq(&cfg, &cfg2, sizeof(cfg));
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	ck_assert_mem_eq(&rq, &rq2, sizeof(rq));
}
END_TEST

struct classify_case {
	long			status;
	int			is_record;
	enum upstream_kind	kind;
};

static const struct classify_case classify_cases[] = {
	{ 200, 1, UP_JOB },
	{ 200, 0, UP_BAD_RECORD },
	{ 400, 0, UP_NEGATIVE },
	{ 400, 1, UP_NEGATIVE },
	{ 403, 0, UP_NEGATIVE },
	{ 404, 0, UP_NEGATIVE },
	{ 404, 1, UP_NEGATIVE },
	{ 401, 0, UP_UNAUTHORIZED },
	{ 401, 1, UP_UNAUTHORIZED },
	{ 429, 0, UP_RATE_LIMITED },
	{ 429, 1, UP_RATE_LIMITED },
	{ 596, 0, UP_CLIENT_ERROR },
	{ 596, 1, UP_CLIENT_ERROR },
	{ 402, 0, UP_CLIENT_ERROR },
	{ 405, 0, UP_CLIENT_ERROR },
	{ 408, 0, UP_CLIENT_ERROR },
	{ 409, 0, UP_CLIENT_ERROR },
	{ 410, 0, UP_CLIENT_ERROR },
	{ 422, 0, UP_CLIENT_ERROR },
	{ 499, 0, UP_CLIENT_ERROR },
	{ 500, 0, UP_SERVER_ERROR },
	{ 500, 1, UP_SERVER_ERROR },
	{ 502, 0, UP_SERVER_ERROR },
	{ 503, 0, UP_SERVER_ERROR },
	{ 504, 0, UP_SERVER_ERROR },
	{ 595, 0, UP_SERVER_ERROR },
	{ 597, 0, UP_SERVER_ERROR },
	{ 599, 0, UP_SERVER_ERROR },
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
	enum upstream_kind	 kind;
	long			 status;
	int			 has_snapshot;
	enum reply_body		 body;
	int			 store_job, store_negative, revoke, backoff;
};

static const struct answer_case answer_cases[] = {
	{ "200 record", UP_JOB, 200, 0, BODY_UPSTREAM, 1, 0, 0, 0 },
	{ "200 record, snapshot", UP_JOB, 200, 1, BODY_UPSTREAM, 1, 0, 0, 0 },
	{ "200 not a record", UP_BAD_RECORD, 200, 0, BODY_INVALID_RECORD, 0, 0, 0, 0 },
	{ "200 not a record, snapshot", UP_BAD_RECORD, 200, 1, BODY_INVALID_RECORD, 0, 0, 0, 0 },
	{ "too large", UP_TOO_LARGE, 200, 0, BODY_TOO_LARGE, 0, 0, 0, 0 },
	{ "too large, snapshot", UP_TOO_LARGE, 200, 1, BODY_TOO_LARGE, 0, 0, 0, 0 },
	{ "400", UP_NEGATIVE, 400, 0, BODY_UPSTREAM, 0, 1, 0, 0 },
	{ "400, snapshot", UP_NEGATIVE, 400, 1, BODY_UPSTREAM, 0, 1, 0, 0 },
	{ "403", UP_NEGATIVE, 403, 0, BODY_UPSTREAM, 0, 1, 1, 0 },
	{ "403, snapshot", UP_NEGATIVE, 403, 1, BODY_UPSTREAM, 0, 1, 1, 0 },
	{ "404", UP_NEGATIVE, 404, 0, BODY_UPSTREAM, 0, 1, 1, 0 },
	{ "404, snapshot", UP_NEGATIVE, 404, 1, BODY_UPSTREAM, 0, 1, 1, 0 },
	{ "401", UP_UNAUTHORIZED, 401, 0, BODY_UPSTREAM, 0, 0, 1, 0 },
	{ "401, snapshot", UP_UNAUTHORIZED, 401, 1, BODY_UPSTREAM, 0, 0, 1, 0 },
	{ "429", UP_RATE_LIMITED, 429, 0, BODY_UPSTREAM, 0, 0, 0, 1 },
	{ "429, snapshot", UP_RATE_LIMITED, 429, 1, BODY_UPSTREAM, 0, 0, 0, 1 },
	{ "596", UP_CLIENT_ERROR, 596, 0, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "596, snapshot", UP_CLIENT_ERROR, 596, 1, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "402", UP_CLIENT_ERROR, 402, 0, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "422, snapshot", UP_CLIENT_ERROR, 422, 1, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "500", UP_SERVER_ERROR, 500, 0, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "500, snapshot", UP_SERVER_ERROR, 500, 1, BODY_SNAPSHOT, 0, 0, 0, 0 },
	{ "503", UP_SERVER_ERROR, 503, 0, BODY_UPSTREAM, 0, 0, 0, 0 },
	{ "503, snapshot", UP_SERVER_ERROR, 503, 1, BODY_SNAPSHOT, 0, 0, 0, 0 },
	{ "unreachable", UP_UNREACHABLE, 0, 0, BODY_UNREACHABLE, 0, 0, 0, 0 },
	{ "unreachable, snapshot", UP_UNREACHABLE, 0, 1, BODY_SNAPSHOT, 0, 0, 0, 0 },
	{ "timeout", UP_TIMEOUT, 0, 0, BODY_TIMEOUT, 0, 0, 0, 0 },
	{ "timeout, snapshot", UP_TIMEOUT, 0, 1, BODY_SNAPSHOT, 0, 0, 0, 0 },
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
	enum upstream_kind k;

	if (c->status == 0 || c->kind == UP_TOO_LARGE)
		return;		/* transport outcomes, not HTTP answers */
	k = policy_classify(c->status, c->kind == UP_JOB);
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

	for (k = UP_JOB; k <= UP_TIMEOUT; k++)
		for (snap = 0; snap <= 1; snap++) {
			long st = k == UP_NEGATIVE ? 404 : 200;

			policy_answer((enum upstream_kind)k, st, snap, &o);
			ck_assert_int_eq(!!o.store_job, k == UP_JOB);
			ck_assert_int_eq(!!o.store_negative, k == UP_NEGATIVE);
			ck_assert_int_eq(!!o.backoff, k == UP_RATE_LIMITED);
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
