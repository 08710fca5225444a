/*
 * The pass-through.  The request body streams from the connection's framer
 * to curl as it arrives, bounded by --max-request-body.  The answer goes
 * out as it arrives: evhttp_send_reply_start() when
 * upstream's head is in, a chunk per piece of body, and the transfer is
 * paused while more than OUT_HIGH_WATER bytes wait for a slow client.  An
 * answer cut short upstream closes the client's connection, so that a
 * truncated body is never passed off as complete (with a length or chunks;
 * an HTTP/1.0 client of an answer without a length cannot tell).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "framer.h"
#include "gateway.h"
#include "jobid.h"
#include "jobs_push.h"
#include "log.h"
#include "metrics.h"
#include "passthru.h"
#include "proxy.h"
#include "reply.h"
#include "upstream.h"
#include "util.h"

#define PASSTHRU_MAGIC		0x50415353u
#define OUT_HIGH_WATER		(256 * 1024)	/* bytes queued for the client */
#define SUBMIT_BODY_MAX		65536		/* submit answers we read */
#define HEADER_VALUE_MAX	16384
#define CONN_TOKENS_MAX		4096

#define PASSTHRU_SET_MAGIC	0x50535354u
#define BLOCKS_MAGIC		0x424c4b53u
#define BLOCK_SIZE		16384	/* curl hands over at most this much */
#define BLOCK_MIN		4096	/* smaller pieces are copied as usual */
#define BLOCKS_KEPT		64	/* free blocks kept: 1 MiB */

/*
 * Pieces of answer body on their way to clients travel in blocks that are
 * used again, not in memory allocated and freed for each piece: a large
 * download would otherwise make the heap grow and shrink under it, and
 * fault in fresh pages for every byte.  A block is out from the copy of a
 * piece until the client's socket took it (or its connection went); the
 * pool lives until the set is gone and no block is out.
 */
struct block {
	struct blocks		*pool;		/* borrowed */
	struct block		*next;		/* in the free list */
	unsigned char		 data[BLOCK_SIZE];
};

struct blocks {
	unsigned		 magic;
	struct block		*free;		/* owned */
	int			 nfree;
	int			 out;		/* blocks in evbuffers */
	int			 orphaned;	/* the set is gone */
};

/* The requests being forwarded. */
struct passthru_set {
	unsigned		 magic;
	struct proxy		*px;		/* borrowed */
	struct blocks		*blocks;	/* owned (shared with blocks out) */
	struct evbuffer		*chunk;		/* owned: one piece of body, */
						/* empty between calls */
	TAILQ_HEAD(, passthru)	 list;
};

/* One request being forwarded. */
struct passthru {
	unsigned		 magic;
	struct proxy		*px;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct upstream_request	*up;		/* owned while in flight */
	struct client_watch	*watch;		/* owned: the client's hang-up */
	struct evbuffer		*submit;	/* owned: a submit answer's body */
	struct framer		*framer;	/* borrowed: the body streams from it */
	int			 body_waiting;	/* the upload waits for the client */
	struct passthru_set	*set;		/* borrowed: the set it is in */
	TAILQ_ENTRY(passthru)	 entry;
	int64_t			 started;
	long			 status;	/* upstream's */
	int			 head_sent;
	int			 has_length;	/* upstream sent Content-Length */
	int			 paused;
	const char		*submit_type;	/* "video", "image" or NULL */
	char			*conn_tokens;	/* owned: upstream's Connection */
						/* values, or NULL */
	char			 token_id[TOKEN_ID_LEN + 1];	/* "" without a token */
	char			 fp[FINGERPRINT_LEN + 1];
	struct member		*member;	/* team gateway: who asks */
	int			 reserved;	/* a submission counted in flight */
	int			 orphan;	/* its client left; req is NULL */
	int			 body_sent;	/* curl has all of the body */
	char			*token;		/* owned: a submitter's, to watch */
	size_t			 token_len;
	int64_t			 body_left;	/* of a known length, else -1 */
};

