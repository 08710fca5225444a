/*
 * Push instead of polling (SPEC 11), on the slots of the in-flight table.
 * A held request is a long poll waiting for its job's status to change, or
 * an event stream sent an event at each change; the slot keeps the token
 * and fetches once per pending-interval for all of them (and for a
 * background watch, which needs no request at all), so that upstream sees
 * what it would for one client polling at that pace.  A held request is a
 * small record and a timer; its answer is built when it is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache.h"
#include "config.h"
#include "jobs_int.h"
#include "jobs_push.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "record.h"
#include "reply.h"
#include "team.h"
#include "util.h"

#define KEEPALIVE_S		15		/* ": keep-alive" on a stream */
#define STREAM_QUEUE_MAX	(256 * 1024)	/* unread before another event */
#define OWN_FETCH_MIN_MS	1000		/* the slot's own fetches, at most */

/* A long poll or an event stream held on a slot. */
struct held {
	unsigned		 magic;
	struct slot		*slot;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct client_watch	*watch;		/* owned: the client's hang-up */
	struct member		*member;	/* team gateway: who asks */
	struct event		*timer;		/* owned: deadline, or keep-alive */
	int64_t			 started;
	struct push_ask		 ask;		/* what it asked for */
	char			 status[RECORD_FIELD_MAX]; /* as answered, or sent */
	TAILQ_ENTRY(held)	 entry;
};

static void	held_timer_cb(evutil_socket_t, short, void *);
static void	jobs_push_unwatch(struct slot *);

/*
 * How often a slot fetches for its held requests and its watch: once per
 * pending-interval, and never more than once a second (an interval of 0
 * means every poll asks upstream, not that a slot should spin).
 */
static int64_t
own_interval(const struct slot *s)
{
	int64_t ms = s->jobs->px->policy.pending_interval_ms;

	return ms > OWN_FETCH_MIN_MS ? ms : OWN_FETCH_MIN_MS;
}

/* How long a stream may last: --watch-max-age. */
static int64_t
px_watch_max_age_ms(const struct held *h)
{
	return h->slot->jobs->px->cfg->watch_max_age * 1000;
}

/* The reply facts of h's answer. */
static void
held_info(const struct held *h, struct reply_info *ri, const char *cache,
    int stored, int upstream_status)
{
	memset(ri, 0, sizeof(*ri));
	ri->started = h->started;
	ri->cache = cache;
	ri->stored = stored;
	ri->upstream_status = upstream_status;
	ri->member = h->member;
	ri->token = h->member != NULL ? h->member->tag : h->slot->fp;
}

/* Takes h off its slot and frees it; the request is no longer ours. */
static void
held_free(struct held *h)
{
	struct slot *s = h->slot;
	struct proxy *px = s->jobs->px;

	reply_unwatch_client(h->watch);
	if (h->timer != NULL)
		event_free(h->timer);
	TAILQ_REMOVE(&s->holds, h, entry);
	s->jobs->nheld--;
	memset(h, 0, sizeof(*h));
	free(h);
	reply_request_done(px);
}

/* The slot's next fetch for its held requests and watch, at next_ms. */
static void
plan_refresh(struct slot *s, int64_t next_ms, int64_t now)
{
	struct timeval tv;
	int64_t at = next_ms;

	if (s->refresh == NULL || jobs_slot_in_flight(s))
		return;		/* the fetch in flight plans the next */
	if (s->backoff_until > at)
		at = s->backoff_until;
	if (at < now)
		at = now;
	/* One fetch stream for all: a later plan never delays an earlier. */
	if (evtimer_pending(s->refresh, NULL) && s->refresh_at <= at)
		return;
	s->refresh_at = at;
	tv.tv_sec = (at - now) / 1000;
	tv.tv_usec = (at - now) % 1000 * 1000;
	event_add(s->refresh, &tv);
}

/*
 * One "event: status" of a stream: each line of body (ended by LF, CRLF or
 * CR, as an event stream's lines are) a data line, the last one too when
 * empty, so that a reader joining them with LF has body's bytes back (all
 * of them when its lines end with LF).
 */
