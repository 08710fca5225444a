/*
 * The jobs route.  A request is checked (method, jobid, Authorization),
 * looked up in the cache and decided by policy_decide(); what it decides
 * is answered here, from the cache or a slot's memory, or the request
 * waits in the in-flight table (jobs_fetch.c) for the one upstream fetch
 * of its (jobid, token_id).  Every job answer gets its headers here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "cache.h"
#include "commit.h"
#include "config.h"
#include "gateway.h"
#include "hot.h"
#include "jobid.h"
#include "jobs.h"
#include "jobs_int.h"
#include "jobs_push.h"
#include "log.h"
#include "policy.h"
#include "prefer.h"
#include "proxy.h"
#include "reply.h"
#include "upstream.h"
#include "util.h"

#define SWEEP_INTERVAL_S	10
#define SWEEP_BATCH		500
#define SWEEP_BATCHES		20		/* at most per sweep */

/* Answers from the cache or the slot's memory, per the decision d. */
static void
answer_local(struct jobs *j, struct evhttp_request *req, const char *jobid,
    const struct policy_decision *d, const struct cache_job *job,
    struct evbuffer *jobbody, const struct cache_negative *neg,
    struct evbuffer *negbody, struct slot *s, struct reply_info *ri,
    int64_t now)
{
	struct proxy *px = j->px;
	struct answer a;
	char msg[64];

	memset(&a, 0, sizeof(a));
	a.age = -1;
	a.retry_after = d->retry_after;
	switch (d->action) {
	case ACT_HIT:
	case ACT_STALE:
		ri->cache = d->action == ACT_HIT ? "HIT" : "STALE";
		a.status = 200;
		a.body = evbuffer_pullup(jobbody, -1);
		a.len = evbuffer_get_length(jobbody);
		a.age = jobs_age_seconds(now, job->job_fetched_at);
		if (job->terminal) {
			a.etag = job->etag;
			a.jobid = jobid;
			a.retry_after = 0;
		}
		break;
	case ACT_HIT_NEGATIVE:
		ri->cache = "HIT";
		a.status = neg->status;
		a.body = evbuffer_pullup(negbody, -1);
		a.len = evbuffer_get_length(negbody);
		a.age = jobs_age_seconds(now, neg->fetched_at);
		break;
	case ACT_BACKOFF:
		ri->cache = "HIT";
		a.status = 429;
		if (s != NULL && s->backoff_body != NULL) {
			a.body = evbuffer_pullup(s->backoff_body, -1);
			a.len = evbuffer_get_length(s->backoff_body);
		}
		j->rate_limited++;
		break;
	case ACT_TOO_FAST:
		j->rate_limited++;
		snprintf(msg, sizeof(msg), "Polling too fast, retry in %lld s",
		    (long long)d->retry_after);
		jobs_add_header_int(evhttp_request_get_output_headers(req),
		    "Retry-After", d->retry_after);
		reply_error(px, req, 429, msg, ri);
		return;
	case ACT_OFFLINE_MISS:
		reply_error(px, req, 504, "Not in cache (offline)", ri);
		return;
	case ACT_FETCH:
		assert(!"ACT_FETCH is not local");
		return;
	}
	jobs_send_answer(px, req, &a, ri);
}

/*
 * A HIT answered by answer_local(): the next plain request for it is
 * answered from memory while it holds (hot.h).
 */
static void
keep_hot(struct jobs *j, const char *jobid, const char *token_id,
    const struct policy_decision *d, const struct policy_state *st,
    const struct cache_job *job, struct evbuffer *jobbody,
    const struct cache_negative *neg, struct evbuffer *negbody)
{
	struct hot_item it;

	memset(&it, 0, sizeof(it));
	it.status = 200;
	if (d->action == ACT_HIT && st->terminal) {
		it.etag = job->etag;
		it.fetched_at = job->job_fetched_at;
	} else if (d->action == ACT_HIT) {
		/* A snapshot within pending-interval (serve mode). */
		it.fetched_at = job->job_fetched_at;
		it.from = st->fetched_at;
		it.until = st->fetched_at + j->px->policy.pending_interval_ms;
		it.retry_after = 1;
	} else if (d->action == ACT_HIT_NEGATIVE) {
		it.status = neg->status;
		it.fetched_at = neg->fetched_at;
		it.until = neg->expires_at;
		jobbody = negbody;
	} else
		return;
	it.owner = job->owner;	/* "" unless cache_lookup_owned() read it */
	it.body = evbuffer_pullup(jobbody, -1);
	it.len = evbuffer_get_length(jobbody);
	hot_put(j->px->hot, jobid, token_id, &it);
}

