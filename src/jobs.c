/*
 * The jobs route.  A request is checked (method, jobid, Authorization),
 * looked up in the cache and decided by policy_decide(); a fetch goes
 * through a slot of the in-flight table keyed by (jobid, token_id), so that
 * concurrent misses wait for one upstream call.  The slot also remembers
 * upstream's 429 until its Retry-After.  Answers to waiters are built from
 * one outcome after the cache has committed what it keeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "jobid.h"
#include "jobs.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "record.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define JOBS_MAGIC		0x4a4f4253u
#define SLOT_MAGIC		0x534c4f54u
#define WAITER_MAGIC		0x57414954u

#define SLOT_BUCKETS		4096		/* power of two */
#define SLOTS_MAX		100000		/* slots kept for 429 back-off */
#define BACKOFF_BODY_MAX	16384
#define SWEEP_INTERVAL_S	10
#define SWEEP_BATCH		500

/* One request waiting for a fetch. */
struct waiter {
	unsigned		 magic;
	struct slot		*slot;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct event		*closed;	/* owned: EV_CLOSED on the socket */
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
	int64_t			 backoff_until;	/* ms; 0: none */
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

/* What a finished fetch answers to every waiter. */
struct outcome {
	int			 status;
	const unsigned char	*body;		/* borrowed */
	size_t			 len;
	const char		*content_type;	/* NULL: JSON */
	const char		*cache;		/* "MISS" or "STALE" */
	int			 stored;
	int			 upstream_status;
	const char		*etag;		/* terminal 200s, else NULL */
	int64_t			 age;		/* seconds, -1: no Age */
	int64_t			 retry_after;	/* seconds, -1: none */
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
	    s->backoff_until <= now)
		slot_free(s);
}

/* Whether a Cache-Control value holds the directive name (no argument). */
static int
has_directive(const char *value, const char *name)
{
	size_t n = strlen(name);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, name, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* Whether If-None-Match (weak comparison, RFC 9110 13.1.2) matches etag. */
static int
etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

static void
add_header_int(struct evkeyvalq *h, const char *key, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	evhttp_add_header(h, key, buf);
}

/*
 * Sends a 200 job body (or a 304 when If-None-Match matches a terminal
 * answer) with the headers every cached or fetched job answer carries.
 */
static void
reply_job(struct proxy *px, struct evhttp_request *req, int status,
    struct evbuffer *body, const char *etag, int64_t age, int64_t retry_after,
    const char *content_type, const struct reply_info *ri)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *inm;

	if (content_type != NULL)
		evhttp_add_header(h, "Content-Type", content_type);
	if (age >= 0)
		add_header_int(h, "Age", age);
	if (retry_after > 0)
		add_header_int(h, "Retry-After", retry_after);
	if (etag != NULL) {
		evhttp_add_header(h, "ETag", etag);
		inm = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "If-None-Match");
		if (status == 200 && inm != NULL && etag_matches(inm, etag))
			status = 304;
	}
	server_reply(px, req, status, body, ri);
}

static int64_t
age_seconds(int64_t now, int64_t fetched_at)
{
	return now > fetched_at ? (now - fetched_at) / 1000 : 0;
}

/* Unhooks w from its connection: no close callback, no close watch. */
static void
waiter_unhook(struct waiter *w)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(w->req);

	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (w->closed != NULL) {
		event_free(w->closed);
		w->closed = NULL;
	}
}

/*
 * The client of a waiting request went away before its answer: log it as
 * 499, drop the waiter, and cancel the fetch when nobody else waits.
 */
static void
waiter_abandon(struct waiter *w)
{
	struct slot *s = w->slot;
	struct jobs *j = s->jobs;
	struct reply_info ri;

	memset(&ri, 0, sizeof(ri));
	ri.started = w->started;
	ri.token = s->fp;
	server_log(w->req, 499, &ri);
	TAILQ_REMOVE(&s->waiters, w, entry);
	memset(w, 0, sizeof(*w));
	free(w);
	server_request_done(j->px);
	if (TAILQ_EMPTY(&s->waiters) && s->fetch != NULL) {
		upstream_cancel(s->fetch);
		s->fetch = NULL;
	}
	slot_release(s, util_now_ms());
}

/* closecb: evhttp is freeing the connection of a waiting request. */
static void
waiter_conn_freed(struct evhttp_connection *evcon, void *arg)
{
	struct waiter *w = arg;

	(void)evcon;
	CHECK_OBJ(w, WAITER_MAGIC);
	if (w->closed != NULL) {
		event_free(w->closed);
		w->closed = NULL;
	}
	/*
	 * An unanswered request whose connection failed has been detached
	 * from it, and is ours to free; otherwise evhttp frees it.
	 */
	if (evhttp_request_get_connection(w->req) == NULL)
		evhttp_request_free(w->req);
	waiter_abandon(w);
}