/* A block for a piece of body, or NULL when out of memory. */
static struct block *
block_get(struct blocks *pool)
{
	struct block *b;

	CHECK_OBJ(pool, BLOCKS_MAGIC);
	if ((b = pool->free) != NULL) {
		pool->free = b->next;
		pool->nfree--;
	} else if ((b = malloc(sizeof(*b))) == NULL)
		return NULL;
	b->pool = pool;
	pool->out++;
	return b;
}

/* Frees the pool's free blocks, and the pool once no block is out. */
static void
blocks_release(struct blocks *pool)
{
	struct block *b;

	while ((b = pool->free) != NULL) {
		pool->free = b->next;
		free(b);
	}
	pool->nfree = 0;
	if (pool->out == 0) {
		memset(pool, 0, sizeof(*pool));
		free(pool);
	}
}

/*
 * evbuffer: the block's bytes were written or dropped (runs once per
 * block, whenever its evbuffer chain goes, perhaps after the set).
 */
static void
block_back(const void *data, size_t len, void *arg)
{
	struct block *b = arg;
	struct blocks *pool = b->pool;

	(void)data;
	(void)len;
	CHECK_OBJ(pool, BLOCKS_MAGIC);
	pool->out--;
	if (!pool->orphaned && pool->nfree < BLOCKS_KEPT) {
		b->next = pool->free;
		pool->free = b;
		pool->nfree++;
		return;
	}
	free(b);
	if (pool->orphaned && pool->out == 0)
		blocks_release(pool);
}

/* Appends a copy of data to buf; -1 when out of memory. */
static int
body_add(struct blocks *pool, struct evbuffer *buf, const char *data,
    size_t len)
{
	struct block *b;

	if (len < BLOCK_MIN || len > BLOCK_SIZE)
		return evbuffer_add(buf, data, len);
	if ((b = block_get(pool)) == NULL)
		return -1;
	memcpy(b->data, data, len);
	if (evbuffer_add_reference(buf, b->data, len, block_back, b) != 0) {
		block_back(b->data, len, b);
		return -1;
	}
	return 0;
}

/* Who asked, for the access log: @member, a fingerprint, or NULL. */
static void
who(const struct passthru *p, struct reply_info *ri)
{
	ri->member = p->member;
	ri->token = p->member != NULL ? p->member->tag :
	    p->fp[0] ? p->fp : NULL;
}

int
passthru_listed(const char *list, const char *name, size_t len)
{
	const char *p = list;
	size_t n;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == len && n > 0 && strncasecmp(p, name, len) == 0)
			return 1;
		p += n;
	}
	return 0;
}

static const char *const hop_by_hop[] = {
	"Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding",
	"Upgrade",
};

int
passthru_hop_by_hop(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(hop_by_hop); i++)
		if (strlen(hop_by_hop[i]) == len &&
		    strncasecmp(hop_by_hop[i], name, len) == 0)
			return 1;
	return len >= 6 && strncasecmp(name, "Proxy-", 6) == 0;
}

/* A header value may hold no control characters but tabs. */
static int
clean_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

static void
request_free(struct passthru *p)
{
	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->reserved)	/* the submission made no job */
		gateway_submitted(p->px->gateway, p->member, NULL,
		    util_now_ms());
	if (p->up != NULL)
		upstream_cancel(p->up);
	reply_unwatch_client(p->watch);
	free(p->conn_tokens);
	if (p->submit != NULL)
		evbuffer_free(p->submit);
	if (p->token != NULL) {
		explicit_bzero(p->token, p->token_len);
		free(p->token);
	}
	if (p->framer != NULL)
		framer_detach(p->framer);
	TAILQ_REMOVE(&p->set->list, p, entry);
	reply_request_done(p->px);
	memset(p, 0, sizeof(*p));
	free(p);
}

