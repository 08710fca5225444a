/*
 * The reply layer.  Answers go out through evhttp with the proxy's
 * headers; each is logged once and counted in the metrics.  While the
 * server drains, answers close their connection and the loop ends once
 * nothing is in flight (px->pending) or being written (px->unsent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "framer.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "reply.h"
#include "team.h"
#include "util.h"

#define WATCH_MAGIC		0x57415443u

int
reply_error_body(struct evbuffer *buf, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -1;

	if (s != NULL)
		rc = evbuffer_add(buf, s, strlen(s));
	free(s);
	json_decref(o);
	return rc;
}

const char *
reply_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:		return "GET";
	case EVHTTP_REQ_POST:		return "POST";
	case EVHTTP_REQ_HEAD:		return "HEAD";
	case EVHTTP_REQ_PUT:		return "PUT";
	case EVHTTP_REQ_DELETE:		return "DELETE";
	case EVHTTP_REQ_OPTIONS:	return "OPTIONS";
	case EVHTTP_REQ_TRACE:		return "TRACE";
	case EVHTTP_REQ_CONNECT:	return "CONNECT";
	case EVHTTP_REQ_PATCH:		return "PATCH";
	}
	return "-";
}

/* Ends the loop once draining and nothing is in flight or being written. */
static void
maybe_finish(struct proxy *px)
{
	if (px->draining && px->pending <= 0 && px->unsent <= 0)
		event_base_loopexit(px->base, NULL);
}

/* evhttp: a reply has been written whole; the connection takes the next. */
static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct proxy *px = arg;
	struct framer *f;

	CHECK_OBJ(px, PROXY_MAGIC);
	if ((f = reply_framer(req)) != NULL)
		framer_request_done(f);
}

/* evhttp: a reply sent while draining has been written whole. */
static void
sent_cb(struct evhttp_request *req, void *arg)
{
	struct proxy *px = arg;

	CHECK_OBJ(px, PROXY_MAGIC);
	done_cb(req, px);
	px->unsent--;
	maybe_finish(px);
}

void
reply_track(struct proxy *px, struct evhttp_request *req)
{
	CHECK_OBJ(px, PROXY_MAGIC);
	if (px->draining) {
		px->unsent++;
		evhttp_request_set_on_complete_cb(req, sent_cb, px);
	} else
		evhttp_request_set_on_complete_cb(req, done_cb, px);
}

void
reply_send(struct proxy *px, struct evhttp_request *req, int status,
    struct evbuffer *body, const struct reply_info *ri)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *cs = NULL;
	char len[24];

	CHECK_OBJ(px, PROXY_MAGIC);
	if (evhttp_find_header(h, "Content-Type") == NULL)
		evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
	if (ri->cache != NULL) {
		evhttp_add_header(h, "X-Cache", ri->cache);
		if (strcmp(ri->cache, "HIT") == 0)
			cs = ri->stored < 0 ? "lumaproxy; hit; detail=store-failed" :
			    "lumaproxy; hit";
		else if (strcmp(ri->cache, "STALE") == 0)
			cs = "lumaproxy; hit; detail=stale";
		else
			cs = ri->stored > 0 ? "lumaproxy; fwd=miss; stored" :
			    ri->stored < 0 ?
			    "lumaproxy; fwd=miss; detail=store-failed" :
			    "lumaproxy; fwd=miss";
		evhttp_add_header(h, "Cache-Status", cs);
	}
	/* HEAD: the length of the body GET would get, and no body. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		if (status != 304) {
			snprintf(len, sizeof(len), "%zu",
			    body ? evbuffer_get_length(body) : (size_t)0);
			evhttp_add_header(h, "Content-Length", len);
		}
		body = NULL;
	}
	/* evhttp 2.1 would write a body after a 304 or 204 too. */
	if (status == 304 || status == 204)
		body = NULL;
	if (px->draining)
		evhttp_add_header(h, "Connection", "close");

	reply_log(px, req, status, ri);
	reply_track(px, req);
	/* Phrases evhttp 2.1 does not know; NULL: its own. */
	evhttp_send_reply(req, status, status == 429 ? "Too Many Requests" :
	    status == 431 ? "Request Header Fields Too Large" : NULL, body);
}

void
reply_error(struct proxy *px, struct evhttp_request *req, int status,
    const char *msg, const struct reply_info *ri)
{
	struct evbuffer *body = evbuffer_new();

	if (body != NULL)
		reply_error_body(body, msg);
	reply_send(px, req, status, body, ri);
	if (body != NULL)
		evbuffer_free(body);
}

/* The client of a request answered later. */
struct client_watch {
	unsigned		 magic;
	struct evhttp_request	*req;		/* borrowed */
	struct event		*closed;	/* owned: EV_CLOSED on the socket */
	void			(*gone)(void *);
	void			*arg;
};

static void
watch_free(struct client_watch *w)
{
	if (w->closed != NULL)
		event_free(w->closed);
	memset(w, 0, sizeof(*w));
	free(w);
}