/* EV_CLOSED on the socket of a waiting request: the client hung up. */
static void
waiter_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct evhttp_connection *evcon;

	(void)fd;
	(void)what;
	CHECK_OBJ(w, WAITER_MAGIC);
	evcon = evhttp_request_get_connection(w->req);
	waiter_unhook(w);
	waiter_abandon(w);
	/* Frees the request too; nothing will be written to the dead socket. */
	if (evcon != NULL)
		evhttp_connection_free(evcon);
}

/* Answers one waiter with the outcome and frees it. */
static void
waiter_answer(struct waiter *w, const struct outcome *o)
{
	struct slot *s = w->slot;
	struct proxy *px = s->jobs->px;
	struct reply_info ri;
	struct evbuffer *body;

	CHECK_OBJ(w, WAITER_MAGIC);
	TAILQ_REMOVE(&s->waiters, w, entry);
	waiter_unhook(w);
	memset(&ri, 0, sizeof(ri));
	ri.started = w->started;
	ri.cache = o->cache;
	ri.stored = o->stored;
	ri.upstream_status = o->upstream_status;
	ri.token = s->fp;
	if ((body = evbuffer_new()) != NULL && o->len > 0)
		evbuffer_add(body, o->body, o->len);
	if (o->status == 200)
		reply_job(px, w->req, o->status, body, o->etag, o->age,
		    o->retry_after, o->content_type, &ri);
	else {
		struct evkeyvalq *h = evhttp_request_get_output_headers(w->req);

		if (o->content_type != NULL)
			evhttp_add_header(h, "Content-Type", o->content_type);
		if (o->retry_after >= 0)
			add_header_int(h, "Retry-After", o->retry_after);
		if (o->age >= 0)
			add_header_int(h, "Age", o->age);
		server_reply(px, w->req, o->status, body, &ri);
	}
	if (body != NULL)
		evbuffer_free(body);
	memset(w, 0, sizeof(*w));
	free(w);
	server_request_done(px);
}

/* Keeps upstream's 429 for the slot until Retry-After (or one interval). */
static void
slot_backoff(struct slot *s, const struct upstream_result *res, int64_t now)
{
	const struct policy_config *pc = &s->jobs->px->policy;
	int64_t secs = res->retry_after >= 0 ? res->retry_after :
	    pc->pending_interval_ms / 1000;

	if (secs < 1)
		secs = 1;
	s->backoff_until = now + secs * 1000;
	if (s->backoff_body == NULL)
		s->backoff_body = evbuffer_new();
	if (s->backoff_body != NULL) {
		evbuffer_drain(s->backoff_body, evbuffer_get_length(s->backoff_body));
		if (res->len <= BACKOFF_BODY_MAX)
			evbuffer_add(s->backoff_body, res->body, res->len);
	}
}