/* Stops watching the client: the request is about to be answered. */
static void
unhook(struct passthru *p)
{
	reply_unwatch_client(p->watch);
	p->watch = NULL;
}

static void
log_line(struct passthru *p, int status)
{
	struct reply_info ri;

	memset(&ri, 0, sizeof(ri));
	ri.started = p->started;
	ri.upstream_status = (int)p->status;
	who(p, &ri);
	reply_log(p->px, p->req, status, &ri);
}

/*
 * The client went away: stop the upstream call and forget the request (the
 * watch frees it).
 */
static void
client_gone(void *arg)
{
	struct passthru *p = arg;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	p->watch = NULL;
	log_line(p, p->head_sent ? (int)p->status : 499);
	/*
	 * A member's submission sent whole: upstream may make the job all the
	 * same.  The call goes on without a client (a draining server waits
	 * for it), so that the job is known and counts against max-running,
	 * with its owner.  One cut short is never passed off as whole.
	 */
	if (p->reserved && p->up != NULL && p->body_sent) {
		p->orphan = 1;
		p->req = NULL;		/* the watch frees it */
		if (p->framer != NULL) {
			framer_detach(p->framer);
			p->framer = NULL;
		}
		if (p->paused) {	/* nothing waits for the client now */
			p->paused = 0;
			upstream_resume(p->up);
		}
		return;
	}
	request_free(p);
}

/* upstream: the next piece of the request body. */
static long
up_body(char *buf, size_t len, void *arg)
{
	struct passthru *p = arg;
	size_t n = 0;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->framer == NULL) {
		p->body_sent = 1;
		return 0;	/* no body */
	}
	switch (framer_body_read(p->framer, buf, len, &n)) {
	case FRAMER_DATA:
		/* curl reads no further than a known length: count it. */
		if (p->body_left > 0 && (p->body_left -= (int64_t)n) <= 0)
			p->body_sent = 1;
		return (long)n;
	case FRAMER_END:
		p->body_sent = 1;
		return 0;
	case FRAMER_WAIT:
		p->body_waiting = 1;
		return UPSTREAM_BODY_WAIT;
	case FRAMER_FAILED:
		break;
	}
	return -1;
}

/* framer: more of the body came in (or it ended, or failed). */
static void
body_ready(void *arg)
{
	struct passthru *p = arg;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->body_waiting && p->up != NULL) {
		p->body_waiting = 0;
		upstream_resume(p->up);
	}
}

/* upstream: one header of the answer; end-to-end ones are relayed. */
static int
up_header(const char *name, size_t nlen, const char *value, size_t vlen,
    void *arg)
{
	struct passthru *p = arg;
	char n[256], small[512], *v;
	size_t have;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->orphan)
		return 0;
	if (nlen == 10 && strncasecmp(name, "Connection", 10) == 0) {
		have = p->conn_tokens != NULL ? strlen(p->conn_tokens) : 0;
		/* Headers it names could not all be dropped: refuse it. */
		if (have + vlen + 2 >= CONN_TOKENS_MAX ||
		    (v = realloc(p->conn_tokens, have + vlen + 2)) == NULL)
			return -1;
		p->conn_tokens = v;
		snprintf(v + have, vlen + 2, ",%.*s", (int)vlen, value);
		return 0;
	}
	if (passthru_hop_by_hop(name, nlen) || nlen >= sizeof(n) ||
	    vlen > HEADER_VALUE_MAX)
		return 0;
	if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0)
		p->has_length = 1;
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	if (vlen < sizeof(small))
		v = small;
	else if ((v = malloc(vlen + 1)) == NULL)
		return -1;
	memcpy(v, value, vlen);
	v[vlen] = '\0';
	/* evhttp refuses values with CR or LF; such a header is dropped. */
	(void)evhttp_add_header(evhttp_request_get_output_headers(p->req), n, v);
	if (v != small)
		free(v);
	return 0;
}

