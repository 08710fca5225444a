/*
 * The in-flight table of the jobs route: one slot per (jobid, token_id)
 * holds the one upstream fetch for the pair and the requests waiting for
 * it, so that concurrent misses share one upstream call.  A slot also
 * remembers upstream's 429 until its Retry-After, and a failed fetch of a
 * cached job for one pending-interval.  When a fetch ends, what policy
 * says to keep is committed first; then every waiter gets the same answer.
 * A job record is committed with the others that arrive with it (commit.c):
 * its waiters are answered from commit_done(), once the group is committed.
 * An unfinished record or a negative answer that could not be committed
 * stays on the slot for one pending-interval instead (the polling budget
 * is not lost with the disk); it is answered as what it is, never as a row
 * of the cache: jobs.c marks such answers detail=store-failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "cache.h"
#include "commit.h"
#include "config.h"
#include "gateway.h"
#include "hot.h"
#include "jobs_int.h"
#include "log.h"
#include "media.h"
#include "metrics.h"
#include "policy.h"
#include "proxy.h"
#include "record.h"
#include "reply.h"
#include "upstream.h"
#include "util.h"

#define COMMIT_WAIT_MAGIC	0x43574149u

/*
 * A fetch's job record waiting for the group commit, with what its
 * waiters are then told.  The slot owns it (s->commit) and stays while it
 * waits.
 */
struct commit_wait {
	unsigned		 magic;
	struct commit_job	 cj;		/* cj.put points into this */
	struct slot		*slot;		/* borrowed */
	struct record		 rec;
	char			 etag[ETAG_LEN + 1];
	int			 polled;	/* a client's fetch, not the slot's own */
	size_t			 len;
	unsigned char		 body[];	/* upstream's bytes, copied */
};

/* FNV-1a over jobid and token_id, for the bucket index. */
static size_t
slot_hash(const char *jobid, const char *token_id)
{
	uint32_t h = util_fnv1a(UTIL_FNV_BASIS, jobid);

	return util_fnv1a(h, token_id) & (SLOT_BUCKETS - 1);
}

struct slot *
jobs_slot_find(struct jobs *j, const char *jobid, const char *token_id)
{
	struct slot *s;

	for (s = j->buckets[slot_hash(jobid, token_id)]; s != NULL; s = s->next)
		if (strcmp(s->jobid, jobid) == 0 &&
		    strcmp(s->token_id, token_id) == 0)
			return s;
	return NULL;
}

struct slot *
jobs_slot_new(struct jobs *j, const char *jobid, const char *token_id)
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
	TAILQ_INIT(&s->holds);
	b = slot_hash(jobid, token_id);
	s->next = j->buckets[b];
	j->buckets[b] = s;
	j->nslots++;
	return s;
}

/* Drops what s keeps of an answer that could not be stored. */
static void
slot_unkeep(struct slot *s)
{
	s->jobs->kept_bytes -= s->kept_len;
	free(s->kept);
	s->kept = NULL;
	s->kept_len = 0;
	s->kept_until = 0;
}

/*
 * Keeps on s, until one pending-interval from now, an answer of upstream
 * that could not be stored: an unfinished record of status job_status
 * (status 200) or a negative entry.  Not when the table is half full or
 * every slot's kept bodies would pass KEPT_BYTES_MAX.
 */
