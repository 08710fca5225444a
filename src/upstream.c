/*
 * libcurl multi on the libevent loop, after curl's hiperfifo example: curl
 * tells us which sockets to watch (sock_cb) and when to wake it (timer_cb);
 * libevent calls back into curl_multi_socket_action(); finished transfers
 * are drained from curl_multi_info_read() after every action.  Bodies of
 * upstream_get() grow up to max_body and no further; streamed requests
 * hand their answer over piece by piece and can be paused.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "upstream.h"
#include "util.h"

#define UPSTREAM_MAGIC		0x55505354u
#define UPSTREAM_REQ_MAGIC	0x55505251u
#define SOCKINFO_MAGIC		0x534f434bu
#define RETRY_AFTER_MAX		(86400 * 7)	/* seconds */
/*
 * Idle upstream connections kept for reuse.  curl's default is four per
 * transfer in progress, so each lull in the load closed connections that
 * the next burst opened again (about one miss in ten paid for a new
 * connection at 50 clients).
 */
#define CONNS_KEPT		256L
#define POOL_MAX		64		/* idle easy handles kept for reuse */

struct upstream {
	unsigned			 magic;
	struct event_base		*base;		/* borrowed */
	CURLM				*multi;		/* owned */
	struct event			*timer;		/* owned */
	struct upstream_options		 opt;
	int				 active;
	TAILQ_HEAD(, upstream_request)	 requests;
	CURL				*pool[POOL_MAX]; /* owned: reset, idle */
	int				 npool;
};

struct upstream_request {
	unsigned			 magic;
	struct upstream			*up;		/* borrowed */
	CURL				*easy;		/* owned */
	struct curl_slist		*headers;	/* owned, holds the token */
	unsigned char			*body;		/* owned */
	size_t				 len, cap;
	const struct upstream_stream_cb	*scb;		/* borrowed; NULL: not streamed */
	long				 status;	/* of the answer being read */
	int				 headers_done;	/* head callback ran */
	int				 follow;	/* redirects are followed */
	int				 too_large;
	int64_t				 retry_after;
	int64_t				 started;
	char				 content_type[128];
	upstream_done_fn		*done;
	void				*arg;
	TAILQ_ENTRY(upstream_request)	 entry;
	char				 errbuf[CURL_ERROR_SIZE];
};

/* One socket curl asked us to watch; hung on the socket by curl_multi_assign. */
struct sockinfo {
	unsigned		 magic;
	struct upstream		*up;		/* borrowed */
	struct event		*ev;		/* owned */
};

static void	check_done(struct upstream *);
static int	stream_header(struct upstream_request *, const char *, size_t);

/*
 * An easy handle for a new request: one of the pool, whose options a reset
 * took back to curl's defaults (it keeps its buffers), or a new one.
 */
static CURL *
easy_get(struct upstream *up)
{
	if (up->npool > 0)
		return up->pool[--up->npool];
	return curl_easy_init();
}

/* Takes back an easy handle that is in no multi: to the pool, or freed. */
static void
easy_put(struct upstream *up, CURL *e)
{
	if (up->npool < POOL_MAX) {
		curl_easy_reset(e);
		up->pool[up->npool++] = e;
	} else
		curl_easy_cleanup(e);
}

/* Frees a request and everything it owns; the token is wiped first. */
static void
request_free(struct upstream_request *r)
{
	CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->up->multi, r->easy);
		easy_put(r->up, r->easy);
	}
	upstream_headers_free(r->headers);
	free(r->body);
	TAILQ_REMOVE(&r->up->requests, r, entry);
	r->up->active--;
	memset(r, 0, sizeof(*r));
	free(r);
}

/* libevent: a socket curl watches is ready. */
static void
event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;
	int action = 0, running = 0;

	CHECK_OBJ(up, UPSTREAM_MAGIC);
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(up->multi, fd, action, &running);
	check_done(up);
}

/* libevent: curl's timeout expired. */
static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;
	int running = 0;

	(void)fd;
	(void)what;
	CHECK_OBJ(up, UPSTREAM_MAGIC);
	curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(up);
}

