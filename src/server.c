/*
 * The HTTP front end: the listener, evhttp behind the framer, connection
 * limits (evhttp 2.1 has none of its own: past --max-connections a
 * connection's request is answered 503 and the connection closed, and the
 * listener pauses while REFUSING_MAX of those are open too), routing, the
 * proxy's own endpoints, and SIGINT/SIGTERM, which drain what is in
 * flight.  Answers go out through the reply layer; the routes below it
 * never call up into here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "cache.h"
#include "config.h"
#include "framer.h"
#include "gateway.h"
#include "head.h"
#include "hot.h"
#include "jobs.h"
#include "jobs_push.h"
#include "log.h"
#include "media.h"
#include "media_serve.h"
#include "metrics.h"
#include "passthru.h"
#include "proxy.h"
#include "reply.h"
#include "route.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define SERVER_MAGIC		0x53525652u
#define DRAIN_TIMEOUT_S		5
#define CONN_SWEEP_MS		100
#define FD_RESERVE		64		/* for curl, SQLite, logs */
#define REFUSING_MAX		64		/* connections past the limit at once */
#define TOO_MANY		"Too many connections"
#define FULL_LOG_MS		60000

/* An open connection: evhttp's bufferevent, and whether it is refused. */
struct conn {
	struct bufferevent		*bev;		/* owned ref */
	int				 refusing;	/* accepted past the limit */
};

struct server {
	unsigned			 magic;
	struct proxy			*px;		/* borrowed */
	struct evhttp_bound_socket	*bound;		/* owned by evhttp */
	struct conn			*conns;		/* one per open connection */
	size_t				 nconns;
	size_t				 nrefusing;	/* of them, past the limit */
	size_t				 maxconns;
	int				 paused;	/* listener disabled at the limit */
	int64_t				 full_said;	/* ms: the limit last logged */
	int64_t				 paused_said;	/* ms: the pause last logged */
	struct event			*conn_sweep;	/* owned */
	struct event			*sig_int;	/* owned */
	struct event			*sig_term;	/* owned */
	struct event			*sig_usr1;	/* owned: reopen the access file */
	struct event			*deadline;	/* owned: drain timeout */
	struct framer_fast		 fast;		/* what the framer asks first */
	char				 addr[300];	/* actual listen address */
};

/* The proxy's own endpoints answer GET and HEAD; 405 otherwise. */
static int
local_method_ok(struct proxy *px, struct evhttp_request *req,
    const struct reply_info *ri)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
		return 1;
	reply_not_allowed(px, req, "GET, HEAD", ri);
	return 0;
}

/*
 * GET /healthz: whether the cache answers a read of its own tables and,
 * once a write failed for want of a disk, whether it can be written again
 * (a probe, at most once a second, while it cannot).
 */
static void
healthz(struct proxy *px, struct evhttp_request *req,
    const struct reply_info *ri)
{
	struct evbuffer *b;
	static const char ok[] = "{\"status\":\"ok\"}";
	char msg[128];

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	if (cache_file_gone(px->cache)) {
		log_error("healthz: the database file %s was removed or"
		    " replaced; restart to use the file there now",
		    px->cfg->db);
		reply_error(px, req, 503, "Database file removed or replaced",
		    ri);
		return;
	}
	if (cache_ping(px->cache) != 0) {
		log_error("healthz: the database does not answer");
		reply_error(px, req, 503, "Database unavailable", ri);
		return;
	}
	/* Said in the log when writes began to fail, not at every check. */
	if (cache_write_probe(px->cache, util_mono_ms()) != 0) {
		snprintf(msg, sizeof(msg), "Database cannot be written: %s",
		    cache_write_error(px->cache));
		reply_error(px, req, 503, msg, ri);
		return;
	}
	if ((b = evbuffer_new()) != NULL)
		evbuffer_add(b, ok, sizeof(ok) - 1);
	reply_send(px, req, b != NULL ? 200 : 503, b, ri);
	if (b != NULL)
		evbuffer_free(b);
}

static void
count_status(const char *status, int64_t count, void *arg)
{
	struct metrics_gauges *g = arg;

	for (size_t i = 0; i < nitems(g->cached); i++)
		if (strcmp(status, metrics_job_statuses[i]) == 0)
			g->cached[i] = count;
}

