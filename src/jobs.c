/*
 * The jobs route.  A request is checked (method, jobid, Authorization),
 * looked up in the cache and decided by policy_decide(); a fetch goes
 * through a slot of the in-flight table keyed by (jobid, token_id), so that
 * concurrent misses wait for one upstream call.  The slot also remembers
 * upstream's 429 until its Retry-After, and a failed fetch of a cached job
 * for one pending-interval.  Answers to waiters are built from one answer
 * after the cache has committed what it keeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "jobid.h"
#include "jobs.h"
#include "log.h"
#include "media.h"
#include "media_rewrite.h"
#include "metrics.h"
#include "policy.h"
#include "proxy.h"
#include "record.h"
#include "reply.h"
#include "upstream.h"
#include "util.h"

#define JOBS_MAGIC		0x4a4f4253u
#define SLOT_MAGIC		0x534c4f54u
#define WAITER_MAGIC		0x57414954u

#define SLOT_BUCKETS		4096		/* power of two */
#define SLOTS_MAX		100000		/* fetches in flight + remembered failures */
#define BACKOFF_BODY_MAX	16384
#define BACKOFF_MAX_S		(86400 * 7)	/* longest Retry-After honoured */
#define SWEEP_INTERVAL_S	10
#define SWEEP_BATCH		500
#define SWEEP_BATCHES		20		/* at most per sweep */
#define SUBMIT_GRACE_MS		60000		/* a new job's 404 is not kept */

/* One request waiting for a fetch. */
struct waiter {
	unsigned		 magic;
	struct slot		*slot;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct client_watch	*watch;		/* owned: the client's hang-up */
	int64_t			 started;
	TAILQ_ENTRY(waiter)	 entry;
};

/* What is in flight, or remembered, for one (jobid, token). */
struct slot {
	unsigned		 magic;
	struct jobs		*jobs;		/* borrowed */
	char			 jobid[JOBID_MAX + 1];
	char			 token_id[TOKEN_ID_LEN + 1];
	char			 fp[FINGERPRINT_LEN + 1];
	struct upstream_request	*fetch;		/* owned while in flight */
	TAILQ_HEAD(, waiter)	 waiters;
	int64_t			 backoff_until;	/* upstream's 429: wait until (ms) */
	int64_t			 hold_until;	/* upstream failing: wait until (ms) */
	struct evbuffer		*backoff_body;	/* owned, upstream's 429 body */
	struct slot		*next;		/* bucket chain */
};

struct jobs {
	unsigned		 magic;
	struct proxy		*px;		/* borrowed */
	struct slot		*buckets[SLOT_BUCKETS];
	size_t			 nslots;
	struct event		*sweep;		/* owned: housekeeping timer */
	struct jobs_stats	 stats;
};

/* An answer, local or from a fetch, before the reply headers are added. */
struct answer {
	int			 status;
	const unsigned char	*body;		/* borrowed, copied when sent */
	size_t			 len;
	const char		*content_type;	/* NULL: JSON */
	const char		*etag;		/* terminal 200s, else NULL */
	const char		*jobid;		/* with etag: media links may change */
	int64_t			 age;		/* seconds, -1: no Age */
	int64_t			 retry_after;	/* seconds, 0: none */
};

static const char	*json_ct = "application/json; charset=utf-8";

/* FNV-1a over jobid and token_id, for the bucket index. */
static size_t
slot_hash(const char *jobid, const char *token_id)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = jobid; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (p = token_id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h & (SLOT_BUCKETS - 1);
}

static struct slot *
slot_find(struct jobs *j, const char *jobid, const char *token_id)
{
	struct slot *s;

	for (s = j->buckets[slot_hash(jobid, token_id)]; s != NULL; s = s->next)
		if (strcmp(s->jobid, jobid) == 0 &&
		    strcmp(s->token_id, token_id) == 0)
			return s;
	return NULL;
}