/* curl: (re)arm our single timer; -1 disarms it. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct upstream *up = arg;
	struct timeval tv;

	(void)multi;
	CHECK_OBJ(up, UPSTREAM_MAGIC);
	if (timeout_ms < 0) {
		evtimer_del(up->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(up->timer, &tv);
}

/* curl: watch socket s for `what`, or stop watching it. */
static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct upstream *up = arg;
	struct sockinfo *si = sockp;
	short kind;

	(void)easy;
	CHECK_OBJ(up, UPSTREAM_MAGIC);
	if (what == CURL_POLL_REMOVE) {
		if (si != NULL) {
			CHECK_OBJ(si, SOCKINFO_MAGIC);
			if (si->ev != NULL)
				event_free(si->ev);
			memset(si, 0, sizeof(*si));
			free(si);
			curl_multi_assign(up->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (si == NULL) {
		if ((si = calloc(1, sizeof(*si))) == NULL)
			return -1;
		si->magic = SOCKINFO_MAGIC;
		si->up = up;
		curl_multi_assign(up->multi, s, si);
	} else {
		CHECK_OBJ(si, SOCKINFO_MAGIC);
		if (si->ev != NULL)
			event_free(si->ev);
	}
	si->ev = event_new(up->base, s, kind, event_cb, up);
	if (si->ev == NULL || event_add(si->ev, NULL) != 0)
		return -1;
	return 0;
}

/* curl: a piece of the body; refuse (ending the transfer) past max_body. */
static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct upstream_request *r = arg;
	size_t len = size * n, cap;
	unsigned char *p;

	CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
	if (r->scb != NULL) {
		switch (r->scb->data(data, len, r->arg)) {
		case 0:
			return len;
		case 1:
			return CURL_WRITEFUNC_PAUSE;
		default:
			return 0;
		}
	}
	if (len > r->up->opt.max_body - r->len) {
		r->too_large = 1;
		return 0;
	}
	if (r->len + len > r->cap) {
		cap = r->cap ? r->cap : 4096;
		while (cap < r->len + len)
			cap *= 2;
		if (cap > r->up->opt.max_body)
			cap = r->up->opt.max_body;
		if ((p = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	return len;
}

/* Copies a header value without surrounding blanks; "" when it won't fit. */
static void
header_value(const char *p, size_t len, char *out, size_t outlen)
{
	size_t n;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
	    p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	n = len < outlen ? len : 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			n = 0;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * One header line of a streamed request: the status line, a header, or the
 * blank line ending the block.  Blocks of 1xx answers are skipped.
 */
static int
stream_header(struct upstream_request *r, const char *data, size_t len)
{
	const char *colon, *v;
	size_t nlen, vlen;

	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', len);

		r->status = 0;
		if (sp != NULL && (size_t)(sp - data) + 4 <= len)
			r->status = strtol(sp + 1, NULL, 10);
		return r->status >= 100 && r->status <= 999 ? 0 : -1;
	}
	/* Inside a 1xx block, or a redirect curl follows. */
	if (r->status < 200 || (r->follow && r->status >= 300 && r->status < 400))
		return 0;
	if (len == 0) {
		if (r->headers_done)
			return 0;	/* trailers */
		r->headers_done = 1;
		return r->scb->head(r->status, r->arg);
	}
	/* Folded continuation lines cannot be relayed; drop them. */
	if (data[0] == ' ' || data[0] == '\t' || r->headers_done)
		return 0;
	if ((colon = memchr(data, ':', len)) == NULL || colon == data)
		return 0;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	return r->scb->header(data, nlen, v, vlen, r->arg);
}

/* curl: the next piece of a request body. */
static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct upstream_request *r = arg;
	long got;

	CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
	got = r->scb->body(buf, size * n, r->arg);
	if (got == UPSTREAM_BODY_WAIT)
		return CURL_READFUNC_PAUSE;
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/* curl: one header line; we keep Retry-After and Content-Type of the final answer. */
static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct upstream_request *r = arg;
	size_t len = size * n;
	char value[64];
	const char *err;
	uint64_t secs;
	time_t when;

	CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
	if (r->scb != NULL)
		return stream_header(r, data, len) == 0 ? len : 0;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		r->retry_after = -1;	/* a new answer (after a 1xx) */
		r->content_type[0] = '\0';
		return len;
	}
	if (len >= 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
		header_value(data + 13, len - 13, r->content_type,
		    sizeof(r->content_type));
		return len;
	}
	if (len < 12 || strncasecmp(data, "Retry-After:", 12) != 0)
		return len;
	header_value(data + 12, len - 12, value, sizeof(value));
	/* Delta-seconds, however large, are kept (clamped to a week). */
	if (value[0] != '\0' && strspn(value, "0123456789") == strlen(value))
		r->retry_after = parse_uint(value, 0, RETRY_AFTER_MAX, &secs,
		    &err) == 0 ? (int64_t)secs : RETRY_AFTER_MAX;
	else if ((when = curl_getdate(value, NULL)) != -1) {
		int64_t left = (int64_t)when - util_now_ms() / 1000;

		r->retry_after = left < 0 ? 0 : left > RETRY_AFTER_MAX ?
		    RETRY_AFTER_MAX : left;
	}
	return len;
}

/* Drains finished transfers and hands each to its callback. */
static void
check_done(struct upstream *up)
{
	struct upstream_request *r;
	struct upstream_result res;
	CURLMsg *msg;
	int left;
	long status;
	char *priv;

	while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct upstream_request *)priv;
		CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
		memset(&res, 0, sizeof(res));
		res.retry_after = r->retry_after;
		res.elapsed_ms = util_mono_ms() - r->started;
		res.reason = r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(msg->data.result);
		res.content_type = r->content_type[0] ? r->content_type : NULL;
		switch (msg->data.result) {
		case CURLE_OK:
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
			res.error = UPSTREAM_OK;
			res.status = status;
			res.body = r->body;
			res.len = r->len;
			/* An answer without a body (HEAD) may end with no blank line seen. */
			if (r->scb != NULL && !r->headers_done) {
				r->headers_done = 1;
				if (r->scb->head(status, r->arg) != 0)
					res.error = UPSTREAM_UNREACHABLE;
			}
			break;
		case CURLE_OPERATION_TIMEDOUT:
			res.error = UPSTREAM_TIMEOUT;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			res.error = UPSTREAM_TOO_LARGE;
			break;
		default:
			res.error = r->too_large ? UPSTREAM_TOO_LARGE :
			    UPSTREAM_UNREACHABLE;
			break;
		}
		/* The callback may start or cancel other requests. */
		r->done(&res, r->arg);
		request_free(r);
	}
}