static int
stream_event(struct evbuffer *out, const void *body, size_t len)
{
	const char *p = body, *end = p + len, *eol;

	if (evbuffer_add_printf(out, "event: status\n") < 0)
		return -1;
	for (;;) {
		for (eol = p; eol < end && *eol != '\n' && *eol != '\r'; eol++)
			;
		if (evbuffer_add(out, "data: ", 6) != 0 ||
		    evbuffer_add(out, p, (size_t)(eol - p)) != 0 ||
		    evbuffer_add(out, "\n", 1) != 0)
			return -1;
		if (eol == end)
			break;
		p = eol + (*eol == '\r' && eol + 1 < end && eol[1] == '\n' ?
		    2 : 1);
	}
	return evbuffer_add(out, "\n", 1);
}

/* Bytes queued for h's client and not yet written. */
static size_t
queued(struct held *h)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(h->req);

	return evcon == NULL ? 0 : evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evcon)));
}

/* Ends stream h (whole), logs it and frees h. */
static void
stream_end(struct held *h, const char *cache, int stored, int upstream_status)
{
	struct proxy *px = h->slot->jobs->px;
	struct evhttp_request *req = h->req;
	struct reply_info ri;

	held_info(h, &ri, cache, stored, upstream_status);
	reply_unwatch_client(h->watch);
	h->watch = NULL;
	reply_log(px, req, 200, &ri);
	reply_track(px, req);
	evhttp_send_reply_end(req);
	held_free(h);
}

/*
 * Sends buf on stream h.  A reader that still leaves more than
 * STREAM_QUEUE_MAX bytes unread when the next event is due loses its stream
 * (and connection): what waits for it is bounded by that and one event.
 * 0, or -1: h is gone.
 */
static int
stream_send(struct held *h, struct evbuffer *buf)
{
	struct evhttp_connection *evcon;
	struct proxy *px = h->slot->jobs->px;
	struct reply_info ri;

	if (queued(h) > STREAM_QUEUE_MAX) {
		log_warn("stream of %s (%s): the client reads too slowly;"
		    " dropped", h->slot->jobid, h->member != NULL ?
		    h->member->tag : h->slot->fp);
		held_info(h, &ri, "HIT", 0, 0);
		reply_unwatch_client(h->watch);
		h->watch = NULL;
		reply_log(px, h->req, 200, &ri);
		evcon = evhttp_request_get_connection(h->req);
		held_free(h);
		if (evcon != NULL)
			evhttp_connection_free(evcon);
		return -1;
	}
	evhttp_send_reply_chunk(h->req, buf);
	return 0;
}

/* Sends the record as stream h's next event; 0, or -1: h is gone. */
static int
stream_record(struct held *h, const char *status, const void *body,
    size_t len)
{
	struct evbuffer *buf;
	int rc = -1;

	if ((buf = evbuffer_new()) != NULL && stream_event(buf, body, len) == 0)
		rc = stream_send(h, buf);
	else
		log_error("stream of %s: out of memory", h->slot->jobid);
	if (buf != NULL)
		evbuffer_free(buf);
	if (rc == 0)
		snprintf(h->status, sizeof(h->status), "%s", status);
	return rc;
}

/* A long poll asked by Prefer says what it waited for (RFC 7240). */
static void
applied(struct held *h)
{
	char v[32];

	if (!h->ask.prefer)
		return;
	snprintf(v, sizeof(v), "wait=%lld", (long long)h->ask.wait_s);
	evhttp_add_header(evhttp_request_get_output_headers(h->req),
	    "Preference-Applied", v);
}

/* The client of h hung up: logged as 499, dropped (the watch frees req). */
static void
held_gone(void *arg)
{
	struct held *h = arg;
	struct reply_info ri;

	CHECK_OBJ(h, HELD_MAGIC);
	h->watch = NULL;
	held_info(h, &ri, NULL, 0, 0);
	reply_log(h->slot->jobs->px, h->req, 499, &ri);
	held_free(h);
}

/*
 * Answers long poll h as a poll would be answered now, by the rules of
 * SPEC 2.3 with what is cached: the record as a HIT (with Age, and
 * Retry-After when unfinished), 429 in reject mode within the interval, or
 * the record as STALE when a fetch is due but upstream is failing or
 * backing off.  A record the slot keeps because it could not be stored
 * stands for the cached one, and says so.  Then frees h.
 */