static struct slot *
slot_new(struct jobs *j, const char *jobid, const char *token_id)
{
	struct slot *s;
	size_t b;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->magic = SLOT_MAGIC;
	s->jobs = j;
	snprintf(s->jobid, sizeof(s->jobid), "%s", jobid);
	snprintf(s->token_id, sizeof(s->token_id), "%s", token_id);
	snprintf(s->fp, sizeof(s->fp), "%.*s", FINGERPRINT_LEN, token_id);
	TAILQ_INIT(&s->waiters);
	b = slot_hash(jobid, token_id);
	s->next = j->buckets[b];
	j->buckets[b] = s;
	j->nslots++;
	return s;
}

/* Unlinks and frees s; it must have no fetch and no waiters. */
static void
slot_free(struct slot *s)
{
	struct jobs *j = s->jobs;
	struct slot **pp;

	CHECK_OBJ(s, SLOT_MAGIC);
	assert(s->fetch == NULL && TAILQ_EMPTY(&s->waiters));
	for (pp = &j->buckets[slot_hash(s->jobid, s->token_id)]; *pp != s;
	    pp = &(*pp)->next)
		assert(*pp != NULL);
	*pp = s->next;
	j->nslots--;
	if (s->backoff_body != NULL)
		evbuffer_free(s->backoff_body);
	memset(s, 0, sizeof(*s));
	free(s);
}

/* Frees s when nothing is in flight and no back-off is worth keeping. */
static void
slot_release(struct slot *s, int64_t now)
{
	if (s->fetch == NULL && TAILQ_EMPTY(&s->waiters) &&
	    s->backoff_until <= now && s->hold_until <= now)
		slot_free(s);
}

/* Whether a Cache-Control value holds the directive name (no argument). */
static int
has_directive(const char *value, const char *name)
{
	size_t n = strlen(name), len;
	const char *v;

	while ((v = util_list_next(&value, &len)) != NULL)
		if (len == n && strncasecmp(v, name, n) == 0)
			return 1;
	return 0;
}

static void
add_header_int(struct evkeyvalq *h, const char *key, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	evhttp_add_header(h, key, buf);
}

static int64_t
age_seconds(int64_t now, int64_t fetched_at)
{
	return now > fetched_at ? (now - fetched_at) / 1000 : 0;
}

/*
 * Sends answer a to req (its body copied), with the headers a job answer
 * carries; a 200 with an ETag that If-None-Match matches becomes a 304.
 */
static void
send_answer(struct proxy *px, struct evhttp_request *req,
    const struct answer *a, const struct reply_info *ri)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body, *linked = NULL;
	const char *inm, *etag = a->etag;
	const unsigned char *bytes = a->body;
	size_t len = a->len;
	char etag2[ETAG_LEN + 1];
	int status = a->status;

	/* --rewrite-media-urls: a finished job links to its mirrored media. */
	if (etag != NULL && a->jobid != NULL && px->media != NULL &&
	    config_rewrites_media(px->cfg) && status == 200 &&
	    (linked = evbuffer_new()) != NULL) {
		if (media_rewrite(px->media, a->jobid, etag, linked,
		    etag2) == 1) {
			bytes = evbuffer_pullup(linked, -1);
			len = evbuffer_get_length(linked);
			etag = etag2;
		}
	}
	evhttp_add_header(h, "Content-Type",
	    a->content_type != NULL ? a->content_type : json_ct);
	if (a->age >= 0)
		add_header_int(h, "Age", a->age);
	if (a->retry_after > 0)
		add_header_int(h, "Retry-After", a->retry_after);
	if (etag != NULL) {
		evhttp_add_header(h, "ETag", etag);
		inm = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "If-None-Match");
		if (status == 200 && inm != NULL && util_etag_listed(inm, etag))
			status = 304;
	}
	if ((body = evbuffer_new()) != NULL && len > 0)
		evbuffer_add(body, bytes, len);
	reply_send(px, req, status, body, ri);
	if (body != NULL)
		evbuffer_free(body);
	if (linked != NULL)
		evbuffer_free(linked);
}

/* Stops watching w's client: it is about to be answered. */
static void
waiter_unhook(struct waiter *w)
{
	reply_unwatch_client(w->watch);
	w->watch = NULL;
}