void
reply_unwatch_client(struct client_watch *w)
{
	struct evhttp_connection *evcon;

	if (w == NULL)
		return;
	CHECK_OBJ(w, WATCH_MAGIC);
	if ((evcon = evhttp_request_get_connection(w->req)) != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	watch_free(w);
}

/* closecb: evhttp is freeing the connection (write error, timeout, EOF). */
static void
watch_conn_freed(struct evhttp_connection *evcon, void *arg)
{
	struct client_watch *w = arg;
	struct evhttp_request *req;
	void (*gone)(void *);
	void *garg;

	(void)evcon;
	CHECK_OBJ(w, WATCH_MAGIC);
	req = w->req;
	gone = w->gone;
	garg = w->arg;
	watch_free(w);
	gone(garg);
	/*
	 * An unanswered request whose connection failed has been detached
	 * from it, and is ours to free; otherwise evhttp frees it.
	 */
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/* EV_CLOSED on the client's socket: it hung up. */
static void
watch_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_watch *w = arg;
	struct evhttp_connection *evcon;
	void (*gone)(void *);
	void *garg;

	(void)fd;
	(void)what;
	CHECK_OBJ(w, WATCH_MAGIC);
	evcon = evhttp_request_get_connection(w->req);
	gone = w->gone;
	garg = w->arg;
	reply_unwatch_client(w);
	gone(garg);
	/* Frees the request too; nothing will be written to the dead socket. */
	if (evcon != NULL)
		evhttp_connection_free(evcon);
}

struct client_watch *
reply_watch_client(struct proxy *px, struct evhttp_request *req,
    void (*gone)(void *), void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct client_watch *w;

	CHECK_OBJ(px, PROXY_MAGIC);
	if (evcon == NULL || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->magic = WATCH_MAGIC;
	w->req = req;
	w->gone = gone;
	w->arg = arg;
	w->closed = event_new(px->base, bufferevent_getfd(
	    evhttp_connection_get_bufferevent(evcon)), EV_CLOSED,
	    watch_closed_cb, w);
	if (w->closed != NULL)
		event_add(w->closed, NULL);
	evhttp_connection_set_closecb(evcon, watch_conn_freed, w);
	return w;
}

struct framer *
reply_framer(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	return evcon != NULL ?
	    framer_of(evhttp_connection_get_bufferevent(evcon)) : NULL;
}

/* The access line of la, its count in the metrics and the member's. */
static void
log_and_count(struct proxy *px, const struct log_access *la,
    struct member *member)
{
	log_access(la);
	if (px->metrics != NULL)
		metrics_request(px->metrics, route_of(la->path), la->status,
		    la->cache);
	if (member != NULL)
		team_note_request(member, la->cache != NULL &&
		    strcmp(la->cache, "HIT") == 0);
}

void
reply_log(struct proxy *px, struct evhttp_request *req, int status,
    const struct reply_info *ri)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri;
	struct log_access la;
	struct framer *f;
	const char *standin;
	char client[80];
	char *host = NULL;
	ev_uint16_t port = 0;

	memset(&la, 0, sizeof(la));
	snprintf(client, sizeof(client), "-");
	if (evcon != NULL) {
		evhttp_connection_get_peer(evcon, &host, &port);
		snprintf(client, sizeof(client), "%s:%u", host ? host : "-",
		    (unsigned)port);
	}
	la.client = client;
	/* A refused request line evhttp never saw: its method, no path. */
	if ((f = reply_framer(req)) != NULL &&
	    (standin = framer_standin_method(f)) != NULL) {
		la.method = standin;
		la.path = NULL;
	} else {
		uri = evhttp_request_get_evhttp_uri(req);
		la.method = reply_method(req);
		la.path = uri ? evhttp_uri_get_path(uri) : NULL;
	}
	la.status = status;
	la.cache = ri->cache;
	la.upstream_status = ri->upstream_status;
	la.duration_ms = util_mono_ms() - ri->started;
	la.token = ri->token;
	log_and_count(px, &la, ri->member);
}

void
reply_log_framed(struct proxy *px, struct framer *f, int head,
    const char *target, size_t target_len, int status,
    const struct reply_info *ri)
{
	struct log_access la;
	char path[4096];

	CHECK_OBJ(px, PROXY_MAGIC);
	snprintf(path, sizeof(path), "%.*s", (int)target_len, target);
	memset(&la, 0, sizeof(la));
	la.client = framer_peer(f);
	la.method = head ? "HEAD" : "GET";
	la.path = path;
	la.status = status;
	la.cache = ri->cache;
	la.token = ri->token;
	log_and_count(px, &la, ri->member);
}

void
reply_not_allowed(struct proxy *px, struct evhttp_request *req,
    const char *allow, const struct reply_info *ri)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	reply_error(px, req, 405, "Method not allowed", ri);
}

void
reply_request_started(struct proxy *px)
{
	CHECK_OBJ(px, PROXY_MAGIC);
	px->pending++;
}

void
reply_request_done(struct proxy *px)
{
	CHECK_OBJ(px, PROXY_MAGIC);
	px->pending--;
	maybe_finish(px);
}

void
reply_drain(struct proxy *px)
{
	CHECK_OBJ(px, PROXY_MAGIC);
	px->draining = 1;
	maybe_finish(px);
}

int
reply_draining(const struct proxy *px)
{
	return px->draining;
}