/* upstream: the answer's head is complete; send it to the client. */
static int
up_head(long status, void *arg)
{
	struct passthru *p = arg;
	struct evkeyvalq *out;
	struct evkeyval *h, *next;
	struct framer *f;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	p->status = status;
	if (status < 200 || status > 599)
		return -1;
	if (p->submit_type != NULL && status == 200)
		p->submit = evbuffer_new();
	if (p->orphan)
		return 0;
	out = evhttp_request_get_output_headers(p->req);
	/* Headers upstream's Connection names are hop-by-hop too. */
	for (h = TAILQ_FIRST(out); h != NULL; h = next) {
		next = TAILQ_NEXT(h, next);
		if (passthru_listed(p->conn_tokens, h->key, strlen(h->key)))
			evhttp_remove_header(out, h->key);
	}
	/*
	 * An HTTP/1.0 client cannot take chunks: without a length the body
	 * ends with the connection (evhttp would claim a length of 0 on a
	 * kept-alive one).
	 */
	if ((f = reply_framer(p->req)) != NULL && framer_http10(f) &&
	    !p->has_length) {
		evhttp_remove_header(evhttp_request_get_input_headers(p->req),
		    "Connection");
		evhttp_add_header(out, "Connection", "close");
	} else if (reply_draining(p->px))
		evhttp_add_header(out, "Connection", "close");
	p->head_sent = 1;
	evhttp_send_reply_start(p->req, (int)status, NULL);
	return 0;
}

/* evhttp: what was queued for the client has been written. */
static void
drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct passthru *p = arg;

	(void)evcon;
	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->paused && p->up != NULL) {
		p->paused = 0;
		upstream_resume(p->up);
	}
}

/* upstream: a piece of the body. */
static int
up_data(const char *data, size_t len, void *arg)
{
	struct passthru *p = arg;
	struct evbuffer *chunk = p->set->chunk;
	struct evhttp_connection *evcon;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	if (p->orphan)
		evcon = NULL;
	else if ((evcon = evhttp_request_get_connection(p->req)) == NULL)
		return -1;
	else if (evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evcon))) > OUT_HIGH_WATER) {
		p->paused = 1;
		return 1;
	}
	if (p->submit != NULL) {
		if (evbuffer_get_length(p->submit) + len <= SUBMIT_BODY_MAX)
			evbuffer_add(p->submit, data, len);
		else {
			evbuffer_free(p->submit);
			p->submit = NULL;
		}
	}
	if (p->orphan)
		return 0;
	if (body_add(p->set->blocks, chunk, data, len) != 0)
		return -1;
	/* The callback fires once the client has taken all that is queued. */
	evhttp_send_reply_chunk_with_cb(p->req, chunk, drained_cb, p);
	evbuffer_drain(chunk, evbuffer_get_length(chunk));
	return 0;
}

/* SPEC 11: the new job is fetched until it is finished (--watch). */
static void
watch_submission(struct passthru *p, const char *jobid)
{
	struct proxy *px = p->px;
	const char *tok = p->token;
	size_t len = p->token_len;

	if (px->gateway != NULL)
		tok = gateway_token(px->gateway, &len);
	if (tok != NULL && jobs_watch(px->jobs, jobid, tok, len,
	    util_now_ms() + px->cfg->watch_max_age * 1000) != 0)
		log_warn("passthru: job %s is not watched", jobid);
}

/*
 * A submit answered 200: when its body is a JSON object with a valid
 * "jobid", the job is recorded with the submitter's token.
 */