/* Takes w off its slot and frees it; the request is no longer ours. */
static void
waiter_free(struct waiter *w)
{
	struct proxy *px = w->slot->jobs->px;

	TAILQ_REMOVE(&w->slot->waiters, w, entry);
	memset(w, 0, sizeof(*w));
	free(w);
	reply_request_done(px);
}

/* Answers one waiter with a (for the cache result `cache`), frees it. */
static void
waiter_answer(struct waiter *w, const struct answer *a, const char *cache,
    int stored, int upstream_status)
{
	struct slot *s = w->slot;
	struct reply_info ri;

	CHECK_OBJ(w, WAITER_MAGIC);
	waiter_unhook(w);
	memset(&ri, 0, sizeof(ri));
	ri.started = w->started;
	ri.cache = cache;
	ri.stored = stored;
	ri.upstream_status = upstream_status;
	ri.token = s->fp;
	send_answer(s->jobs->px, w->req, a, &ri);
	waiter_free(w);
}

/*
 * The client of a waiting request went away before its answer: log it as
 * 499, drop the waiter, and cancel the fetch when nobody else waits.
 */
static void
waiter_abandon(struct waiter *w)
{
	struct slot *s = w->slot;
	struct reply_info ri;

	memset(&ri, 0, sizeof(ri));
	ri.started = w->started;
	ri.token = s->fp;
	reply_log(s->jobs->px, w->req, 499, &ri);
	waiter_free(w);
	if (TAILQ_EMPTY(&s->waiters) && s->fetch != NULL) {
		upstream_cancel(s->fetch);
		s->fetch = NULL;
	}
	slot_release(s, util_now_ms());
}

/* The client of a waiting request hung up (the watch frees the request). */
static void
waiter_gone(void *arg)
{
	struct waiter *w = arg;

	CHECK_OBJ(w, WAITER_MAGIC);
	w->watch = NULL;
	waiter_abandon(w);
}

/* Keeps upstream's 429 for the slot until Retry-After (or one interval). */
static void
slot_backoff(struct slot *s, const struct upstream_result *res, int64_t now)
{
	struct jobs *j = s->jobs;
	int64_t secs = res->retry_after >= 0 ? res->retry_after :
	    j->px->policy.pending_interval_ms / 1000;

	/* Half the table stays free for fetches, whatever 429s come. */
	if (j->nslots >= SLOTS_MAX / 2) {
		log_warn("in-flight table half full: not keeping a 429 for %s",
		    s->jobid);
		return;
	}
	if (secs < 1)
		secs = 1;
	if (secs > BACKOFF_MAX_S)
		secs = BACKOFF_MAX_S;
	s->backoff_until = now + secs * 1000;
	if (s->backoff_body == NULL)
		s->backoff_body = evbuffer_new();
	if (s->backoff_body != NULL) {
		evbuffer_drain(s->backoff_body, evbuffer_get_length(s->backoff_body));
		if (res->len <= BACKOFF_BODY_MAX)
			evbuffer_add(s->backoff_body, res->body, res->len);
	}
}

/* Which rule of SPEC 2.4 an upstream result falls under; fills rec for 200s. */
static enum policy_upstream
classify(struct proxy *px, const struct upstream_result *res,
    struct record *rec)
{
	switch (res->error) {
	case UPSTREAM_OK:
		return policy_classify(res->status, res->status == 200 &&
		    cache_parse_record(px->cache, res->body, res->len, rec) == 0);
	case UPSTREAM_TOO_LARGE:
		return POLICY_UP_TOO_LARGE;
	case UPSTREAM_TIMEOUT:
		return POLICY_UP_TIMEOUT;
	case UPSTREAM_UNREACHABLE:
		break;
	}
	return POLICY_UP_UNREACHABLE;
}

/*
 * Carries out what policy_answer() said to keep for slot s; sets
 * *stored when something was committed.  etag is the body's, or NULL.
 */