/*
 * Holds req on the slot of (jobid, token_id) (made when there is none), a
 * cached job in jobbody: 0, or -1 when it cannot (req is not answered).
 */
static int
hold(struct jobs *j, struct slot **sp, struct evhttp_request *req,
    int64_t started, struct member *m, const struct push_ask *ask,
    const char *jobid, const char *token_id, const char *token,
    size_t token_len, const struct cache_job *job, struct evbuffer *jobbody,
    int64_t next_ms)
{
	struct slot *s = *sp;
	int rc;

	if (s == NULL && (j->nslots >= SLOTS_MAX / 2 ||
	    (s = *sp = jobs_slot_new(j, jobid, token_id)) == NULL))
		return -1;
	rc = j->events->hold(s, req, started, m, ask, job->status,
	    evbuffer_pullup(jobbody, -1), evbuffer_get_length(jobbody),
	    job->terminal, token, token_len, next_ms);
	if (rc == 0) {
		jobs_slot_release(s, util_now_ms()); /* a finished stream is over */
		*sp = NULL;
	}
	return rc;
}

void
jobs_handle(struct jobs *j, struct evhttp_request *req, const char *rest,
    int64_t started)
{
	struct proxy *px;
	struct evkeyvalq *in;
	struct policy_state st;
	struct policy_request rq;
	struct policy_decision d;
	struct cache_job job;
	struct cache_negative neg;
	struct evbuffer *jobbody = NULL, *negbody = NULL;
	struct reply_info ri;
	struct slot *s;
	struct member *m = NULL;
	const char *hdr, *token;
	char jobid[JOBID_MAX + 1], token_id[TOKEN_ID_LEN + 1];
	char fp[FINGERPRINT_LEN + 1];
	size_t token_len;
	int64_t now;
	struct push_ask ask;
	struct evkeyval *h;
	int rc, owned, vis, kept = 0;

	CHECK_OBJ(j, JOBS_MAGIC);
	px = j->px;
	memset(&ri, 0, sizeof(ri));
	ri.started = started;
	in = evhttp_request_get_input_headers(req);

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		break;
	default:
		reply_not_allowed(px, req, "GET, HEAD", &ri);
		return;
	}
	/*
	 * rest is "/<segment>"; a further '/' is part of the segment.  A raw
	 * '#' ended the path, cut off by evhttp as a fragment.
	 */
	if (rest[0] != '/' || jobid_decode(rest + 1, strlen(rest + 1), jobid) != 0 ||
	    evhttp_uri_get_fragment(evhttp_request_get_evhttp_uri(req)) != NULL) {
		reply_error(px, req, 400, "Invalid jobid", &ri);
		return;
	}
	now = util_now_ms();
	if (px->gateway != NULL) {
		/* A member's key; upstream and the cache see the held token. */
		if ((m = gateway_member(px->gateway, in, now)) == NULL) {
			reply_error(px, req, 401, "Unauthorized", &ri);
			return;
		}
		ri.token = m->tag;
		ri.member = m;
		token = gateway_token(px->gateway, &token_len);
		snprintf(token_id, sizeof(token_id), "%s",
		    gateway_token_id(px->gateway));
	} else {
		if (auth_parse(evhttp_find_header(in, "Authorization"), &token,
		    &token_len) != 0) {
			reply_error(px, req, 401, "Unauthorized", &ri);
			return;
		}
		auth_token_id(token, token_len, token_id);
		snprintf(fp, sizeof(fp), "%.*s", FINGERPRINT_LEN, token_id);
		ri.token = fp;
	}

	memset(&rq, 0, sizeof(rq));
	hdr = evhttp_find_header(in, "Cache-Control");
	rq.offline = px->cfg->offline ||
	    (hdr != NULL && util_list_has(hdr, "only-if-cached", 14));
	rq.no_cache = hdr != NULL && util_list_has(hdr, "no-cache", 8);

	memset(&st, 0, sizeof(st));
	if ((jobbody = evbuffer_new()) == NULL) {
		reply_error(px, req, 503, "Out of memory", &ri);
		goto done;
	}
	/* A member who sees only its own jobs learns the owner with the job. */
	owned = m != NULL && !team_may_see(m, NULL, px->cfg->team_shared);
	rc = (owned ? cache_lookup_owned : cache_lookup)(px->cache, jobid,
	    token_id, &job, jobbody);
	if (rc < 0)
		log_error("cache: lookup of %s failed", jobid);
	if (owned && (vis = rc == 1 && job.owner[0] != '\0' ?
	    team_may_see(m, job.owner, 0) :
	    gateway_may_see(px->gateway, m, jobid)) != 1) {
		if (vis < 0)
			log_error("cache: owner lookup of %s failed", jobid);
		reply_error(px, req, vis < 0 ? 503 : 404, vis < 0 ?
		    "Cache unavailable" : "Job not found", &ri);
		goto done;
	}
	if (rc == 1) {
		st.granted = 1;
		st.terminal = job.terminal;
		st.fetched_at = job.grant_fetched_at;
	}
	/* Terminal hits are decided by the first query alone. */
	if (!(st.granted && st.terminal)) {
		if ((negbody = evbuffer_new()) == NULL) {
			reply_error(px, req, 503, "Out of memory", &ri);
			goto done;
		}
		rc = cache_lookup_negative(px->cache, jobid, token_id, &neg,
		    negbody);
		if (rc < 0)
			log_error("cache: negative lookup of %s failed", jobid);
		if (rc == 1) {
			st.negative = 1;
			st.negative_expires = neg.expires_at;
		}
	}
	if ((s = jobs_slot_find(j, jobid, token_id)) != NULL) {
		st.backoff_until = s->backoff_until;
		st.hold_until = s->hold_until;
		/*
		 * Fetched within the interval but not stored: the answer the
		 * slot keeps stands for the row that could not be written.
		 */
		if (!(st.granted && st.terminal) &&
		    jobs_slot_kept_job(s, now, &job, jobbody) == 1) {
			st.granted = 1;
			st.terminal = 0;
			st.fetched_at = job.grant_fetched_at;
			kept = 1;
		} else if (negbody != NULL &&
		    jobs_slot_kept_negative(s, now, &neg, negbody) == 1) {
			st.negative = 1;
			st.negative_expires = neg.expires_at;
			kept = 1;
		}
	}

	/* SPEC 11: wait for a change instead of polling (not offline). */
	memset(&ask, 0, sizeof(ask));
	if (!rq.offline && !reply_draining(px)) {
		/* Several Prefer headers are one list (RFC 9110 5.3). */
		TAILQ_FOREACH(h, in, next)
			if (strcasecmp(h->key, "Prefer") == 0 &&
			    (ask.wait_s = prefer_wait(h->value,
			    px->cfg->max_wait)) >= 0)
				break;
		if (ask.wait_s < 0)
			ask.wait_s = 0;
		ask.prefer = ask.wait_s > 0;
		if (!ask.prefer)
			ask.wait_s = prefer_query_wait(evhttp_uri_get_query(
			    evhttp_request_get_evhttp_uri(req)), px->cfg->max_wait);
		ask.stream = evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
		    prefer_event_stream(evhttp_find_header(in, "Accept"));
	}

	policy_decide(&px->policy, &st, &rq, now, &d);
	/* A cached job, fresh or not: a wait or a stream is held on it. */
	if ((d.action == ACT_HIT || d.action == ACT_STALE ||
	    d.action == ACT_TOO_FAST) && st.granted &&
	    (ask.stream || (ask.wait_s > 0 && !st.terminal)) &&
	    hold(j, &s, req, started, m, &ask, jobid, token_id, token,
	    token_len, &job, jobbody,
	    st.fetched_at + px->policy.pending_interval_ms) == 0)
		goto done;
	if (d.action != ACT_FETCH) {
		/* An answer from memory says that it is not in the cache. */
		ri.stored = kept ? -1 : 0;
		answer_local(j, req, jobid, &d, &job, jobbody, &neg, negbody, s,
		    &ri, now);
		if (!kept)
			keep_hot(j, jobid, token_id, &d, &st, &job, jobbody,
			    &neg, negbody);
		if (s != NULL)
			jobs_slot_release(s, now);
		goto done;
	}

	if (s == NULL && j->nslots >= SLOTS_MAX) {
		log_warn("in-flight table full (%zu entries)", j->nslots);
		reply_error(px, req, 503, "Too many requests in flight", &ri);
		goto done;
	}
	if (s == NULL && (s = jobs_slot_new(j, jobid, token_id)) == NULL) {
		reply_error(px, req, 503, "Out of memory", &ri);
		goto done;
	}
	if (jobs_slot_in_flight(s))
		j->coalesced++;
	else if (jobs_slot_fetch(s, token, token_len, m) != 0) {
		ri.cache = "MISS";
		reply_error(px, req, 502,
		    "Upstream unreachable: cannot start request", &ri);
		jobs_slot_release(s, now);
		goto done;
	}
	if ((ask.wait_s > 0 || ask.stream) &&
	    jobs_push_arm(s, token, token_len) != 0)
		memset(&ask, 0, sizeof(ask));	/* out of memory: a plain poll */
	if (jobs_slot_wait(s, req, started, m, &ask) != 0) {
		reply_error(px, req, 503, "Out of memory", &ri);
		/* (A record waiting for its commit has no fetch to cancel.) */
		if (TAILQ_EMPTY(&s->waiters) && !jobs_slot_busy(s, now) &&
		    s->fetch != NULL) {
			upstream_cancel(s->fetch);
			s->fetch = NULL;
		}
		jobs_slot_release(s, now);
	}