static void
held_answer_now(struct held *h)
{
	struct slot *s = h->slot;
	struct proxy *px = s->jobs->px;
	struct policy_state st;
	struct policy_request rq;
	struct policy_decision d;
	struct cache_job job;
	struct evbuffer *body;
	struct reply_info ri;
	struct answer a;
	int64_t now = util_now_ms(), next;
	int kept = 0;
	char msg[64];

	held_info(h, &ri, "HIT", 0, 0);
	reply_unwatch_client(h->watch);
	h->watch = NULL;
	if ((body = evbuffer_new()) != NULL &&
	    jobs_slot_kept_job(s, now, &job, body) == 1)
		ri.stored = kept = -1;
	if (body == NULL || (!kept &&
	    cache_lookup(px->cache, s->jobid, s->token_id, &job, body) != 1)) {
		reply_error(px, h->req, 503, "Cache unavailable", &ri);
		if (body != NULL)
			evbuffer_free(body);
		held_free(h);
		return;
	}
	memset(&st, 0, sizeof(st));
	memset(&rq, 0, sizeof(rq));
	st.granted = 1;
	st.terminal = job.terminal;
	st.fetched_at = job.grant_fetched_at;
	st.backoff_until = s->backoff_until;
	st.hold_until = s->hold_until;
	policy_decide(&px->policy, &st, &rq, now, &d);
	applied(h);
	if (d.action == ACT_TOO_FAST) {
		snprintf(msg, sizeof(msg), "Polling too fast, retry in %lld s",
		    (long long)d.retry_after);
		jobs_add_header_int(evhttp_request_get_output_headers(h->req),
		    "Retry-After", d.retry_after);
		reply_error(px, h->req, 429, msg, &ri);
		evbuffer_free(body);
		held_free(h);
		return;
	}
	if (d.action != ACT_HIT)
		ri.cache = "STALE";	/* a fetch is due; upstream is not there */
	memset(&a, 0, sizeof(a));
	a.status = 200;
	a.body = evbuffer_pullup(body, -1);
	a.len = evbuffer_get_length(body);
	a.age = jobs_age_seconds(now, job.job_fetched_at);
	if (job.terminal) {
		a.etag = job.etag;
		a.jobid = s->jobid;
	} else {
		next = job.grant_fetched_at + px->policy.pending_interval_ms;
		a.retry_after = next > now ? (next - now + 999) / 1000 : 1;
	}
	jobs_send_answer(px, h->req, &a, &ri);
	evbuffer_free(body);
	held_free(h);
}

/* The wait of a long poll ended, or a stream's keep-alive is due. */
static void
held_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct held *h = arg;
	struct timeval tv = { KEEPALIVE_S, 0 };
	struct evbuffer *buf;

	(void)fd;
	(void)what;
	CHECK_OBJ(h, HELD_MAGIC);
	if (!h->ask.stream) {
		held_answer_now(h);
		return;
	}
	/* A stream of a job that never ends does not last for ever. */
	if (util_mono_ms() - h->started >= px_watch_max_age_ms(h)) {
		log_info("stream of %s ended after watch-max-age", h->slot->jobid);
		stream_end(h, "HIT", 0, 0);
		return;
	}
	if ((buf = evbuffer_new()) != NULL &&
	    evbuffer_add_printf(buf, ": keep-alive\n\n") > 0 &&
	    stream_send(h, buf) != 0) {
		evbuffer_free(buf);
		return;		/* dropped */
	}
	if (buf != NULL)
		evbuffer_free(buf);
	event_add(h->timer, &tv);
}