static void
keep_outcome(struct slot *s, const struct policy_outcome *po,
    const struct upstream_result *res, const struct record *rec,
    const char *etag, int64_t now, int *stored)
{
	struct proxy *px = s->jobs->px;
	int64_t submitted = 0;

	*stored = 0;
	if (po->store_job) {
		if (cache_store_job(px->cache, s->jobid, s->token_id, rec, etag,
		    res->body, res->len, now) == 0) {
			*stored = 1;
			if (px->media != NULL && strcmp(rec->status,
			    "completed") == 0)
				media_job_stored(px->media, s->jobid);
		} else
			log_error("cache: cannot store job %s", s->jobid);
	}
	/*
	 * A job this token submitted through us a moment ago exists: a 404
	 * from an upstream still catching up is not repeated for negative-ttl.
	 */
	if (po->store_negative && px->policy.negative_ttl_ms > 0 &&
	    res->status == 404 && cache_submitted_by(px->cache, s->jobid,
	    s->token_id, &submitted) == 1 && now - submitted < SUBMIT_GRACE_MS)
		log_info("job %s: upstream said 404 to the token that just"
		    " submitted it; not remembered", s->jobid);
	else if (po->store_negative && px->policy.negative_ttl_ms > 0) {
		if (cache_store_negative(px->cache, s->jobid, s->token_id,
		    (int)res->status, res->body, res->len, now,
		    now + px->policy.negative_ttl_ms) == 0)
			*stored = 1;
		else
			log_error("cache: cannot store negative entry for %s",
			    s->jobid);
	}
	if (po->revoke_grant && cache_revoke(px->cache, s->jobid,
	    s->token_id) != 0)
		log_error("cache: cannot revoke grant for %s", s->jobid);
	if (po->backoff)
		slot_backoff(s, res, now);
}

/* upstream done_cb: runs once per fetch; answers every waiter of the slot. */
static void
fetch_done(const struct upstream_result *res, void *arg)
{
	struct slot *s = arg;
	struct proxy *px;
	struct policy_outcome po;
	struct answer a;
	struct record rec;
	struct cache_job snap;
	struct evbuffer *snapbody = NULL, *errbody = NULL;
	enum policy_upstream kind;
	const char *cache = "MISS", *err = NULL;
	char etag[ETAG_LEN + 1], msg[512];
	int64_t now = util_now_ms();
	int has_snap = 0, stored;

	CHECK_OBJ(s, SLOT_MAGIC);
	px = s->jobs->px;
	s->fetch = NULL;
	metrics_upstream_result(px->metrics, ROUTE_JOBS, res);
	memset(&rec, 0, sizeof(rec));
	kind = classify(px, res, &rec);
	if (kind == POLICY_UP_SERVER_ERROR || kind == POLICY_UP_UNREACHABLE ||
	    kind == POLICY_UP_TIMEOUT) {
		if ((snapbody = evbuffer_new()) != NULL)
			has_snap = cache_lookup(px->cache, s->jobid, s->token_id,
			    &snap, snapbody) == 1;
		/* Upstream is failing: one attempt per interval is enough. */
		if (has_snap)
			s->hold_until = now + px->policy.pending_interval_ms;
	}
	policy_answer(kind, res->status, has_snap, &po);
	if (kind == POLICY_UP_JOB && rec.terminal)
		record_etag(res->body, res->len, etag);
	keep_outcome(s, &po, res, &rec, kind == POLICY_UP_JOB && rec.terminal ?
	    etag : NULL, now, &stored);

	memset(&a, 0, sizeof(a));
	a.status = (int)res->status;
	a.body = res->body;
	a.len = res->len;
	a.age = -1;
	a.etag = kind == POLICY_UP_JOB && rec.terminal ? etag : NULL;
	a.jobid = s->jobid;
	if (po.backoff && s->backoff_until > now)
		a.retry_after = (s->backoff_until - now + 999) / 1000;
	/* Job records and negative entries are JSON; the rest keeps its type. */
	if (kind != POLICY_UP_JOB && kind != POLICY_UP_NEGATIVE)
		a.content_type = res->content_type;
	switch (po.body) {
	case POLICY_BODY_UPSTREAM:
		break;
	case POLICY_BODY_SNAPSHOT:
		cache = "STALE";
		a.status = 200;
		a.body = evbuffer_pullup(snapbody, -1);
		a.len = evbuffer_get_length(snapbody);
		a.content_type = NULL;
		a.age = age_seconds(now, snap.job_fetched_at);
		a.etag = snap.terminal ? snap.etag : NULL;
		break;
	case POLICY_BODY_INVALID_RECORD:
		err = "Upstream sent an invalid job record";
		break;
	case POLICY_BODY_TOO_LARGE:
		err = "Upstream answer too large";
		break;
	case POLICY_BODY_UNREACHABLE:
		snprintf(msg, sizeof(msg), "Upstream unreachable: %s", res->reason);
		err = msg;
		break;
	case POLICY_BODY_TIMEOUT:
		err = "Upstream timed out";
		break;
	}
	if (err != NULL) {
		a.status = po.body == POLICY_BODY_TIMEOUT ? 504 : 502;
		a.content_type = NULL;
		if ((errbody = evbuffer_new()) != NULL)
			reply_error_body(errbody, err);
		a.body = errbody ? evbuffer_pullup(errbody, -1) : NULL;
		a.len = errbody ? evbuffer_get_length(errbody) : 0;
	}
	if (res->error != UPSTREAM_OK)
		log_warn("upstream: %s for %s (token %s) after %lldms",
		    res->reason, s->jobid, s->fp, (long long)res->elapsed_ms);

	while (!TAILQ_EMPTY(&s->waiters))
		waiter_answer(TAILQ_FIRST(&s->waiters), &a, cache, stored,
		    res->error == UPSTREAM_OK ? (int)res->status : 0);
	if (snapbody != NULL)
		evbuffer_free(snapbody);
	if (errbody != NULL)
		evbuffer_free(errbody);
	slot_release(s, now);
}