struct upstream *
upstream_new(struct event_base *base, const struct upstream_options *opt)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->magic = UPSTREAM_MAGIC;
	up->base = base;
	up->opt = *opt;
	TAILQ_INIT(&up->requests);
	if ((up->multi = curl_multi_init()) == NULL ||
	    (up->timer = evtimer_new(base, timeout_cb, up)) == NULL) {
		upstream_free(up);
		return NULL;
	}
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, CONNS_KEPT);
	return up;
}

void
upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	CHECK_OBJ(up, UPSTREAM_MAGIC);
	while (!TAILQ_EMPTY(&up->requests))
		request_free(TAILQ_FIRST(&up->requests));
	while (up->npool > 0)
		curl_easy_cleanup(up->pool[--up->npool]);
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->timer != NULL)
		event_free(up->timer);
	memset(up, 0, sizeof(*up));
	free(up);
}

/* A request with curl's common settings; NULL when out of memory. */
static struct upstream_request *
request_new(struct upstream *up, const char *url, upstream_done_fn *done,
    void *arg)
{
	struct upstream_request *r;
	CURL *e;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->magic = UPSTREAM_REQ_MAGIC;
	r->up = up;
	r->done = done;
	r->arg = arg;
	r->retry_after = -1;
	r->started = util_mono_ms();
	TAILQ_INSERT_TAIL(&up->requests, r, entry);
	up->active++;
	if ((r->easy = e = easy_get(up)) == NULL) {
		request_free(r);
		return NULL;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    up->opt.timeout_ms < 10000 ? up->opt.timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Through an HTTP proxy, its CONNECT answer is not upstream's. */
	curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	return r;
}

struct upstream_request *
upstream_get(struct upstream *up, const char *url, const char *token,
    size_t token_len, upstream_done_fn *done, void *arg)
{
	struct upstream_request *r;
	char auth[32 + 4096];
	struct curl_slist *h;
	CURL *e;

	CHECK_OBJ(up, UPSTREAM_MAGIC);
	if (token_len > 4096 || (r = request_new(up, url, done, arg)) == NULL)
		return NULL;
	e = r->easy;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %.*s",
	    (int)token_len, token);
	h = curl_slist_append(NULL, auth);
	explicit_bzero(auth, sizeof(auth));
	if (h == NULL)
		goto fail;
	r->headers = h;
	if ((h = curl_slist_append(r->headers, "Accept: application/json")) == NULL)
		goto fail;
	r->headers = h;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, up->opt.timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)up->opt.max_body);
	if (curl_multi_add_handle(up->multi, e) != CURLM_OK)
		goto fail;
	return r;