/* The slot's timer: the fetch for its held requests and its watch. */
static void
refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	CHECK_OBJ(s, SLOT_MAGIC);
	if (s->watch_from != 0 && now >= s->watch_until) {
		log_info("watch of %s ended after watch-max-age", s->jobid);
		jobs_push_unwatch(s);
	}
	if (TAILQ_EMPTY(&s->holds) && s->watch_from == 0) {
		jobs_slot_release(s, now);
		return;
	}
	if (jobs_slot_in_flight(s))
		return;
	/* Once per interval, whoever made the last fetch. */
	if (s->backoff_until > now || (s->fetched_at != 0 && now <
	    s->fetched_at + own_interval(s))) {
		plan_refresh(s, s->fetched_at + own_interval(s), now);
		return;
	}
	s->self_fetch = 1;
	if (jobs_slot_fetch(s, s->token, s->token_len, NULL) != 0) {
		s->self_fetch = 0;
		log_warn("watch of %s: cannot start a fetch; trying again",
		    s->jobid);
		plan_refresh(s, now + own_interval(s), now);
	}
}

int
jobs_push_arm(struct slot *s, const char *token, size_t token_len)
{
	if (s->token == NULL) {
		if ((s->token = malloc(token_len + 1)) == NULL)
			return -1;
		memcpy(s->token, token, token_len);
		s->token[token_len] = '\0';
		s->token_len = token_len;
	}
	if (s->refresh == NULL && (s->refresh = evtimer_new(s->jobs->px->base,
	    refresh_cb, s)) == NULL)
		return -1;
	return 0;
}