static void
slot_keep(struct slot *s, int status, const char *job_status,
    const void *body, size_t len, int64_t now)
{
	struct jobs *j = s->jobs;

	slot_unkeep(s);
	if (j->px->policy.pending_interval_ms <= 0)
		return;
	if (j->nslots >= SLOTS_MAX / 2 || len > KEPT_BYTES_MAX - j->kept_bytes) {
		log_debug("not keeping the unstored answer for %s in memory",
		    s->jobid);
		return;
	}
	if ((s->kept = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(s->kept, body, len);
	s->kept_len = len;
	j->kept_bytes += len;
	s->kept_status = status;
	snprintf(s->kept_job, sizeof(s->kept_job), "%s", job_status);
	s->kept_at = now;
	s->kept_until = now + j->px->policy.pending_interval_ms;
	/* A negative answer is said again for negative-ttl at most (SPEC 2.3). */
	if (status != 200 && j->px->policy.negative_ttl_ms <
	    j->px->policy.pending_interval_ms)
		s->kept_until = now + j->px->policy.negative_ttl_ms;
}

int
jobs_slot_kept_job(const struct slot *s, int64_t now, struct cache_job *job,
    struct evbuffer *body)
{
	if (s->kept == NULL || s->kept_status != 200 || now >= s->kept_until ||
	    now < s->kept_at)
		return 0;
	memset(job, 0, sizeof(*job));
	snprintf(job->status, sizeof(job->status), "%s", s->kept_job);
	job->job_fetched_at = job->grant_fetched_at = s->kept_at;
	job->len = s->kept_len;
	evbuffer_drain(body, evbuffer_get_length(body));
	return evbuffer_add(body, s->kept, s->kept_len) == 0 ? 1 : 0;
}

int
jobs_slot_kept_negative(const struct slot *s, int64_t now,
    struct cache_negative *neg, struct evbuffer *body)
{
	if (s->kept == NULL || s->kept_status == 200 || now >= s->kept_until ||
	    now < s->kept_at)
		return 0;
	memset(neg, 0, sizeof(*neg));
	neg->status = s->kept_status;
	neg->fetched_at = s->kept_at;
	neg->expires_at = s->kept_until;
	neg->len = s->kept_len;
	evbuffer_drain(body, evbuffer_get_length(body));
	return evbuffer_add(body, s->kept, s->kept_len) == 0 ? 1 : 0;
}

/* Unlinks and frees s; it must have no fetch and no waiters. */
static void
slot_free(struct slot *s)
{
	struct jobs *j = s->jobs;
	struct slot **pp;

	CHECK_OBJ(s, SLOT_MAGIC);
	assert(!jobs_slot_in_flight(s) && TAILQ_EMPTY(&s->waiters));
	for (pp = &j->buckets[slot_hash(s->jobid, s->token_id)]; *pp != s;
	    pp = &(*pp)->next)
		assert(*pp != NULL);
	*pp = s->next;
	j->nslots--;
	j->events->freed(s);
	if (s->backoff_body != NULL)
		evbuffer_free(s->backoff_body);
	slot_unkeep(s);
	memset(s, 0, sizeof(*s));
	free(s);
}

int
jobs_slot_busy(const struct slot *s, int64_t now)
{
	return !TAILQ_EMPTY(&s->holds) || (s->watch_from != 0 &&
	    s->watch_until > now);
}

/* Frees s when nothing is in flight and no back-off is worth keeping. */
void
jobs_slot_release(struct slot *s, int64_t now)
{
	if (!jobs_slot_in_flight(s) && TAILQ_EMPTY(&s->waiters) &&
	    !jobs_slot_busy(s, now) &&
	    s->backoff_until <= now && s->hold_until <= now &&
	    s->kept_until <= now)
		slot_free(s);
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

/*
 * Answers one waiter with a (for the cache result `cache`), frees it.  A
 * long poll or a stream whose fetch brought a job record (rec) is held on
 * instead, while the job is unfinished (a stream: for its one event too).
 */
static void
waiter_answer(struct waiter *w, const struct answer *a, const char *cache,
    int stored, int upstream_status, const struct record *rec)
{
	struct slot *s = w->slot;
	struct reply_info ri;
	int64_t now;

	CHECK_OBJ(w, WAITER_MAGIC);
	waiter_unhook(w);
	if (rec != NULL && a->status == 200 && s->token != NULL &&
	    ((w->ask.wait_s > 0 && !rec->terminal) || w->ask.stream) &&
	    !reply_draining(s->jobs->px)) {
		now = util_now_ms();
		if (s->jobs->events->hold(s, w->req, w->started, w->member, &w->ask,
		    rec->status, a->body, a->len, rec->terminal, s->token,
		    s->token_len, now + s->jobs->px->policy.pending_interval_ms)
		    == 0) {
			waiter_free(w);
			return;
		}
	}
	memset(&ri, 0, sizeof(ri));
	ri.started = w->started;
	ri.cache = cache;
	ri.stored = stored;
	ri.upstream_status = upstream_status;
	ri.token = w->member != NULL ? w->member->tag : s->fp;
	ri.member = w->member;
	jobs_send_answer(s->jobs->px, w->req, a, &ri);
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
	ri.token = w->member != NULL ? w->member->tag : s->fp;
	ri.member = w->member;
	reply_log(s->jobs->px, w->req, 499, &ri);
	waiter_free(w);
	/* Nobody waits for the fetch, unless held requests or a watch do. */
	if (TAILQ_EMPTY(&s->waiters) && s->fetch != NULL &&
	    !jobs_slot_busy(s, util_now_ms())) {
		upstream_cancel(s->fetch);
		s->fetch = NULL;
	}
	jobs_slot_release(s, util_now_ms());
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
 * Carries out what policy_answer() said to keep for slot s; sets *stored
 * to 1 when something was committed, -1 when what was to be kept could not
 * be written, else 0.  etag is the body's, or NULL.
 */
static void
keep_outcome(struct slot *s, const struct policy_outcome *po,
    const struct upstream_result *res, const struct record *rec,
    const char *etag, int64_t now, int *stored)
{
	struct proxy *px = s->jobs->px;
	int64_t submitted = 0;

	*stored = 0;
	/* What is kept in memory of the job may change now. */
	if (po->store_job || po->store_negative || po->revoke_grant)
		hot_forget(px->hot, s->jobid);
	if (po->store_job) {
		if (cache_store_job(px->cache, s->jobid, s->token_id, rec, etag,
		    res->body, res->len, now) == 0) {
			*stored = 1;
			if (px->media != NULL && strcmp(rec->status,
			    "completed") == 0)
				media_job_stored(px->media, s->jobid);
		} else {
			*stored = -1;
			log_at(cache_failure_level(px->cache),
			    "cache: cannot store job %s", s->jobid);
		}
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
		else {
			*stored = -1;
			log_at(cache_failure_level(px->cache),
			    "cache: cannot store negative entry for %s",
			    s->jobid);
		}
	}
	if (po->revoke_grant && cache_revoke(px->cache, s->jobid,
	    s->token_id) != 0)
		log_at(cache_failure_level(px->cache),
		    "cache: cannot revoke grant for %s", s->jobid);
	if (po->backoff)
		slot_backoff(s, res, now);
}

/*
 * A fetch of s ended: every waiter gets answer a, then the held requests
 * and the watch hear of it (rec: the job record when it is one).
 */
static void
slot_answer(struct slot *s, const struct answer *a, const char *cache,
    int stored, int upstream_status, const struct record *rec, int64_t now)
{
	while (!TAILQ_EMPTY(&s->waiters))
		waiter_answer(TAILQ_FIRST(&s->waiters), a, cache, stored,
		    upstream_status, rec);
	s->jobs->events->fetched(s, rec, a, cache, stored, upstream_status,
	    now);
}

/*
 * commit_add()'s done callback: the job record of slot s was committed
 * with its group (or not: cj->put.stored is 0, and it is relayed as a
 * store that failed).  Only now are its waiters answered.
 */
static void
commit_done(struct commit_job *cj, void *arg)
{
	struct commit_wait *cw = arg;
	struct slot *s;
	struct proxy *px;
	struct answer a;
	int stored = cj->put.stored ? 1 : -1;
	int64_t now = util_now_ms();

	CHECK_OBJ(cw, COMMIT_WAIT_MAGIC);
	s = cw->slot;
	CHECK_OBJ(s, SLOT_MAGIC);
	assert(s->commit == cw);
	px = s->jobs->px;
	s->commit = NULL;
	/*
	 * What is kept in memory of the job may change now: an answer kept
	 * while this one waited came from the rows before it.
	 */
	hot_forget(px->hot, s->jobid);
	if (stored < 0)
		log_at(cache_failure_level(px->cache),
		    "cache: cannot store job %s", s->jobid);
	else if (px->media != NULL && strcmp(cw->rec.status, "completed") == 0)
		media_job_stored(px->media, s->jobid);
	if (stored < 0 && !cw->rec.terminal)
		slot_keep(s, 200, cw->rec.status, cw->body, cw->len, now);
	if (px->gateway != NULL)
		gateway_job_fetched(px->gateway, s->jobid, &cw->rec, cw->body,
		    cw->len, cw->polled, stored > 0, cj->put.now);
	memset(&a, 0, sizeof(a));
	a.status = 200;
	a.body = cw->body;
	a.len = cw->len;
	a.age = -1;
	a.etag = cw->rec.terminal ? cw->etag : NULL;
	a.jobid = s->jobid;
	slot_answer(s, &a, "MISS", stored, 200, &cw->rec, now);
	memset(cw, 0, sizeof(*cw));
	free(cw);
	jobs_slot_release(s, now);
}

/*
 * Queues the job record rec that upstream's 200 res brought for slot s on
 * the group commit, its body copied; its waiters are answered by
 * commit_done().  0, or -1 when out of memory (nothing queued).
 */
static int
commit_later(struct slot *s, const struct upstream_result *res,
    const struct record *rec, int64_t now)
{
	struct commit_wait *cw;

	if ((cw = malloc(sizeof(*cw) + res->len)) == NULL)
		return -1;
	memset(cw, 0, sizeof(*cw));
	cw->magic = COMMIT_WAIT_MAGIC;
	cw->slot = s;
	cw->rec = *rec;
	record_etag(res->body, res->len, cw->etag);
	cw->polled = !s->self_fetch;
	cw->len = res->len;
	memcpy(cw->body, res->body, res->len);
	cw->cj.put.jobid = s->jobid;
	cw->cj.put.token_id = s->token_id;
	cw->cj.put.rec = &cw->rec;
	cw->cj.put.etag = cw->etag;
	cw->cj.put.body = cw->body;
	cw->cj.put.len = cw->len;
	cw->cj.put.now = now;
	cw->cj.done = commit_done;
	cw->cj.arg = cw;
	s->self_fetch = 0;
	s->commit = cw;
	commit_add(s->jobs->commit, &cw->cj);
	return 0;
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
	int has_snap = 0, stored, upstream_status;

	CHECK_OBJ(s, SLOT_MAGIC);
	px = s->jobs->px;
	s->fetch = NULL;
	slot_unkeep(s);		/* this answer replaces it */
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
	/* Committed with the records that arrive with it, answered then. */
	if (kind == POLICY_UP_JOB && po.store_job && po.body ==
	    POLICY_BODY_UPSTREAM && commit_later(s, res, &rec, now) == 0)
		return;
	if (kind == POLICY_UP_JOB && rec.terminal)
		record_etag(res->body, res->len, etag);
	keep_outcome(s, &po, res, &rec, kind == POLICY_UP_JOB && rec.terminal ?
	    etag : NULL, now, &stored);
	if (stored < 0 && (kind == POLICY_UP_NEGATIVE ||
	    (kind == POLICY_UP_JOB && !rec.terminal)))
		slot_keep(s, kind == POLICY_UP_JOB ? 200 : (int)res->status,
		    rec.status, res->body, res->len, now);
	if (px->gateway != NULL && kind == POLICY_UP_JOB)
		gateway_job_fetched(px->gateway, s->jobid, &rec, res->body,
		    res->len, !s->self_fetch, stored > 0, now);
	s->self_fetch = 0;

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
		a.age = jobs_age_seconds(now, snap.job_fetched_at);
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

	upstream_status = res->error == UPSTREAM_OK ? (int)res->status : 0;
	slot_answer(s, &a, cache, stored, upstream_status, kind ==
	    POLICY_UP_JOB && po.body == POLICY_BODY_UPSTREAM ? &rec : NULL, now);
	if (snapbody != NULL)
		evbuffer_free(snapbody);
	if (errbody != NULL)
		evbuffer_free(errbody);
	jobs_slot_release(s, now);
}

/* Starts the fetch of slot s; -1 when it cannot be started. */
int
jobs_slot_fetch(struct slot *s, const char *token, size_t token_len,
    struct member *m)
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
	s->fetched_at = util_now_ms();
	j->upstream_calls++;
	if (m != NULL)
		team_note_upstream(m);
	return 0;
}

/* Queues req on slot s (joining or starting its fetch); -1 on failure. */
int
jobs_slot_wait(struct slot *s, struct evhttp_request *req, int64_t started,
    struct member *m, const struct push_ask *ask)
{
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->magic = WAITER_MAGIC;
	w->slot = s;
	w->req = req;
	w->started = started;
	w->member = m;
	w->ask = *ask;
	TAILQ_INSERT_TAIL(&s->waiters, w, entry);
	w->watch = reply_watch_client(s->jobs->px, req, waiter_gone, w);
	reply_request_started(s->jobs->px);
	return 0;
}

void
jobs_slots_sweep(struct jobs *j, int64_t now)
{
	struct slot *s, *next;
	size_t b;

	for (b = 0; b < SLOT_BUCKETS; b++)
		for (s = j->buckets[b]; s != NULL; s = next) {
			next = s->next;
			jobs_slot_release(s, now);
		}
}

void
jobs_slots_free(struct jobs *j, const struct answer *a)
{
	struct slot *s;
	size_t b;

	for (b = 0; b < SLOT_BUCKETS; b++)
		while ((s = j->buckets[b]) != NULL) {
			if (s->fetch != NULL) {
				upstream_cancel(s->fetch);
				s->fetch = NULL;
			}
			while (!TAILQ_EMPTY(&s->waiters))
				waiter_answer(TAILQ_FIRST(&s->waiters), a, NULL,
				    0, 0, NULL);
			j->events->release(s);
			s->backoff_until = s->hold_until = s->kept_until = 0;
			slot_free(s);
		}
}