fail:
	request_free(r);
	return NULL;
}

/* upstream_stream(), optionally following redirects. */
static struct upstream_request *
stream_start(struct upstream *up, const char *method, const char *url,
    struct curl_slist *headers, int64_t body_len,
    const struct upstream_stream_cb *cb, void *arg, int follow)
{
	struct upstream_request *r;
	CURL *e;

	CHECK_OBJ(up, UPSTREAM_MAGIC);
	if ((r = request_new(up, url, cb->done, arg)) == NULL) {
		upstream_headers_free(headers);
		return NULL;
	}
	e = r->easy;
	r->scb = cb;
	r->headers = headers;
	if ((r->follow = follow)) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
		    CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	/* The path as the client sent it, dot segments and all. */
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (upstream_sends_body(method, body_len)) {
		/* A body goes as curl sends a POST's, under the real method. */
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	/* Larger pieces: fewer trips through the loop for a big answer. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	/*
	 * Upstream stays silent this long: give up (no limit on the whole).
	 * A download (upstream_fetch) must also keep up 16 KiB/s over that
	 * time, or a trickling CDN would hold its slot for days.
	 */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, follow ? 16384L : 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	    up->opt.timeout_ms / 1000 > 0 ? up->opt.timeout_ms / 1000 : 1L);
	if (curl_multi_add_handle(up->multi, e) != CURLM_OK) {
		request_free(r);
		return NULL;
	}
	return r;
}

int
upstream_sends_body(const char *method, int64_t body_len)
{
	if (strcmp(method, "HEAD") == 0)
		return 0;
	return body_len != 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
}

struct upstream_request *
upstream_stream(struct upstream *up, const char *method, const char *url,
    struct curl_slist *headers, int64_t body_len,
    const struct upstream_stream_cb *cb, void *arg)
{
	return stream_start(up, method, url, headers, body_len, cb, arg, 0);
}

struct upstream_request *
upstream_fetch(struct upstream *up, const char *url,
    const struct upstream_stream_cb *cb, void *arg)
{
	return stream_start(up, "GET", url, NULL, 0, cb, arg, 1);
}

int
upstream_header_add(struct curl_slist **list, const char *name,
    const char *value)
{
	struct curl_slist *h;
	size_t len = strlen(name) + (value ? strlen(value) : 0) + 3;
	char small[512], *line = small;

	if (len > sizeof(small) && (line = malloc(len)) == NULL)
		return -1;
	/* To curl, "Name:" removes a header it would add, "Name;" is empty. */
	if (value == NULL)
		snprintf(line, len, "%s:", name);
	else if (value[0] == '\0')
		snprintf(line, len, "%s;", name);
	else
		snprintf(line, len, "%s: %s", name, value);
	h = curl_slist_append(*list, line);
	explicit_bzero(line, len);
	if (line != small)
		free(line);
	if (h == NULL)
		return -1;
	*list = h;
	return 0;
}

void
upstream_headers_free(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

void
upstream_resume(struct upstream_request *r)
{
	CHECK_OBJ(r, UPSTREAM_REQ_MAGIC);
	curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

void
upstream_cancel(struct upstream_request *r)
{
	request_free(r);
}