/* upstream done_cb: runs once per fetch; answers every waiter of the slot. */
static void
fetch_done(const struct upstream_result *res, void *arg)
{
	struct slot *s = arg;
	struct jobs *j;
	struct proxy *px;
	struct policy_outcome po;
	struct outcome o;
	struct record rec;
	struct cache_job snap;
	struct evbuffer *snapbody = NULL, *errbody = NULL;
	enum upstream_kind kind;
	char etag[ETAG_LEN + 1], msg[512];
	int64_t now = util_now_ms();
	int is_record = 0, has_snap = 0;

	CHECK_OBJ(s, SLOT_MAGIC);
	j = s->jobs;
	px = j->px;
	s->fetch = NULL;

	switch (res->error) {
	case UPSTREAM_OK:
		if (res->status == 200)
			is_record = record_parse(px->parser, res->body,
			    res->len, &rec) == 0;
		kind = policy_classify(res->status, is_record);
		break;
	case UPSTREAM_TOO_LARGE:
		kind = UP_TOO_LARGE;
		break;
	case UPSTREAM_TIMEOUT:
		kind = UP_TIMEOUT;
		break;
	case UPSTREAM_UNREACHABLE:
	default:
		kind = UP_UNREACHABLE;
		break;
	}
	if (kind == UP_SERVER_ERROR || kind == UP_UNREACHABLE ||
	    kind == UP_TIMEOUT) {
		if ((snapbody = evbuffer_new()) != NULL)
			has_snap = cache_lookup(px->cache, s->jobid, s->token_id,
			    &snap, snapbody) == 1;
	}
	policy_answer(kind, res->status, has_snap, &po);

	memset(&o, 0, sizeof(o));
	o.status = (int)res->status;
	o.body = res->body;
	o.len = res->len;
	o.cache = "MISS";
	o.upstream_status = res->error == UPSTREAM_OK ? (int)res->status : 0;
	o.age = -1;
	o.retry_after = -1;
	o.content_type = json_ct;

	if (po.store_job) {
		if (cache_store_job(px->cache, s->jobid, s->token_id, &rec,
		    res->body, res->len, now) == 0)
			o.stored = 1;
		else
			log_error("cache: cannot store job %s", s->jobid);
		if (rec.terminal) {
			record_etag(res->body, res->len, etag);
			o.etag = etag;
		}
	}
	if (po.store_negative && px->policy.negative_ttl_ms > 0) {
		if (cache_store_negative(px->cache, s->jobid, s->token_id,
		    (int)res->status, res->body, res->len, now,
		    now + px->policy.negative_ttl_ms) == 0)
			o.stored = 1;
		else
			log_error("cache: cannot store negative entry for %s",
			    s->jobid);
	}
	if (po.revoke_grant && cache_revoke(px->cache, s->jobid,
	    s->token_id) != 0)
		log_error("cache: cannot revoke grant for %s", s->jobid);
	if (po.backoff) {
		slot_backoff(s, res, now);
		o.retry_after = (s->backoff_until - now) / 1000;
	}

	switch (po.body) {
	case BODY_UPSTREAM:
		if (kind != UP_JOB && kind != UP_NEGATIVE &&
		    res->content_type != NULL)
			o.content_type = res->content_type;
		break;
	case BODY_SNAPSHOT:
		o.status = 200;
		o.body = evbuffer_pullup(snapbody, -1);
		o.len = evbuffer_get_length(snapbody);
		o.cache = "STALE";
		o.age = age_seconds(now, snap.job_fetched_at);
		o.etag = snap.terminal ? snap.etag : NULL;
		break;
	case BODY_INVALID_RECORD:
	case BODY_TOO_LARGE:
	case BODY_UNREACHABLE:
	case BODY_TIMEOUT:
		o.status = po.body == BODY_TIMEOUT ? 504 : 502;
		if (po.body == BODY_UNREACHABLE)
			snprintf(msg, sizeof(msg), "Upstream unreachable: %s",
			    res->reason);
		else
			snprintf(msg, sizeof(msg), "%s",
			    po.body == BODY_INVALID_RECORD ?
			    "Upstream sent an invalid job record" :
			    po.body == BODY_TOO_LARGE ?
			    "Upstream answer too large" : "Upstream timed out");
		if ((errbody = evbuffer_new()) != NULL)
			server_error_body(errbody, msg);
		o.body = errbody ? evbuffer_pullup(errbody, -1) : NULL;
		o.len = errbody ? evbuffer_get_length(errbody) : 0;
		break;
	}
	if (res->error != UPSTREAM_OK)
		log_warn("upstream: %s for %s (token %s) after %lldms",
		    res->reason, s->jobid, s->fp, (long long)res->elapsed_ms);
	else
		log_debug("upstream: %ld for %s (token %s) after %lldms",
		    res->status, s->jobid, s->fp, (long long)res->elapsed_ms);

	while (!TAILQ_EMPTY(&s->waiters))
		waiter_answer(TAILQ_FIRST(&s->waiters), &o);
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
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->magic = WAITER_MAGIC;
	w->slot = s;
	w->req = req;
	w->started = started;
	TAILQ_INSERT_TAIL(&s->waiters, w, entry);
	/*
	 * evhttp does not read while a request is being answered, so it
	 * would not notice a client hanging up: watch the socket for that.
	 */
	if (evcon != NULL) {
		evhttp_connection_set_closecb(evcon, waiter_conn_freed, w);
		bev = evhttp_connection_get_bufferevent(evcon);
		w->closed = event_new(s->jobs->px->base, bufferevent_getfd(bev),
		    EV_CLOSED, waiter_closed_cb, w);
		if (w->closed != NULL)
			event_add(w->closed, NULL);
	}
	s->jobs->px->pending++;
	return 0;
}