/* GET /metrics: the Prometheus text exposition. */
static void
metrics_page(struct proxy *px, struct evhttp_request *req,
    const struct reply_info *ri)
{
	struct metrics_gauges g;
	struct jobs_stats js;
	struct hot_stats hs;
	struct evbuffer *b;

	memset(&g, 0, sizeof(g));
	jobs_get_stats(px->jobs, &js);
	g.coalesced = js.coalesced;
	g.rate_limited = js.rate_limited;
	g.waiting = (int64_t)js.waiting;
	g.watched = (int64_t)js.watched;
	g.open_connections = px->server != NULL ? (int64_t)px->server->nconns : 0;
	hot_get_stats(px->hot, &hs);
	g.memory_answers = hs.answers;
	g.memory_entries = (int64_t)hs.entries;
	g.memory_bytes = (int64_t)hs.bytes;
	g.cached_ok = cache_count_by_status(px->cache, count_status, &g) == 0;
	if ((b = evbuffer_new()) == NULL || metrics_write(px->metrics, &g, b) != 0 ||
	    (px->gateway != NULL && gateway_metrics(px->gateway, b) != 0)) {
		if (b != NULL)
			evbuffer_free(b);
		reply_error(px, req, 503, "Out of memory", ri);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	reply_send(px, req, 200, b, ri);
	evbuffer_free(b);
}

/* Team gateway: a job members had running is watched again. */
static void
resume_watch(const char *jobid, int64_t submitted, void *arg)
{
	struct proxy *px = arg;
	const char *tok;
	size_t len;

	tok = gateway_token(px->gateway, &len);
	if (jobs_watch(px->jobs, jobid, tok, len,
	    submitted + px->cfg->watch_max_age * 1000) != 0)
		log_warn("gateway: job %s is not watched again", jobid);
}

/* evhttp: every request; routes by path. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct proxy *px = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct reply_info ri;
	struct framer *f;
	const char *msg;
	int status;

	CHECK_OBJ(px, PROXY_MAGIC);
	memset(&ri, 0, sizeof(ri));
	ri.started = util_mono_ms();
	/* Keep-alive clients may still ask while we drain: send them away. */
	if (reply_draining(px)) {
		reply_error(px, req, 503, "Shutting down", &ri);
		return;
	}
	/* Refused by the framer: it ends the connection after the answer. */
	if ((f = reply_framer(req)) != NULL &&
	    (status = framer_refusal(f, &msg)) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(px, req, status, msg, &ri);
		return;
	}
	if (path == NULL || path[0] != '/') {
		reply_error(px, req, 400, "Bad request", &ri);
		return;
	}
	switch (route_of(path)) {
	case ROUTE_JOBS:
		jobs_handle(px->jobs, req, path + sizeof(ROUTE_JOBS_PREFIX) - 1,
		    ri.started);
		return;
	case ROUTE_PASSTHROUGH:
		passthru_handle(px->passthrus, req, ri.started);
		return;
	case ROUTE_HEALTHZ:
		if (local_method_ok(px, req, &ri))
			healthz(px, req, &ri);
		return;
	case ROUTE_METRICS:
		if (local_method_ok(px, req, &ri))
			metrics_page(px, req, &ri);
		return;
	case ROUTE_MEDIA:
		media_serve(px, px->media, req,
		    path + sizeof(ROUTE_MEDIA_PREFIX) - 1, &ri);
		return;
	case ROUTE_OTHER:
	case ROUTE__MAX:
		break;
	}
	reply_error(px, req, 404, "Not found", &ri);
}

/*
 * Connection accounting.  evhttp makes each connection's bufferevent
 * through bevcb; we keep a reference to it.  In libevent 2.1 only
 * bufferevent_free() and evhttp_connection_reset_() (outgoing connections
 * only) clear all three callbacks, so a bufferevent found that way has been
 * released by evhttp: conn_release() drops our reference, which closes
 * the socket (CLOSE_ON_FREE) after its events are gone, and the count.
 * It runs from the sweep's timer, and when a connection comes at the
 * limit, so that one released since then makes room for it.
 */