/* Starts the fetch of slot s; -1 when it cannot be started. */
static int
slot_fetch(struct slot *s, const char *token, size_t token_len)
{
	struct jobs *j = s->jobs;
	char enc[JOBID_ENC_MAX], url[CONFIG_URL_MAX + sizeof("/v1/luma/jobs/") +
	    JOBID_ENC_MAX];

	jobid_encode(s->jobid, enc);
	snprintf(url, sizeof(url), "%s/v1/luma/jobs/%s", j->px->cfg->upstream,
	    enc);
	s->fetch = upstream_get(j->px->up, url, token, token_len, fetch_done, s);
	if (s->fetch == NULL)
		return -1;
	j->stats.upstream_calls++;
	return 0;
}

/* Queues req on slot s (joining or starting its fetch); -1 on failure. */
static int
slot_wait(struct slot *s, struct evhttp_request *req, int64_t started)
{
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->magic = WAITER_MAGIC;
	w->slot = s;
	w->req = req;
	w->started = started;
	TAILQ_INSERT_TAIL(&s->waiters, w, entry);
	w->watch = reply_watch_client(s->jobs->px, req, waiter_gone, w);
	reply_request_started(s->jobs->px);
	return 0;
}

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
		a.age = age_seconds(now, job->job_fetched_at);
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
		a.age = age_seconds(now, neg->fetched_at);
		break;
	case ACT_BACKOFF:
		ri->cache = "HIT";
		a.status = 429;
		if (s != NULL && s->backoff_body != NULL) {
			a.body = evbuffer_pullup(s->backoff_body, -1);
			a.len = evbuffer_get_length(s->backoff_body);
		}
		j->stats.rate_limited++;
		break;
	case ACT_TOO_FAST:
		j->stats.rate_limited++;
		snprintf(msg, sizeof(msg), "Polling too fast, retry in %lld s",
		    (long long)d->retry_after);
		add_header_int(evhttp_request_get_output_headers(req),
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
	send_answer(px, req, &a, ri);
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
	const char *hdr, *token;
	char jobid[JOBID_MAX + 1], token_id[TOKEN_ID_LEN + 1];
	char fp[FINGERPRINT_LEN + 1];
	size_t token_len;
	int64_t now;
	int rc;

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
	if (auth_parse(evhttp_find_header(in, "Authorization"), &token,
	    &token_len) != 0) {
		reply_error(px, req, 401, "Unauthorized", &ri);
		return;
	}
	auth_token_id(token, token_len, token_id);
	snprintf(fp, sizeof(fp), "%.*s", FINGERPRINT_LEN, token_id);
	ri.token = fp;

	memset(&rq, 0, sizeof(rq));
	hdr = evhttp_find_header(in, "Cache-Control");
	rq.offline = px->cfg->offline ||
	    (hdr != NULL && has_directive(hdr, "only-if-cached"));
	rq.no_cache = hdr != NULL && has_directive(hdr, "no-cache");

	now = util_now_ms();
	memset(&st, 0, sizeof(st));
	if ((jobbody = evbuffer_new()) == NULL) {
		reply_error(px, req, 503, "Out of memory", &ri);
		goto done;
	}
	rc = cache_lookup(px->cache, jobid, token_id, &job, jobbody);
	if (rc < 0)
		log_error("cache: lookup of %s failed", jobid);
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
	if ((s = slot_find(j, jobid, token_id)) != NULL) {
		st.backoff_until = s->backoff_until;
		st.hold_until = s->hold_until;
	}

	policy_decide(&px->policy, &st, &rq, now, &d);
	if (d.action != ACT_FETCH) {
		answer_local(j, req, jobid, &d, &job, jobbody, &neg, negbody, s,
		    &ri, now);
		if (s != NULL)
			slot_release(s, now);
		goto done;
	}

	if (s == NULL && j->nslots >= SLOTS_MAX) {
		log_warn("in-flight table full (%zu entries)", j->nslots);
		reply_error(px, req, 503, "Too many requests in flight", &ri);
		goto done;
	}
	if (s == NULL && (s = slot_new(j, jobid, token_id)) == NULL) {
		reply_error(px, req, 503, "Out of memory", &ri);
		goto done;
	}
	if (s->fetch != NULL)
		j->stats.coalesced++;
	else if (slot_fetch(s, token, token_len) != 0) {
		ri.cache = "MISS";
		reply_error(px, req, 502,
		    "Upstream unreachable: cannot start request", &ri);
		slot_release(s, now);
		goto done;
	}
	if (slot_wait(s, req, started) != 0) {
		reply_error(px, req, 503, "Out of memory", &ri);
		if (TAILQ_EMPTY(&s->waiters)) {
			upstream_cancel(s->fetch);
			s->fetch = NULL;
		}
		slot_release(s, now);
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
	struct slot *s, *next;
	int64_t now = util_now_ms();
	size_t b;
	int i, n;

	(void)fd;
	(void)what;
	CHECK_OBJ(j, JOBS_MAGIC);
	for (b = 0; b < SLOT_BUCKETS; b++)
		for (s = j->buckets[b]; s != NULL; s = next) {
			next = s->next;
			slot_release(s, now);
		}
	/* Small batches, so that the loop is never held long. */
	for (i = 0; i < SWEEP_BATCHES; i++) {
		if ((n = cache_expire_negatives(j->px->cache, now,
		    SWEEP_BATCH)) < 0)
			log_error("cache: cannot drop expired negative entries");
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
	j->sweep = event_new(px->base, -1, EV_PERSIST, sweep_cb, j);
	if (j->sweep == NULL || event_add(j->sweep, &tv) != 0) {
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
	struct slot *s;
	size_t b;

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
	for (b = 0; b < SLOT_BUCKETS; b++)
		while ((s = j->buckets[b]) != NULL) {
			if (s->fetch != NULL) {
				upstream_cancel(s->fetch);
				s->fetch = NULL;
			}
			while (!TAILQ_EMPTY(&s->waiters))
				waiter_answer(TAILQ_FIRST(&s->waiters), &a, NULL,
				    0, 0);
			s->backoff_until = s->hold_until = 0;
			slot_free(s);
		}
	if (body != NULL)
		evbuffer_free(body);
	if (j->sweep != NULL)
		event_free(j->sweep);
	memset(j, 0, sizeof(*j));
	free(j);
}

void
jobs_get_stats(const struct jobs *j, struct jobs_stats *out)
{
	CHECK_OBJ(j, JOBS_MAGIC);
	*out = j->stats;
}