done:
	if (jobbody != NULL)
		evbuffer_free(jobbody);
	if (negbody != NULL)
		evbuffer_free(negbody);
}

/* Timer: drops expired back-off slots and expired negative entries. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *j = arg;
	int64_t now = util_now_ms();
	int i, n;

	(void)fd;
	(void)what;
	CHECK_OBJ(j, JOBS_MAGIC);
	jobs_slots_sweep(j, now);
	/* Small batches, so that the loop is never held long. */
	for (i = 0; i < SWEEP_BATCHES; i++) {
		if ((n = cache_expire_negatives(j->px->cache, now,
		    SWEEP_BATCH)) < 0)
			log_at(cache_failure_level(j->px->cache),
			    "cache: cannot drop expired negative entries");
		if (n < SWEEP_BATCH)
			break;
	}
}

struct jobs *
jobs_new(struct proxy *px)
{
	struct timeval tv = { SWEEP_INTERVAL_S, 0 };
	struct jobs *j;

	CHECK_OBJ(px, PROXY_MAGIC);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->magic = JOBS_MAGIC;
	j->px = px;
	j->events = &jobs_push_events;
	j->sweep = event_new(px->base, -1, EV_PERSIST, sweep_cb, j);
	if (j->sweep == NULL || event_add(j->sweep, &tv) != 0 ||
	    (j->commit = commit_new(px->base, px->cache)) == NULL) {
		jobs_free(j);
		return NULL;
	}
	return j;
}