static void
conn_release(struct server *sv)
{
	size_t i = 0;

	while (i < sv->nconns) {
		if (!framer_evhttp_holds(sv->conns[i].bev)) {
			bufferevent_decref(sv->conns[i].bev);
			if (sv->conns[i].refusing)
				sv->nrefusing--;
			sv->conns[i] = sv->conns[--sv->nconns];
		} else
			i++;
	}
}

/* The timer's round: released connections, the access file, the listener. */
static void
conn_sweep(struct server *sv)
{
	conn_release(sv);
	/* An access file is written out at least this often. */
	log_access_flush();
	/* Resumes after the limit or an accept error (enabling is idempotent). */
	if (sv->nconns < sv->maxconns + REFUSING_MAX &&
	    !reply_draining(sv->px) && sv->bound != NULL) {
		evconnlistener_enable(evhttp_bound_socket_get_listener(sv->bound));
		sv->paused = 0;
	}
}

/*
 * Every CONN_SWEEP_MS: the connections, and the database's clock and
 * write probe, so that an instance that only serves hits (no commit, no
 * /healthz) still notices, and logs, that its disk works again.
 */
static void
conn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;

	(void)fd;
	(void)what;
	conn_sweep(sv);
	(void)cache_write_probe(sv->px->cache, util_mono_ms());
}

/*
 * framer: a request head with no body, before evhttp sees it; 1 when it
 * was answered from memory (a small media file, a cached job).
 */
static int
fast_answer(void *arg, struct framer *f, const struct head *h, const char *p)
{
	struct proxy *px = arg;

	CHECK_OBJ(px, PROXY_MAGIC);
	if (media_serve_fast(px, px->media, f, h, p))
		return 1;
	return hot_answer(px->hot, f, h, p);
}

/*
 * framer: answers made without evhttp wait to be written, or not; until
 * they are, they are in flight for a draining server.
 */
static void
fast_held(void *arg, int waiting)
{
	struct proxy *px = arg;

	CHECK_OBJ(px, PROXY_MAGIC);
	if (waiting)
		reply_request_started(px);
	else
		reply_request_done(px);
}

/* evhttp: a connection was accepted; make and count its bufferevent. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
	struct server *sv = arg;
	struct bufferevent *bev;
	struct conn *c;

	CHECK_OBJ(sv, SERVER_MAGIC);
	/*
	 * With CLOSE_ON_FREE, evhttp only shuts the socket down when it is
	 * done; the sweep's last reference closes it after its events are gone.
	 */
	if ((bev = framer_bev_new(base, sv->px->cfg->max_request_body,
	    (int)sv->px->cfg->idle_timeout, &sv->fast)) == NULL)
		return NULL;
	/* At the limit, unless some were released since the last sweep. */
	if (sv->nconns - sv->nrefusing >= sv->maxconns)
		conn_release(sv);
	/* The listener is paused when all is taken, so there is always room. */
	assert(sv->nconns < sv->maxconns + REFUSING_MAX);
	bufferevent_incref(bev);
	c = &sv->conns[sv->nconns++];
	c->bev = bev;
	c->refusing = 0;
	/* Past the limit: its request gets a 503, then it is closed. */
	if (sv->nconns - sv->nrefusing > sv->maxconns) {
		framer_refuse_all(framer_of(bev), 503, TOO_MANY);
		c->refusing = 1;
		sv->nrefusing++;
		/* Said once a minute at most: a busy server stays at it. */
		if (sv->full_said == 0 ||
		    util_mono_ms() - sv->full_said >= FULL_LOG_MS) {
			sv->full_said = util_mono_ms();
			log_warn("server: %zu connections open"
			    " (--max-connections), answering more with 503",
			    sv->nconns);
		}
	}
	if (sv->nconns >= sv->maxconns + REFUSING_MAX && !sv->paused) {
		evconnlistener_disable(evhttp_bound_socket_get_listener(sv->bound));
		sv->paused = 1;
		if (sv->paused_said == 0 ||
		    util_mono_ms() - sv->paused_said >= FULL_LOG_MS) {
			sv->paused_said = util_mono_ms();
			log_warn("server: %zu connections open, %zu of them"
			    " being refused, not accepting more", sv->nconns,
			    sv->nrefusing);
		}
	}
	return bev;
}