static void
note_submission(struct passthru *p)
{
	const char *id;
	json_t *o;
	size_t len = evbuffer_get_length(p->submit);

	o = json_loadb((const char *)evbuffer_pullup(p->submit, -1), len, 0, NULL);
	id = json_string_value(json_object_get(o, "jobid"));
	if (id == NULL || !jobid_valid(id) || p->token_id[0] == '\0') {
		log_debug("passthru: submit answer without a usable jobid");
		json_decref(o);
		return;
	}
	metrics_submitted(p->px->metrics);
	if (p->reserved) {
		p->reserved = 0;
		gateway_submitted(p->px->gateway, p->member, id, util_now_ms());
	}
	watch_submission(p, id);
	if (cache_store_submission(p->px->cache, id, p->submit_type,
	    p->token_id, util_now_ms()) != 0)
		log_at(cache_failure_level(p->px->cache),
		    "cache: cannot record submitted job %s", id);
	else
		log_info("passthru: %s job %s submitted by %s%s",
		    p->submit_type, id, p->member ? "" : "token ",
		    p->member ? p->member->tag : p->fp);
	json_decref(o);
}

/* upstream: the call is over, whole or not. */
static void
up_done(const struct upstream_result *res, void *arg)
{
	struct passthru *p = arg;
	struct evhttp_request *req = p->req;
	struct evhttp_connection *evcon;
	struct reply_info ri;
	const char *msg;
	int status;

	CHECK_OBJ(p, PASSTHRU_MAGIC);
	p->up = NULL;		/* freed by upstream after this callback */
	metrics_upstream_result(p->px->metrics, ROUTE_PASSTHROUGH, res);
	if (p->orphan) {
		if (res->error == UPSTREAM_OK && p->submit != NULL)
			note_submission(p);
		request_free(p);
		return;
	}
	unhook(p);
	if (!p->head_sent) {
		memset(&ri, 0, sizeof(ri));
		ri.started = p->started;
		who(p, &ri);
		log_warn("passthru: upstream %s: %s",
		    res->error == UPSTREAM_TIMEOUT ? "timed out" : "failed",
		    res->reason);
		evhttp_clear_headers(evhttp_request_get_output_headers(req));
		if (p->framer != NULL &&
		    (status = framer_refusal(p->framer, &msg)) != 0) {
			/* The body failed: the framer ends the connection. */
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Connection", "close");
			reply_error(p->px, req, status, msg, &ri);
		} else if (res->error == UPSTREAM_TIMEOUT && p->body_waiting) {
			/* The client stopped sending its body, not upstream. */
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Connection", "close");
			reply_error(p->px, req, 408,
			    "Request body incomplete", &ri);
		} else if (res->error == UPSTREAM_TIMEOUT)
			reply_error(p->px, req, 504, "Upstream timed out",
			    &ri);
		else {
			char why[CURL_ERROR_SIZE + 32];

			snprintf(why, sizeof(why), "Upstream unreachable: %s",
			    res->reason);
			reply_error(p->px, req, 502, why, &ri);
		}
		request_free(p);
		return;
	}
	if (res->error != UPSTREAM_OK) {
		/* Cut short: close, so the client cannot take it as whole. */
		log_warn("passthru: upstream answer cut short: %s", res->reason);
		log_line(p, (int)p->status);
		evcon = evhttp_request_get_connection(req);
		request_free(p);
		if (evcon != NULL)
			evhttp_connection_free(evcon);
		else
			evhttp_request_free(req);
		return;
	}
	if (p->submit != NULL)
		note_submission(p);
	log_line(p, (int)p->status);
	reply_track(p->px, req);
	evhttp_send_reply_end(req);
	request_free(p);
}

static const struct upstream_stream_cb stream_cb = {
	.body = up_body,
	.header = up_header,
	.head = up_head,
	.data = up_data,
	.done = up_done,
};

/* Team gateway: upstream gets the held token, whatever the member sent. */
static int
held_token(struct passthru *p, struct curl_slist **list)
{
	char value[sizeof("Bearer ") + AUTH_TOKEN_MAX];
	const char *tok;
	size_t len;
	int rc;

	tok = gateway_token(p->px->gateway, &len);
	snprintf(value, sizeof(value), "Bearer %.*s", (int)len, tok);
	snprintf(p->token_id, sizeof(p->token_id), "%s",
	    gateway_token_id(p->px->gateway));
	rc = upstream_header_add(list, "Authorization", value);
	explicit_bzero(value, sizeof(value));
	return rc;
}