/* Answers from the cache or the slot's memory, per the decision d. */
static void
answer_local(struct jobs *j, struct evhttp_request *req,
    const struct policy_decision *d, const struct cache_job *job,
    struct evbuffer *jobbody, const struct cache_negative *neg,
    struct evbuffer *negbody, struct slot *s, struct reply_info *ri,
    int64_t now)
{
	struct proxy *px = j->px;
	char msg[64];

	switch (d->action) {
	case ACT_HIT:
	case ACT_STALE:
		ri->cache = d->action == ACT_HIT ? "HIT" : "STALE";
		reply_job(px, req, 200, jobbody, job->terminal ? job->etag : NULL,
		    age_seconds(now, job->job_fetched_at),
		    job->terminal ? 0 : d->retry_after, json_ct, ri);
		break;
	case ACT_HIT_NEGATIVE:
		ri->cache = "HIT";
		add_header_int(evhttp_request_get_output_headers(req), "Age",
		    age_seconds(now, neg->fetched_at));
		server_reply(px, req, neg->status, negbody, ri);
		break;
	case ACT_TOO_FAST:
		j->stats.rate_limited++;
		snprintf(msg, sizeof(msg), "Polling too fast, retry in %lld s",
		    (long long)d->retry_after);
		add_header_int(evhttp_request_get_output_headers(req),
		    "Retry-After", d->retry_after);
		server_reply_error(px, req, 429, msg, ri);
		break;
	case ACT_BACKOFF:
		j->stats.rate_limited++;
		ri->cache = "HIT";
		add_header_int(evhttp_request_get_output_headers(req),
		    "Retry-After", d->retry_after);
		server_reply(px, req, 429, s ? s->backoff_body : NULL, ri);
		break;
	case ACT_OFFLINE_MISS:
		server_reply_error(px, req, 504, "Not in cache (offline)", ri);
		break;
	case ACT_FETCH:
		assert(!"ACT_FETCH is not local");
		break;
	}
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
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		server_reply_error(px, req, 405, "Method not allowed", &ri);
		return;
	}
	/* rest is "/<segment>"; a further '/' is part of the segment. */
	if (rest[0] != '/' ||
	    jobid_decode(rest + 1, strlen(rest + 1), jobid) != 0) {
		server_reply_error(px, req, 400, "Invalid jobid", &ri);
		return;
	}
	if (auth_parse(evhttp_find_header(in, "Authorization"), &token,
	    &token_len) != 0) {
		server_reply_error(px, req, 401, "Unauthorized", &ri);
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
		server_reply_error(px, req, 503, "Out of memory", &ri);
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
			server_reply_error(px, req, 503, "Out of memory", &ri);
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
	if ((s = slot_find(j, jobid, token_id)) != NULL)
		st.backoff_until = s->backoff_until;

	policy_decide(&px->policy, &st, &rq, now, &d);
	if (d.action != ACT_FETCH) {
		answer_local(j, req, &d, &job, jobbody, &neg, negbody, s, &ri, now);
		if (s != NULL)
			slot_release(s, now);
		goto done;
	}

	if (s == NULL && j->nslots >= SLOTS_MAX) {
		log_warn("in-flight table full (%zu entries)", j->nslots);
		server_reply_error(px, req, 503, "Too many requests in flight", &ri);
		goto done;
	}
	if (s == NULL && (s = slot_new(j, jobid, token_id)) == NULL) {
		server_reply_error(px, req, 503, "Out of memory", &ri);
		goto done;
	}
	if (s->fetch != NULL)
		j->stats.coalesced++;
	else if (slot_fetch(s, token, token_len) != 0) {
		ri.cache = "MISS";
		server_reply_error(px, req, 502,
		    "Upstream unreachable: cannot start request", &ri);
		slot_release(s, now);
		goto done;
	}
	if (slot_wait(s, req, started) != 0) {
		server_reply_error(px, req, 503, "Out of memory", &ri);
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
	int n;

	(void)fd;
	(void)what;
	CHECK_OBJ(j, JOBS_MAGIC);
	for (b = 0; b < SLOT_BUCKETS; b++)
		for (s = j->buckets[b]; s != NULL; s = next) {
			next = s->next;
			slot_release(s, now);
		}
	if ((n = cache_expire_negatives(j->px->cache, now, SWEEP_BATCH)) > 0)
		log_debug("cache: dropped %d expired negative entries", n);
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
	struct slot *s;
	struct reply_info ri;
	size_t b;

	if (j == NULL)
		return;
	CHECK_OBJ(j, JOBS_MAGIC);
	for (b = 0; b < SLOT_BUCKETS; b++)
		while ((s = j->buckets[b]) != NULL) {
			if (s->fetch != NULL) {
				upstream_cancel(s->fetch);
				s->fetch = NULL;
			}
			while (!TAILQ_EMPTY(&s->waiters)) {
				struct waiter *w = TAILQ_FIRST(&s->waiters);

				TAILQ_REMOVE(&s->waiters, w, entry);
				waiter_unhook(w);
				memset(&ri, 0, sizeof(ri));
				ri.started = w->started;
				ri.token = s->fp;
				server_reply_error(j->px, w->req, 503,
				    "Shutting down", &ri);
				memset(w, 0, sizeof(*w));
				free(w);
				server_request_done(j->px);
			}
			s->backoff_until = 0;
			slot_free(s);
		}
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