void
jobs_free(struct jobs *j)
{
	struct evbuffer *body;
	struct answer a;

	if (j == NULL)
		return;
	CHECK_OBJ(j, JOBS_MAGIC);
	memset(&a, 0, sizeof(a));
	a.status = 503;
	a.age = -1;
	if ((body = evbuffer_new()) != NULL &&
	    reply_error_body(body, "Shutting down") == 0) {
		a.body = evbuffer_pullup(body, -1);
		a.len = evbuffer_get_length(body);
	}
	commit_free(j->commit);		/* what waits for it is answered */
	jobs_slots_free(j, &a);
	if (body != NULL)
		evbuffer_free(body);
	if (j->sweep != NULL)
		event_free(j->sweep);
	memset(j, 0, sizeof(*j));
	free(j);
}

void
jobs_drain(struct jobs *j)
{
	CHECK_OBJ(j, JOBS_MAGIC);
	jobs_push_drain(j);
}

void
jobs_get_stats(const struct jobs *j, struct jobs_stats *out)
{
	CHECK_OBJ(j, JOBS_MAGIC);
	out->upstream_calls = j->upstream_calls;
	out->coalesced = j->coalesced;
	out->rate_limited = j->rate_limited;
	out->waiting = j->nheld;
	out->watched = j->nwatched;
}