/*
 * Team gateway: the member of the request's key, and whether the path is
 * open to it.  NULL when not: req was answered (401 or 403).
 */
static struct member *
gateway_admit(struct proxy *px, struct evhttp_request *req, const char *path,
    enum gateway_path *kind, struct reply_info *ri)
{
	struct member *m;

	m = gateway_member(px->gateway, evhttp_request_get_input_headers(req),
	    util_now_ms());
	if (m == NULL) {
		reply_error(px, req, 401, "Unauthorized", ri);
		return NULL;
	}
	ri->member = m;
	ri->token = m->tag;
	*kind = gateway_path_kind(path,
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST);
	/* Nothing a member may not see goes past under another spelling. */
	if (*kind == GATEWAY_ODD || *kind == GATEWAY_JOBS) {
		reply_error(px, req, 400, "Bad request target", ri);
		return NULL;
	}
	if (*kind == GATEWAY_ADMIN && !m->key.admin) {
		reply_error(px, req, 403, "Admin key required", ri);
		return NULL;
	}
	return m;
}

/*
 * A member's submission, against its limits: 0 when it may go (counted as
 * in flight until the request is freed), else req was answered with 429.
 */
static int
gateway_limits(struct passthru *p, enum gateway_path kind,
    struct reply_info *ri)
{
	enum team_limit which;
	int64_t now = util_now_ms(), retry;
	char msg[128], secs[32];

	which = team_submit(p->member, now,
	    p->px->policy.pending_interval_ms / 1000, &retry);
	if (which != TEAM_LIMIT_NONE) {
		team_refusal(p->member, which, msg, sizeof(msg));
		log_info("gateway: %s: submission refused: %s", p->member->tag,
		    msg);
		snprintf(secs, sizeof(secs), "%lld", (long long)retry);
		evhttp_add_header(evhttp_request_get_output_headers(p->req),
		    "Retry-After", secs);
		reply_error(p->px, p->req, 429, msg, ri);
		return -1;
	}
	p->reserved = 1;
	p->submit_type = kind == GATEWAY_SUBMIT_VIDEO ? "video" : "image";
	return 0;
}

/*
 * The request's end-to-end headers as curl header lines (upload: curl
 * sends a body); the token's id and fingerprint into p.  Returns 0, or -1
 * with *why set for a header that cannot be forwarded.
 */
static int
forward_headers(struct passthru *p, struct evkeyvalq *in, int upload,
    struct curl_slist **list, const char **why)
{
	struct evkeyval *h, *c;
	const char *tok;
	size_t len;
	int accept = 0, ctype = 0, listed;