static int
jobs_push_hold(struct slot *s, struct evhttp_request *req, int64_t started,
    struct member *m, const struct push_ask *ask, const char *status,
    const void *body, size_t len, int terminal, const char *token,
    size_t token_len, int64_t next_ms)
{
	struct proxy *px = s->jobs->px;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct timeval tv = { ask->stream ? KEEPALIVE_S : ask->wait_s, 0 };
	struct evbuffer *buf;
	struct held *h;
	int64_t now = util_now_ms(), left = 0;

	/* A wait counts from the request's arrival. */
	if (!ask->stream) {
		if ((left = started + ask->wait_s * 1000 - util_mono_ms()) <= 0)
			return -1;
		tv.tv_sec = left / 1000;
		tv.tv_usec = left % 1000 * 1000;
	}
	if ((!terminal && jobs_push_arm(s, token, token_len) != 0) ||
	    (h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->magic = HELD_MAGIC;
	h->slot = s;
	h->req = req;
	h->member = m;
	h->started = started;
	h->ask = *ask;
	snprintf(h->status, sizeof(h->status), "%s", status);
	if ((h->timer = evtimer_new(px->base, held_timer_cb, h)) == NULL) {
		free(h);
		return -1;
	}
	TAILQ_INSERT_TAIL(&s->holds, h, entry);
	s->jobs->nheld++;
	reply_request_started(px);
	if (h->ask.stream) {
		evhttp_add_header(out, "Content-Type", "text/event-stream");
		evhttp_add_header(out, "Cache-Control", "no-store");
		evhttp_send_reply_start(req, 200, "OK");
		if ((buf = evbuffer_new()) == NULL || evbuffer_add_printf(buf,
		    "retry: %lld\n\n", (long long)px->policy.pending_interval_ms) < 0 ||
		    stream_event(buf, body, len) != 0) {
			if (buf != NULL)
				evbuffer_free(buf);
			log_error("stream of %s: out of memory", s->jobid);
			stream_end(h, "HIT", 0, 0);
			return 0;
		}
		evhttp_send_reply_chunk(req, buf);
		evbuffer_free(buf);
		if (terminal) {
			stream_end(h, "HIT", 0, 0);
			return 0;
		}
	}
	h->watch = reply_watch_client(px, req, held_gone, h);
	event_add(h->timer, &tv);
	plan_refresh(s, next_ms, now);
	return 0;
}

static void
jobs_push_fetched(struct slot *s, const struct record *rec,
    const struct answer *a, const char *cache, int stored,
    int upstream_status, int64_t now)
{
	struct proxy *px = s->jobs->px;
	struct held *h, *next;
	struct reply_info ri;

	for (h = TAILQ_FIRST(&s->holds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (rec == NULL) {
			/* A negative answer is final; failures are waited out. */
			if (upstream_status < 400 || upstream_status >= 500 ||
			    upstream_status == 429)
				continue;
			if (h->ask.stream) {
				stream_end(h, cache, stored, upstream_status);
				continue;
			}
			held_info(h, &ri, cache, stored, upstream_status);
			reply_unwatch_client(h->watch);
			h->watch = NULL;
			jobs_send_answer(px, h->req, a, &ri);
			held_free(h);
			continue;
		}
		if (strcmp(rec->status, h->status) == 0)
			continue;
		if (h->ask.stream) {
			if (stream_record(h, rec->status, a->body, a->len) == 0 &&
			    rec->terminal)
				stream_end(h, cache, stored, upstream_status);
			continue;
		}
		held_info(h, &ri, cache, stored, upstream_status);
		reply_unwatch_client(h->watch);
		h->watch = NULL;
		applied(h);
		jobs_send_answer(px, h->req, a, &ri);
		held_free(h);
	}
	/*
	 * The watch ends with the job stored finished (one that could not be
	 * stored for want of a disk is fetched again next interval, until the
	 * disk takes it), or when upstream will not have it.
	 */
	if (s->watch_from != 0 && (rec != NULL ? rec->terminal && (stored >= 0 ||
	    cache_write_error(px->cache) == NULL) :
	    upstream_status == 400 || upstream_status == 401 ||
	    upstream_status == 403 ||
	    (upstream_status == 404 && now - s->watch_from >= SUBMIT_GRACE_MS)))
		jobs_push_unwatch(s);
	if (!TAILQ_EMPTY(&s->holds) || s->watch_from != 0)
		plan_refresh(s, now + own_interval(s), now);
}

static void
jobs_push_release(struct slot *s)
{
	struct held *h;

	while ((h = TAILQ_FIRST(&s->holds)) != NULL) {
		if (h->ask.stream)
			stream_end(h, "HIT", 0, 0);
		else
			held_answer_now(h);
	}
}

static void
jobs_push_unwatch(struct slot *s)
{
	if (s->watch_from != 0) {
		s->watch_from = s->watch_until = 0;
		s->jobs->nwatched--;
	}
}

static void
jobs_push_slot_free(struct slot *s)
{
	assert(TAILQ_EMPTY(&s->holds));
	jobs_push_unwatch(s);
	if (s->refresh != NULL)
		event_free(s->refresh);
	if (s->token != NULL) {
		explicit_bzero(s->token, s->token_len);
		free(s->token);
	}
}

int
jobs_watch(struct jobs *j, const char *jobid, const char *token,
    size_t token_len, int64_t until)
{
	char token_id[TOKEN_ID_LEN + 1];
	struct slot *s;
	int64_t now = util_now_ms();

	CHECK_OBJ(j, JOBS_MAGIC);
	if (!j->px->cfg->watch || j->px->cfg->offline || reply_draining(j->px) ||
	    until <= now)
		return 0;
	auth_token_id(token, token_len, token_id);
	if ((s = jobs_slot_find(j, jobid, token_id)) == NULL) {
		if (j->nslots >= SLOTS_MAX / 2) {
			log_warn("in-flight table half full: %s not watched",
			    jobid);
			return -1;
		}
		if ((s = jobs_slot_new(j, jobid, token_id)) == NULL)
			return -1;
	}
	if (jobs_push_arm(s, token, token_len) != 0) {
		jobs_slot_release(s, now);
		return -1;
	}
	if (s->watch_from == 0)
		j->nwatched++;
	s->watch_from = now;
	s->watch_until = until;
	plan_refresh(s, now + own_interval(s), now);
	return 0;
}

void
jobs_push_drain(struct jobs *j)
{
	struct slot *s, *next;
	int64_t now = util_now_ms();
	size_t b;

	CHECK_OBJ(j, JOBS_MAGIC);
	for (b = 0; b < SLOT_BUCKETS; b++)
		for (s = j->buckets[b]; s != NULL; s = next) {
			next = s->next;
			jobs_push_release(s);
			jobs_push_unwatch(s);
			jobs_slot_release(s, now);
		}
}

const struct slot_events jobs_push_events = {
	.hold = jobs_push_hold,
	.fetched = jobs_push_fetched,
	.release = jobs_push_release,
	.freed = jobs_push_slot_free,
};