/*
 * accept() failed (out of file descriptors, most likely): pause the
 * listener instead of spinning on it; the sweep resumes it.  arg is
 * evhttp's, not ours.
 */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	evconnlistener_disable(lev);
	log_warn("server: accept: %s; pausing new connections",
	    evutil_socket_error_to_string(err));
}

/*
 * Raises the file descriptor limit as far as allowed and returns how many
 * connections fit in it, which may be fewer than asked.
 */
static size_t
fit_connections(size_t want)
{
	struct rlimit rl;
	size_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= want + FD_RESERVE + REFUSING_MAX)
		return want;
	/* Room for the refused ones too, however small the limit. */
	room = rl.rlim_cur > FD_RESERVE + REFUSING_MAX + 1 ?
	    rl.rlim_cur - FD_RESERVE - REFUSING_MAX : 1;
	log_warn("server: the file descriptor limit (%llu) allows %zu"
	    " connections, not %zu", (unsigned long long)rl.rlim_cur, room, want);
	return room;
}

/* SIGUSR1: the access file was moved away (logrotate); open it anew. */
static void
reopen_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *sv = arg;
	const char *path = sv->px->cfg->access_log;

	(void)sig;
	(void)what;
	CHECK_OBJ(sv, SERVER_MAGIC);
	if (strcmp(path, "stderr") == 0 || strcmp(path, "off") == 0)
		return;
	if (log_access_reopen() != 0)
		log_error("server: cannot reopen the access log %s: %s; still"
		    " writing to the old file", path, strerror(errno));
	else
		log_info("server: access log %s reopened", path);
}

/* A signal: stop accepting, let requests in flight finish (5 s at most). */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *sv = arg;
	struct timeval tv = { DRAIN_TIMEOUT_S, 0 };

	(void)what;
	CHECK_OBJ(sv, SERVER_MAGIC);
	if (reply_draining(sv->px)) {
		log_info("server: second signal, stopping now");
		event_base_loopexit(sv->px->base, NULL);
		return;
	}
	log_info("server: %s, finishing %lld requests in flight",
	    strsignal((int)sig), (long long)sv->px->pending);
	evhttp_del_accept_socket(sv->px->http, sv->bound);
	sv->bound = NULL;
	sv->paused = 1;
	event_add(sv->deadline, &tv);
	/* Draining first: the answers to long polls close their connections. */
	reply_drain(sv->px);
	jobs_drain(sv->px->jobs);	/* long polls answered at once */
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;

	(void)fd;
	(void)what;
	log_warn("server: drain timeout, %lld requests cut short",
	    (long long)sv->px->pending);
	event_base_loopexit(sv->px->base, NULL);
}