	*why = NULL;
	TAILQ_FOREACH(h, in, next) {
		if (!util_http_token(h->key, strlen(h->key)) ||
		    !clean_value(h->value)) {
			*why = "Bad header";
			return -1;
		}
		len = strlen(h->key);
		listed = 0;
		TAILQ_FOREACH(c, in, next)	/* every Connection header counts */
			if (strcasecmp(c->key, "Connection") == 0 &&
			    passthru_listed(c->value, h->key, len))
				listed = 1;
		if (listed || passthru_hop_by_hop(h->key, len) ||
		    strcasecmp(h->key, "Host") == 0 ||
		    strcasecmp(h->key, "Content-Length") == 0 ||
		    strcasecmp(h->key, "Expect") == 0)
			continue;
		if (strcasecmp(h->key, "Accept") == 0)
			accept = 1;
		if (strcasecmp(h->key, "Content-Type") == 0)
			ctype = 1;
		/* A member's submission is read here for its jobid: plain. */
		if (p->reserved && strcasecmp(h->key, "Accept-Encoding") == 0)
			continue;
		if (strcasecmp(h->key, "Authorization") == 0) {
			if (p->member != NULL)
				continue;	/* a member key stays here */
			if (auth_parse(h->value, &tok, &len) == 0) {
				auth_token_id(tok, len, p->token_id);
				memcpy(p->fp, p->token_id, FINGERPRINT_LEN);
				/* A submission's job is watched with it. */
				if (p->submit_type != NULL && p->token == NULL &&
				    p->px->cfg->watch &&
				    (p->token = malloc(len + 1)) != NULL) {
					memcpy(p->token, tok, len);
					p->token[len] = '\0';
					p->token_len = len;
				}
			}
		}
		if (upstream_header_add(list, h->key, h->value) != 0)
			return -1;
	}
	if (p->member != NULL && held_token(p, list) != 0)
		return -1;
	/*
	 * Nothing the client did not send: curl's defaults are taken out
	 * (it adds Content-Type and Expect only to a request with a body).
	 */
	if ((!accept && upstream_header_add(list, "Accept", NULL) != 0) ||
	    (upload && !ctype &&
	    upstream_header_add(list, "Content-Type", NULL) != 0) ||
	    (upload && upstream_header_add(list, "Expect", NULL) != 0))
		return -1;
	return 0;
}

