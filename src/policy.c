/*
 * Pure decision rules (SPEC 2.3 and 2.4).  The order of the checks in
 * policy_decide() is the order of the spec: offline first, then terminal
 * hits, negative entries, the pending interval, 429 back-off (and the
 * hold after an upstream failure), and finally a fetch.  Tests drive these functions as tables.
 */
#include <string.h>

#include "policy.h"

/* Whole seconds until `until`, rounded up, at least 1. */
static int64_t
seconds_until(int64_t until, int64_t now)
{
	int64_t s = (until - now + 999) / 1000;

	return s < 1 ? 1 : s;
}

void
policy_decide(const struct policy_config *cfg, const struct policy_state *st,
    const struct policy_request *rq, int64_t now, struct policy_decision *d)
{
	int negative = st->negative && now < st->negative_expires;
	/* A fetch "in the future" (the clock stepped back) is not fresh. */
	int fresh = st->granted && now >= st->fetched_at &&
	    now - st->fetched_at < cfg->pending_interval_ms;
	int backoff = st->backoff_until > now;
	int hold = st->granted && st->hold_until > now;

	memset(d, 0, sizeof(*d));
	if (rq->offline) {
		if (st->granted && st->terminal)
			d->action = ACT_HIT;
		else if (negative)
			d->action = ACT_HIT_NEGATIVE;
		else if (st->granted)
			d->action = ACT_STALE;
		else
			d->action = ACT_OFFLINE_MISS;
		return;
	}
	if (st->granted && st->terminal) {
		/* no-cache renews a finished job, once per interval. */
		if (rq->no_cache && !fresh && !backoff && !hold)
			d->action = ACT_FETCH;
		else
			d->action = ACT_HIT;
		return;
	}
	if (negative) {
		d->action = ACT_HIT_NEGATIVE;
		return;
	}
	if (fresh) {
		d->retry_after = seconds_until(st->fetched_at +
		    cfg->pending_interval_ms, now);
		d->action = cfg->pending_mode == PENDING_SERVE ?
		    ACT_HIT : ACT_TOO_FAST;
		return;
	}
	if (backoff) {
		d->retry_after = seconds_until(st->backoff_until, now);
		d->action = st->granted ? ACT_STALE : ACT_BACKOFF;
		return;
	}
	/* Upstream failed this pair lately: the snapshot, once per interval. */
	if (hold) {
		d->retry_after = seconds_until(st->hold_until, now);
		d->action = ACT_STALE;
		return;
	}
	d->action = ACT_FETCH;
}

enum policy_upstream
policy_classify(long status, int is_record)
{
	if (status == 200)
		return is_record ? POLICY_UP_JOB : POLICY_UP_BAD_RECORD;
	if (status == 400 || status == 403 || status == 404)
		return POLICY_UP_NEGATIVE;
	if (status == 401)
		return POLICY_UP_UNAUTHORIZED;
	if (status == 429)
		return POLICY_UP_RATE_LIMITED;
	if (status >= 500 && status <= 599 && status != 596)
		return POLICY_UP_SERVER_ERROR;
	/* 596, other 4xx, and anything odd (1xx, 2xx, 3xx): relay as is. */
	return POLICY_UP_CLIENT_ERROR;
}

void
policy_answer(enum policy_upstream kind, long status, int has_snapshot,
    struct policy_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->body = POLICY_BODY_UPSTREAM;
	switch (kind) {
	case POLICY_UP_JOB:
		o->store_job = 1;
		break;
	case POLICY_UP_BAD_RECORD:
		o->body = POLICY_BODY_INVALID_RECORD;
		break;
	case POLICY_UP_TOO_LARGE:
		o->body = POLICY_BODY_TOO_LARGE;
		break;
	case POLICY_UP_NEGATIVE:
		o->store_negative = 1;
		o->revoke_grant = status != 400;
		break;
	case POLICY_UP_UNAUTHORIZED:
		o->revoke_grant = 1;
		break;
	case POLICY_UP_RATE_LIMITED:
		o->backoff = 1;
		break;
	case POLICY_UP_CLIENT_ERROR:
		break;
	case POLICY_UP_SERVER_ERROR:
		if (has_snapshot)
			o->body = POLICY_BODY_SNAPSHOT;
		break;
	case POLICY_UP_UNREACHABLE:
		o->body = has_snapshot ? POLICY_BODY_SNAPSHOT : POLICY_BODY_UNREACHABLE;
		break;
	case POLICY_UP_TIMEOUT:
		o->body = has_snapshot ? POLICY_BODY_SNAPSHOT : POLICY_BODY_TIMEOUT;
		break;
	}
}