/* libevent's own warnings go to our log, where they belong. */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_error("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Binds the listen address; fills sv->addr with the actual one. */
static int
server_listen(struct server *sv, const struct config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port = 0;

	errno = 0;
	sv->bound = evhttp_bind_socket_with_handle(sv->px->http,
	    cfg->listen_host, (ev_uint16_t)cfg->listen_port);
	if (sv->bound == NULL) {
		fprintf(stderr, "lumaproxy: cannot listen on %s%s%s:%u: %s\n",
		    strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
		    strchr(cfg->listen_host, ':') ? "]" : "", cfg->listen_port,
		    errno ? strerror(errno) : "bad address");
		return -1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(sv->bound),
	    (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			port = ntohs(s6->sin6_port);
			snprintf(sv->addr, sizeof(sv->addr), "[%s]:%u", host, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			port = ntohs(s4->sin_port);
			snprintf(sv->addr, sizeof(sv->addr), "%s:%u", host, port);
		}
	}
	return 0;
}

int
server_run(const struct config *cfg)
{
	struct proxy px;
	struct server sv;
	struct upstream_options uo;
	struct media_options mo;
	struct jobs_stats js;
	struct event_config *evcfg = NULL;
	sigset_t sigs;
	struct timeval sweep_tv = { 0, CONN_SWEEP_MS * 1000 };
	char err[512], public_url[1024], upstream_url[CONFIG_URL_MAX];
	int64_t all = 0, terminal = 0;
	int rc = 1;

	memset(&px, 0, sizeof(px));
	memset(&sv, 0, sizeof(sv));
	px.magic = PROXY_MAGIC;
	px.cfg = cfg;
	px.policy.pending_interval_ms = cfg->pending_interval * 1000;
	px.policy.negative_ttl_ms = cfg->negative_ttl * 1000;
	px.policy.pending_mode = cfg->pending_mode;
	sv.magic = SERVER_MAGIC;
	sv.px = &px;
	sv.fast.answer = fast_answer;
	sv.fast.held = fast_held;
	sv.fast.arg = &px;
	sv.maxconns = fit_connections((size_t)cfg->max_connections);

	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lumaproxy: cannot initialize libcurl\n");
		return 1;
	}
	/*
	 * epoll changes are batched: a connection whose reading is turned
	 * off and on again within one pass costs no epoll_ctl(2).  Safe as
	 * long as no descriptor the loop watches is dup(2)ed; none is.
	 */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) != 0 ||
	    (px.base = event_base_new_with_config(evcfg)) == NULL ||
	    (px.http = evhttp_new(px.base)) == NULL ||
	    (sv.conns = calloc(sv.maxconns + REFUSING_MAX,
	    sizeof(*sv.conns))) == NULL) {
		fprintf(stderr, "lumaproxy: out of memory\n");
		goto done;
	}
	/*
	 * The framer decides what a request is: evhttp gets heads it accepted,
	 * of HEAD_MAX bytes at most, without their framing headers.
	 * evhttp's own limits sit above, so that they can never be the ones
	 * that decide.
	 */
	evhttp_set_max_headers_size(px.http, 2 * HEAD_MAX);
	evhttp_set_max_body_size(px.http, 0);
	evhttp_set_timeout(px.http, (int)cfg->idle_timeout);
	evhttp_set_allowed_methods(px.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	/* Relayed answers keep upstream's headers; ours set their own. */
	evhttp_set_default_content_type(px.http, NULL);
	evhttp_set_gencb(px.http, request_cb, &px);
	evhttp_set_bevcb(px.http, bev_cb, &sv);

	/* Check first: a bad address must not leave a database behind. */
	if (cfg->media_dir[0] != '\0' &&
	    media_check_dir(cfg->media_dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "lumaproxy: %s\n", err);
		goto done;
	}
	if (log_access_open(cfg->access_log) != 0) {
		fprintf(stderr, "lumaproxy: cannot open the access log %s: %s\n",
		    cfg->access_log, strerror(errno));
		goto done;
	}
	if (server_listen(&sv, cfg) != 0)
		goto done;
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(sv.bound),
	    accept_error_cb);
	if ((px.cache = cache_open(cfg->db, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lumaproxy: %s\n", err);
		goto done;
	}
	if (cfg->upstream_token_file[0] != '\0' &&
	    (px.gateway = gateway_new(&px, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lumaproxy: %s\n", err);
		goto done;
	}
	uo.timeout_ms = (long)cfg->upstream_timeout * 1000;
	uo.max_body = (size_t)cfg->max_upstream_body;
	/*
	 * Rewritten answers are made per request.  With a mirror, an eighth
	 * of the memory for answers is its small files'.
	 */
	if ((px.hot = hot_new(&px, config_rewrites_media(cfg) ? 0 :
	    cfg->memory_cache - (cfg->media_dir[0] != '\0' ?
	    cfg->memory_cache / 8 : 0))) == NULL ||
	    (px.up = upstream_new(px.base, &uo)) == NULL ||
	    (px.metrics = metrics_new()) == NULL ||
	    (px.jobs = jobs_new(&px)) == NULL ||
	    (px.passthrus = passthru_new(&px)) == NULL ||
	    (sv.conn_sweep = event_new(px.base, -1, EV_PERSIST, conn_sweep_cb,
	    &sv)) == NULL ||
	    event_add(sv.conn_sweep, &sweep_tv) != 0 ||
	    (sv.sig_int = evsignal_new(px.base, SIGINT, signal_cb, &sv)) == NULL ||
	    (sv.sig_term = evsignal_new(px.base, SIGTERM, signal_cb, &sv)) == NULL ||
	    (sv.sig_usr1 = evsignal_new(px.base, SIGUSR1, reopen_cb, &sv)) == NULL ||
	    event_add(sv.sig_usr1, NULL) != 0 ||
	    (sv.deadline = evtimer_new(px.base, deadline_cb, &sv)) == NULL ||
	    event_add(sv.sig_int, NULL) != 0 || event_add(sv.sig_term, NULL) != 0) {
		fprintf(stderr, "lumaproxy: cannot set up the event loop\n");
		goto done;
	}
	if (cfg->public_url[0] != '\0')
		snprintf(public_url, sizeof(public_url), "%s", cfg->public_url);
	else
		snprintf(public_url, sizeof(public_url), "http://%s", sv.addr);
	if (cfg->media_dir[0] != '\0') {
		mo.dir = cfg->media_dir;
		mo.public_url = public_url;
		mo.concurrency = (int)cfg->media_concurrency;
		mo.max_bytes = cfg->max_media_bytes;
		mo.metrics = px.metrics;
		mo.keep_bytes = cfg->memory_cache / 8;
		if ((px.media = media_new(px.base, px.up, px.cache, &mo, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "lumaproxy: %s\n", err);
			goto done;
		}
	}
	px.server = &sv;
	if (px.gateway != NULL && cfg->watch && !cfg->offline)
		gateway_each_running(px.gateway, resume_watch, &px);
	cache_count_jobs(px.cache, &all, &terminal);
	log_always("lumaproxy %s listening on %s, upstream %s, database %s"
	    " (%lld jobs, %lld finished)%s%s%s%s%s%s", PACKAGE_VERSION, sv.addr,
	    util_log_url(cfg->upstream, upstream_url, sizeof(upstream_url)),
	    cfg->db, (long long)all, (long long)terminal,
	    px.gateway ? ", team gateway" : "",
	    cfg->offline ? ", offline" : "",
	    px.media ? ", media in " : "", px.media ? cfg->media_dir : "",
	    config_rewrites_media(cfg) ? ", media links to " : "",
	    config_rewrites_media(cfg) ? public_url : "");
	/* Offline: media are served, never downloaded. */
	if (px.media != NULL && !cfg->offline)
		media_start(px.media);

	if (event_base_dispatch(px.base) != 0)
		log_error("server: event loop failed");
	else
		rc = 0;
	jobs_get_stats(px.jobs, &js);
	log_always("server: stopped after %llu upstream calls, %llu coalesced"
	    " waits, %llu rate-limited answers",
	    (unsigned long long)js.upstream_calls,
	    (unsigned long long)js.coalesced,
	    (unsigned long long)js.rate_limited);
done:
	/* A second signal must not kill us half way through closing down. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	px.server = NULL;
	media_free(px.media);		/* partial files removed, rows kept */
	px.media = NULL;		/* nothing downloads or links from here on */
	jobs_free(px.jobs);		/* answers what is left with 503 ... */
	if (px.passthrus != NULL)
		passthru_shutdown(px.passthrus);
	for (int i = 0; px.base != NULL && i < 10; i++)	/* ... and sends it */
		event_base_loop(px.base, EVLOOP_NONBLOCK);
	/* Connections freed from here on count nothing in flight. */
	sv.fast.held = NULL;
	/* Pass-through requests left go with their connections ... */
	if (px.http != NULL)
		evhttp_free(px.http);	/* frees the listener too */
	sv.bound = NULL;
	upstream_free(px.up);		/* ... before their upstream calls. */
	passthru_free(px.passthrus);
	conn_sweep(&sv);
	for (size_t i = 0; i < sv.nconns; i++)
		bufferevent_decref(sv.conns[i].bev);
	free(sv.conns);
	if (sv.conn_sweep != NULL)
		event_free(sv.conn_sweep);
	if (sv.sig_int != NULL)
		event_free(sv.sig_int);
	if (sv.sig_term != NULL)
		event_free(sv.sig_term);
	if (sv.sig_usr1 != NULL)
		event_free(sv.sig_usr1);
	if (sv.deadline != NULL)
		event_free(sv.deadline);
	log_access_close();		/* flushed: every line answered is there */
	gateway_free(px.gateway);	/* usage written */
	metrics_free(px.metrics);
	hot_free(px.hot);
	cache_close(px.cache);
	if (px.base != NULL)
		event_base_free(px.base);
	if (evcfg != NULL)
		event_config_free(evcfg);
	curl_global_cleanup();
	return rc;
}