/* A request-target holds no spaces or control bytes. */
static int
clean_target(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Whether the request-target has a "." or ".." path segment. */
static int
has_dot_segment(const char *uri)
{
	size_t n = strcspn(uri, "?");

	for (size_t i = 0; i < n; i++) {
		if (uri[i] != '/' || uri[i + 1] != '.')
			continue;
		if (i + 2 >= n || uri[i + 2] == '/' ||
		    (uri[i + 2] == '.' && (i + 3 >= n || uri[i + 3] == '/')))
			return 1;
	}
	return 0;
}

struct passthru_set *
passthru_new(struct proxy *px)
{
	struct passthru_set *set;

	CHECK_OBJ(px, PROXY_MAGIC);
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->magic = PASSTHRU_SET_MAGIC;
	set->px = px;
	TAILQ_INIT(&set->list);
	if ((set->chunk = evbuffer_new()) == NULL ||
	    (set->blocks = calloc(1, sizeof(*set->blocks))) == NULL) {
		if (set->chunk != NULL)
			evbuffer_free(set->chunk);
		free(set);
		return NULL;
	}
	set->blocks->magic = BLOCKS_MAGIC;
	return set;
}

void
passthru_free(struct passthru_set *set)
{
	if (set == NULL)
		return;
	CHECK_OBJ(set, PASSTHRU_SET_MAGIC);
	evbuffer_free(set->chunk);
	set->blocks->orphaned = 1;
	blocks_release(set->blocks);
	memset(set, 0, sizeof(*set));
	free(set);
}

void
passthru_handle(struct passthru_set *set, struct evhttp_request *req,
    int64_t started)
{
	struct proxy *px;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *target = evhttp_request_get_uri(req);
	const char *path = evhttp_uri_get_path(uri), *method, *why;
	struct framer *framer = reply_framer(req);
	struct curl_slist *headers = NULL;
	struct reply_info ri;
	struct passthru *p;
	struct member *m = NULL;
	enum gateway_path kind = GATEWAY_OPEN;
	char *url = NULL, small_url[1024];
	int64_t body_len;
	size_t ulen;
	int oom = 0;

	CHECK_OBJ(set, PASSTHRU_SET_MAGIC);
	px = set->px;
	memset(&ri, 0, sizeof(ri));
	ri.started = started;
	if (framer != NULL)
		framer_hold_read_timeout(framer);
	if (px->gateway != NULL && (m = gateway_admit(px, req, path ? path :
	    "", &kind, &ri)) == NULL)
		return;
	if (px->cfg->offline) {
		reply_error(px, req, 504, "Not in cache (offline)", &ri);
		return;
	}
	method = reply_method(req);
	/* CONNECT and unknown methods the framer refused already. */
	if (strcmp(method, "TRACE") == 0) {
		reply_not_allowed(px, req,
		    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", &ri);
		return;
	}
	/* Origin-form only; what curl would cut or fold is refused. */
	if (target == NULL || target[0] != '/' || !clean_target(target) ||
	    evhttp_uri_get_fragment(uri) != NULL || has_dot_segment(target)) {
		reply_error(px, req, 400, "Bad request target", &ri);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		reply_error(px, req, 503, "Out of memory", &ri);
		return;
	}
	p->magic = PASSTHRU_MAGIC;
	p->px = px;
	p->set = set;
	p->req = req;
	p->started = started;
	p->member = m;
	TAILQ_INSERT_TAIL(&set->list, p, entry);
	reply_request_started(px);
	if ((kind == GATEWAY_SUBMIT_VIDEO || kind == GATEWAY_SUBMIT_IMAGE) &&
	    gateway_limits(p, kind, &ri) != 0) {
		request_free(p);
		return;
	}
	if (m == NULL && evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
	    (strcmp(path, "/v1/luma/videos") == 0 ||
	    strcmp(path, "/v1/luma/images") == 0))
		p->submit_type = path[9] == 'v' ? "video" : "image";
	/* The body streams from the framer; without one there is none. */
	if (framer != NULL && framer_current(framer) == FRAMER_STREAM)
		body_len = framer_body_length(framer);
	else {
		body_len = 0;
		framer = NULL;
	}
	if (forward_headers(p, evhttp_request_get_input_headers(req),
	    upstream_sends_body(method, body_len), &headers, &why) != 0) {
		upstream_headers_free(headers);
		who(p, &ri);
		reply_error(px, req, why ? 400 : 503,
		    why ? why : "Out of memory", &ri);
		request_free(p);
		return;
	}
	who(p, &ri);
	if (body_len < 0 && upstream_header_add(&headers, "Transfer-Encoding",
	    "chunked") != 0)
		oom = 1;
	ulen = strlen(px->cfg->upstream) + strlen(target) + 1;
	if (ulen <= sizeof(small_url))
		url = small_url;
	else if (!oom && (url = malloc(ulen)) == NULL)
		oom = 1;
	if (oom) {
		upstream_headers_free(headers);
		reply_error(px, req, 503, "Out of memory", &ri);
		request_free(p);
		return;
	}
	snprintf(url, ulen, "%s%s", px->cfg->upstream, target);
	p->body_left = body_len;
	p->body_sent = body_len == 0;
	p->up = upstream_stream(px->up, method, url, headers, body_len,
	    &stream_cb, p);
	if (url != small_url)
		free(url);
	if (p->up == NULL) {
		reply_error(px, req, 503, "Cannot start the upstream request",
		    &ri);
		request_free(p);
		return;
	}
	if (m != NULL)
		team_note_upstream(m);
	if (framer != NULL) {
		p->framer = framer;
		framer_attach(framer, body_ready, p);
	}
	p->watch = reply_watch_client(px, req, client_gone, p);
}

void
passthru_shutdown(struct passthru_set *set)
{
	struct passthru *p, *next;
	struct reply_info ri;

	CHECK_OBJ(set, PASSTHRU_SET_MAGIC);
	for (p = TAILQ_FIRST(&set->list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->orphan) {
			request_free(p);
			continue;
		}
		if (p->head_sent || evhttp_request_get_connection(p->req) == NULL)
			continue;
		unhook(p);
		memset(&ri, 0, sizeof(ri));
		ri.started = p->started;
		who(p, &ri);
		evhttp_add_header(evhttp_request_get_output_headers(p->req),
		    "Connection", "close");
		reply_error(set->px, p->req, 503, "Shutting down", &ri);
		request_free(p);
	}
}
