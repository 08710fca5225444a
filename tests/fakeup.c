/*
 * fakeup: a fake useapi.net upstream for the integration tests, and for
 * people trying lumaproxy by hand (--demo).  It answers
 * GET /v1/luma/jobs/{jobid} (jobid percent-decoded) with "Authorization:
 * Bearer TOKEN" from jobs that tests script through a control API under
 * /_fake/, takes job submissions, echoes every other request under /v1/
 * (for the pass-through tests), counts every request under /v1/, and serves
 * small fake media files under /media/.  It owns no real data and speaks no
 * TLS.
 *
 * Unscripted: no token or the token "bad" -> 401 {"error":"Unauthorized"};
 * unknown jobid -> 404 {"error":"Job not found"}; a scripted job asked by a
 * token that is not among its owners -> 403.  With --demo any jobid
 * starting with 'j' is a video job, pending for the first two fetches of a
 * (jobid, token), processing for the third, then completed; one line per
 * request goes to stderr.  With --completed any jobid starting with 'j'
 * that is neither scripted nor submitted is that video job completed from
 * its first fetch, for every token (none and "bad" still get 401): a
 * benchmark's endless supply of new finished jobs.  Such fetches count in
 * "total" and the request log but get no "job" line in /_fake/stats, so
 * that a million jobids cost what one does.
 *
 * Submissions: POST /v1/luma/videos and POST /v1/luma/images (any query)
 * with a Bearer token create a job owned by that token, with a fresh jobid
 * ("j" + a counter + "-" + 10 random [0-9a-z]), and answer 200
 * {"jobid":"ID","status":"created"} (with "accept_encoding":"VALUE" when
 * the request had that header; the answer is never compressed).  GET /v1/luma/jobs/ID by that token is
 * then pending for its first two fetches and completed from the third on
 * (the --demo record, type video or image); other tokens get 403.  Query
 * controls: _status=N answers N with {"error":"..."} and creates nothing;
 * _nojobid=1 answers 200 {"status":"created"} and creates nothing;
 * _delay=MS answers after MS milliseconds (the job exists at once).
 *
 * Echo: any other method and path under /v1/ (not /v1/luma/jobs[/...], not
 * a submission) answers 200 with
 *   {"method":"M","uri":"RAW-REQUEST-TARGET","headers":[["Name","value"],...],
 *    "body_len":N,"body_sha256":"HEX"}
 * (headers as received, in order; HEAD gets the headers only), plus these
 * response headers, for checking that a proxy drops the hop-by-hop ones:
 *   X-Echo: 1, Keep-Alive: timeout=5, Trailer: X-Never, Upgrade: h2c,
 *   Proxy-Authenticate: Basic, X-Hop: 1, Connection: X-Hop.
 * Query controls (names start with '_'; the query still shows in "uri"):
 *   _status=N    answer status N (200 to 599; 204 and 304 carry no body);
 *   _size=N      instead of the echo, N bytes of the pattern "abc...z"
 *                repeated (byte i is 'a' + i % 26), application/octet-stream
 *                with Content-Length, written 64 KiB at a time;
 *   _chunked=1   with _size: no Content-Length (HTTP/1.1 chunked);
 *   _cut=M       with _size: send M body bytes, then drop the connection;
 *   _delay=MS    answer after MS milliseconds;
 *   _close=1     drop the connection without answering (after _delay).
 *
 * Control API (query parameters describe one step; the request body is the
 * step's exact answer body):
 *   PUT    /_fake/jobs/{jobid}?owner=T&status=200&delay=MS&retry-after=V
 *                              &close=1&size=BYTES&type=CT
 *          replaces the job's answers with this one step; owner= may repeat
 *          (no owner: every token); close=1 drops the connection unanswered;
 *          size= pads the body (default {"status":"pending"}) with spaces;
 *   POST   /_fake/jobs/{jobid}?...   appends a step; each request by an owner
 *                                    takes the next step, the last repeats;
 *   DELETE /_fake/jobs/{jobid}       forgets the job (a submitted one too);
 *   GET    /_fake/stats              "total N", "media_active_max N",
 *                                    "gone N", then "job JOBID TOKEN N" lines
 *                                    (JOBID is the path for requests that
 *                                    are not job fetches; TOKEN "-": none);
 *                                    gone: answers (scripted or _delay=)
 *                                    whose client closed its connection
 *                                    before they were due, e.g. a proxy
 *                                    that cancelled its call;
 *   GET    /_fake/requests           one "TOKEN RAW-URI" line per request;
 *   POST   /_fake/reset              forgets jobs, counters and the request log.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/evp.h>

#define FAKEUP_MAGIC	0x46414b45u
#define REPLY_MAGIC	0x52504c59u
#define STREAM_MAGIC	0x5354524du

#define JOBS_PREFIX	"/v1/luma/jobs/"
#define SUBMIT_VIDEOS	"/v1/luma/videos"
#define SUBMIT_IMAGES	"/v1/luma/images"
#define CONTROL_JOBS	"/_fake/jobs/"
#define MAX_BODY	(64u << 20)	/* control bodies and size= */
#define MAX_DELAY_MS	600000
#define MAX_STEPS	1000
#define REQLOG_MAX	(1u << 20)	/* bytes of /_fake/requests kept */
#define JSON_CT		"application/json; charset=utf-8"
#define STREAM_CHUNK	65536		/* bytes per write of a _size= answer */
#define MAX_STREAM	(1LL << 36)	/* _size= and _cut= */

#define CHECK_OBJ(p, m)	do { if ((p) == NULL || (p)->magic != (m)) abort(); } while (0)

/* One scripted answer. */
struct step {
	int		 status;
	long		 delay_ms;
	int		 close;		/* drop the connection instead of answering */
	char		 retry_after[64];	/* "" for none */
	char		 type[128];	/* Content-Type */
	struct evbuffer	*body;		/* owned */
};

/*
 * A scripted job: who may see it, and its answers in order.  A submitted
 * job has no steps: it answers the demo record (type) of its fetch count.
 */
struct job {
	char		*jobid;		/* owned, decoded */
	char		**owners;	/* owned; none: every token */
	size_t		 nowners;
	struct step	*steps;		/* owned */
	size_t		 nsteps;
	size_t		 next;		/* index of the next answer */
	const char	*type;		/* static; non-NULL: a submitted job */
	struct job	*link;
};

/* Requests seen for one (jobid, token). */
struct counter {
	char		*jobid;		/* owned */
	char		*token;		/* owned */
	unsigned long	 n;
	struct counter	*link;
};

/* An answer waiting for its delay (or for the connection to be dropped). */
struct reply {
	unsigned		 magic;
	struct fakeup		*fu;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct event		*timer;		/* owned */
	struct event		*hangup;	/* owned: EV_READ on the socket, or NULL */
	int			 status;
	int			 close;
	struct evbuffer		*body;		/* owned */
	struct reply		*link;
};

/*
 * A _size= answer being written: the pattern, STREAM_CHUNK bytes at a time,
 * each chunk once the one before has left; after _delay, if any.
 */
struct stream {
	unsigned		 magic;
	struct fakeup		*fu;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct evhttp_connection *evcon;	/* borrowed; once started */
	struct event		*timer;		/* owned: delay, then next chunk */
	int			 status;
	int			 started;	/* headers sent, closecb set */
	long long		 size;		/* bytes the answer announces */
	long long		 limit;		/* bytes to send (size, or _cut) */
	long long		 sent;
	int			 cut;		/* drop the connection at limit */
	int			 media;		/* counted in media_active */
	unsigned		 shift;		/* where in the pattern it starts */
	struct stream		*link;
};

struct fakeup {
	unsigned		 magic;
	struct event_base	*base;
	struct evhttp		*http;
	int			 demo;
	int			 completed;	/* --completed */
	char			 origin[300];	/* http://HOST:PORT */
	struct job		*jobs;
	struct counter		*counters, **counters_tail;
	unsigned long		 total;
	struct evbuffer		*reqlog;
	struct reply		*replies;	/* delayed answers */
	struct stream		*streams;	/* _size= answers in progress */
	unsigned long		 submitted;	/* jobs created by submissions */
	int			 media_active;	/* /media/ answers being sent */
	int			 media_active_max;
	unsigned long		 gone;		/* answers whose client left first */
	char			 pattern[STREAM_CHUNK + 26];
};

/* Reason phrases of the statuses tests use; "Status" for the others. */
static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 596: return "Session Error";
	}
	return "Status";
}

/* strdup that aborts: fakeup is a test tool, out of memory is fatal. */
static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort();
	return p;
}

/* A decimal number in [min, max] from s; -1 when s is not one. */
static int
parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Appends s to buf as the inside of a JSON string. */
static void
json_escape(struct evbuffer *buf, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(buf, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			evbuffer_add_printf(buf, "\\u%04x", c);
		else
			evbuffer_add(buf, s, 1);
	}
}

/* Sends status with body (a string) and the given Content-Type. */
static void
send_text(struct evhttp_request *req, int status, const char *type,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		abort();
	evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, status, reason(status), b);
	evbuffer_free(b);
}

/* Sends status with a JSON body. */
static void
send_json(struct evhttp_request *req, int status, const char *body)
{
	send_text(req, status, JSON_CT, body);
}

/* Frees what step s owns and zeroes it. */
static void
step_clear(struct step *s)
{
	if (s->body != NULL)
		evbuffer_free(s->body);
	memset(s, 0, sizeof(*s));
}

/* Frees job j and its steps; j must be unlinked. */
static void
job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->nsteps; i++)
		step_clear(&j->steps[i]);
	for (i = 0; i < j->nowners; i++)
		free(j->owners[i]);
	free(j->owners);
	free(j->steps);
	free(j->jobid);
	free(j);
}

/* The scripted job named jobid (decoded), or NULL. */
static struct job *
job_find(struct fakeup *fu, const char *jobid)
{
	struct job *j;

	for (j = fu->jobs; j != NULL; j = j->link)
		if (strcmp(j->jobid, jobid) == 0)
			return j;
	return NULL;
}

/* Unlinks and frees the job named jobid; 0 when it existed. */
static int
job_delete(struct fakeup *fu, const char *jobid)
{
	struct job **pp, *j;

	for (pp = &fu->jobs; (j = *pp) != NULL; pp = &j->link)
		if (strcmp(j->jobid, jobid) == 0) {
			*pp = j->link;
			job_free(j);
			return 0;
		}
	return -1;
}

/* Whether token may see job j (a job without owners is everyone's). */
static int
job_owned_by(const struct job *j, const char *token)
{
	size_t i;

	if (j->nowners == 0)
		return 1;
	for (i = 0; i < j->nowners; i++)
		if (strcmp(j->owners[i], token) == 0)
			return 1;
	return 0;
}

/* Counts one request for (jobid, token); returns the pair's new count. */
static unsigned long
count_request(struct fakeup *fu, const char *jobid, const char *token)
{
	struct counter *c;

	fu->total++;
	for (c = fu->counters; c != NULL; c = c->link)
		if (strcmp(c->jobid, jobid) == 0 && strcmp(c->token, token) == 0)
			return ++c->n;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->jobid = xstrdup(jobid);
	c->token = xstrdup(token);
	c->n = 1;
	*fu->counters_tail = c;
	fu->counters_tail = &c->link;
	return 1;
}

/* Forgets jobs, counters and the request log (POST /_fake/reset). */
static void
reset_all(struct fakeup *fu)
{
	struct counter *c;
	struct job *j;

	while ((j = fu->jobs) != NULL) {
		fu->jobs = j->link;
		job_free(j);
	}
	while ((c = fu->counters) != NULL) {
		fu->counters = c->link;
		free(c->jobid);
		free(c->token);
		free(c);
	}
	fu->counters_tail = &fu->counters;
	fu->total = 0;
	fu->media_active_max = 0;
	fu->gone = 0;
	evbuffer_drain(fu->reqlog, evbuffer_get_length(fu->reqlog));
}

/* Unlinks r and frees it; the request is evhttp's (or already answered). */
static void
reply_free(struct reply *r)
{
	struct reply **pp;

	for (pp = &r->fu->replies; *pp != r; pp = &(*pp)->link)
		;
	*pp = r->link;
	event_free(r->timer);
	if (r->hangup != NULL)
		event_free(r->hangup);
	evbuffer_free(r->body);
	memset(r, 0, sizeof(*r));
	free(r);
}

/* Timer: a delayed answer is due; fires once per struct reply. */
static void
reply_due(evutil_socket_t fd, short what, void *arg)
{
	struct reply *r = arg;
	struct evhttp_connection *evcon;

	(void)fd;
	(void)what;
	CHECK_OBJ(r, REPLY_MAGIC);
	/* Before the socket can be closed under it. */
	if (r->hangup != NULL) {
		event_free(r->hangup);
		r->hangup = NULL;
	}
	evcon = evhttp_request_get_connection(r->req);
	if (!r->close)
		/* Frees a request whose connection is already gone, too. */
		evhttp_send_reply(r->req, r->status, reason(r->status), r->body);
	else if (evcon != NULL)
		evhttp_connection_free(evcon);		/* frees the request */
	else
		evhttp_request_free(r->req);
	reply_free(r);
}

/*
 * EV_READ on the socket of an answer not yet due: evhttp reads nothing more
 * until it has answered, so this is the client closing (counted in gone,
 * once) or sending more (a pipelined request: the watch ends).  Fires at
 * most once per arming; the timer still answers (or frees) the request.
 */
static void
reply_hangup(evutil_socket_t fd, short what, void *arg)
{
	struct reply *r = arg;
	ssize_t n;
	char c;

	(void)what;
	CHECK_OBJ(r, REPLY_MAGIC);
	n = recv(fd, &c, 1, MSG_PEEK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK)) {
		event_add(r->hangup, NULL);
		return;
	}
	if (n <= 0)
		r->fu->gone++;
}

/*
 * Answers req with status and the len bytes of body after delay_ms, or
 * drops the connection then (close); the output headers are set already.
 */
static void
reply_later(struct fakeup *fu, struct evhttp_request *req, int status,
    const void *body, size_t len, int close, long delay_ms)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct timeval tv;
	struct reply *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->body = evbuffer_new()) == NULL ||
	    (r->timer = evtimer_new(fu->base, reply_due, r)) == NULL)
		abort();
	if (evcon != NULL) {
		if ((r->hangup = event_new(fu->base, bufferevent_getfd(
		    evhttp_connection_get_bufferevent(evcon)), EV_READ,
		    reply_hangup, r)) == NULL)
			abort();
		event_add(r->hangup, NULL);
	}
	r->magic = REPLY_MAGIC;
	r->fu = fu;
	r->req = req;
	r->status = status;
	r->close = close;
	if (len > 0)
		evbuffer_add(r->body, body, len);
	r->link = fu->replies;
	fu->replies = r;
	/* Even "now" goes through the loop: never free a connection in its callback. */
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

/* Answers req with step s (after its delay, or by dropping the connection). */
static void
answer_step(struct fakeup *fu, struct evhttp_request *req, const struct step *s)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (s->retry_after[0] != '\0')
		evhttp_add_header(h, "Retry-After", s->retry_after);
	evhttp_add_header(h, "Content-Type", s->type);
	/* Copies without draining: the step answers again. */
	reply_later(fu, req, s->status, evbuffer_pullup(s->body, -1),
	    evbuffer_get_length(s->body), s->close, s->delay_ms);
}

/* Unlinks s and frees it; its request is evhttp's (or already answered). */
static void
stream_free(struct stream *s)
{
	struct stream **pp;

	for (pp = &s->fu->streams; *pp != s; pp = &(*pp)->link)
		;
	*pp = s->link;
	if (s->media)
		s->fu->media_active--;
	event_free(s->timer);
	memset(s, 0, sizeof(*s));
	free(s);
}

/*
 * evhttp: the connection of a started stream is going away before the
 * stream ended (the client left, or evhttp is being freed).  A request
 * evhttp let go of (no connection any more) is ours to free.
 */
static void
stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	(void)evcon;
	CHECK_OBJ(s, STREAM_MAGIC);
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_request_free(s->req);
	stream_free(s);
}

/* evhttp: the last chunk has left; go on from the loop, not from here. */
static void
stream_written(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	(void)evcon;
	CHECK_OBJ(s, STREAM_MAGIC);
	event_active(s->timer, EV_TIMEOUT, 1);
}

/* Timer: start the answer (after _delay), or write its next chunk, or end it. */
static void
stream_step(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	struct evbuffer *b;
	long long n;

	(void)fd;
	(void)what;
	CHECK_OBJ(s, STREAM_MAGIC);
	if (!s->started) {
		if ((s->evcon = evhttp_request_get_connection(s->req)) == NULL) {
			evhttp_send_reply_end(s->req);	/* frees it */
			stream_free(s);
			return;
		}
		evhttp_connection_set_closecb(s->evcon, stream_closed, s);
		evhttp_send_reply_start(s->req, s->status, reason(s->status));
		s->started = 1;
	}
	if (s->sent < s->limit) {
		n = s->limit - s->sent < STREAM_CHUNK ? s->limit - s->sent :
		    STREAM_CHUNK;
		if ((b = evbuffer_new()) == NULL)
			abort();
		evbuffer_add(b, s->fu->pattern + (s->sent + s->shift) % 26,
		    (size_t)n);
		s->sent += n;
		/* Done once the last byte is queued: the client may ask again. */
		if (s->sent == s->limit && s->media) {
			s->fu->media_active--;
			s->media = 0;
		}
		evhttp_send_reply_chunk_with_cb(s->req, b, stream_written, s);
		evbuffer_free(b);
		return;
	}
	evhttp_connection_set_closecb(s->evcon, NULL, NULL);
	if (s->cut)
		evhttp_connection_free(s->evcon);	/* frees the request */
	else
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

/*
 * Answers req with status and size bytes of the pattern (the output headers
 * are set already), after delay_ms; cut >= 0: drops the connection after
 * that many body bytes.
 */
static struct stream *
stream_later(struct fakeup *fu, struct evhttp_request *req, int status,
    long long size, long long cut, long delay_ms)
{
	struct timeval tv;
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->timer = evtimer_new(fu->base, stream_step, s)) == NULL)
		abort();
	s->magic = STREAM_MAGIC;
	s->fu = fu;
	s->req = req;
	s->status = status;
	s->size = size;
	s->limit = cut >= 0 && cut < size ? cut : size;
	s->cut = cut >= 0;
	s->link = fu->streams;
	fu->streams = s;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	return s;
}

/*
 * Appends the demo record of jobid after its n-th fetch to buf: pending
 * for n <= 2, processing for 3, then completed; type "video" or "image".
 */
static void
demo_record(struct fakeup *fu, struct evbuffer *b, const char *jobid,
    unsigned long n, const char *type)
{
	const char *status = n <= 2 ? "pending" : n == 3 ? "processing" :
	    "completed";
	struct evbuffer *id = evbuffer_new();
	char *enc;

	if (id == NULL)
		abort();
	json_escape(id, jobid);
	evbuffer_add(id, "", 1);
	evbuffer_add_printf(b, "{\n  \"jobid\": \"%s\",\n  \"type\": \"%s\",\n"
	    "  \"status\": \"%s\",\n  \"created\": \"2026-03-26T14:05:30.123Z\",\n",
	    (const char *)evbuffer_pullup(id, -1), type, status);
	evbuffer_free(id);
	if (n <= 3) {
		evbuffer_add_printf(b, "  \"updated\": %s,\n  \"response\": null,\n"
		    "  \"credits\": null\n}\n", n == 3 ?
		    "\"2026-03-26T14:06:10.000Z\"" : "null");
		return;
	}
	if ((enc = evhttp_uriencode(jobid, -1, 0)) == NULL)
		abort();
	evbuffer_add_printf(b,
	    "  \"updated\": \"2026-03-26T14:08:45.678Z\",\n"
	    "  \"response\": {\n");
	if (strcmp(type, "image") == 0)
		evbuffer_add_printf(b,
		    "    \"image\": {\n"
		    "      \"media_type\": \"image\",\n"
		    "      \"url\": \"%s/media/%s/image.jpg\",\n"
		    "      \"width\": 1024,\n      \"height\": 1024\n    }\n",
		    fu->origin, enc);
	else
		evbuffer_add_printf(b,
		    "    \"video\": {\n"
		    "      \"media_type\": \"video\",\n"
		    "      \"url\": \"%s/media/%s/video.mp4\",\n"
		    "      \"width\": 1280,\n      \"height\": 720,\n"
		    "      \"duration\": 5.04\n    },\n"
		    "    \"video_hdr_exr\": null,\n"
		    "    \"thumbnail\": {\n"
		    "      \"media_type\": \"image\",\n"
		    "      \"url\": \"%s/media/%s/thumbnail.jpg\",\n"
		    "      \"width\": 1280,\n      \"height\": 720\n    },\n"
		    "    \"last_frame\": {\n"
		    "      \"media_type\": \"image\",\n"
		    "      \"url\": \"%s/media/%s/last_frame.jpg\",\n"
		    "      \"width\": 1280,\n      \"height\": 720\n    }\n",
		    fu->origin, enc, fu->origin, enc, fu->origin, enc);
	evbuffer_add_printf(b,
	    "  },\n"
	    "  \"credits\": {\n    \"dm_usage\": 20,\n"
	    "    \"dm_relaxed_usage\": null\n  }\n}\n");
	free(enc);
}

/* The token of "Bearer TOKEN" (scheme in any case), or NULL. */
static const char *
bearer_token(const char *h)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

/* The method's name as on the request line. */
static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
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

/*
 * The raw value of the first name=value in query (NULL: none), copied
 * into out; "" when it does not fit.  No decoding: controls are numbers.
 */
static const char *
query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), vlen;
	const char *p = query, *end;

	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			vlen = (size_t)(end - p) - nlen - 1;
			if (vlen >= outlen)
				vlen = 0;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return out;
		}
		p = *end == '&' ? end + 1 : NULL;
	}
	return NULL;
}

/* A numeric query control in [min, max]: 0 absent, 1 set, -1 bad. */
static int
query_num(const char *query, const char *name, long long min, long long max,
    long long *out)
{
	char v[32], *end;
	long long n;

	if (query_get(query, name, v, sizeof(v)) == NULL)
		return 0;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		return -1;
	*out = n;
	return 1;
}

/* Writes the SHA-256 of b's bytes as 64 hex digits and a NUL to hex. */
static void
sha256_hex(struct evbuffer *b, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct evbuffer_iovec *v;
	EVP_MD_CTX *ctx;
	int n, k;

	n = evbuffer_peek(b, -1, NULL, NULL, 0);
	if ((v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v))) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	n = evbuffer_peek(b, -1, NULL, v, n);
	for (k = 0; k < n; k++)
		if (EVP_DigestUpdate(ctx, v[k].iov_base, v[k].iov_len) != 1)
			abort();
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		abort();
	EVP_MD_CTX_free(ctx);
	free(v);
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[2 * mdlen] = '\0';
}

/* Appends the echo of req (see the top of this file) to out. */
static void
echo_body(struct evhttp_request *req, struct evbuffer *out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyval *kv;
	char hex[65];
	int first = 1;

	sha256_hex(in, hex);
	evbuffer_add_printf(out, "{\"method\":\"%s\",\"uri\":\"",
	    method_name(evhttp_request_get_command(req)));
	json_escape(out, evhttp_request_get_uri(req));
	evbuffer_add_printf(out, "\",\"headers\":[");
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		evbuffer_add_printf(out, "%s[\"", first ? "" : ",");
		json_escape(out, kv->key);
		evbuffer_add_printf(out, "\",\"");
		json_escape(out, kv->value);
		evbuffer_add_printf(out, "\"]");
		first = 0;
	}
	evbuffer_add_printf(out, "],\"body_len\":%zu,\"body_sha256\":\"%s\"}",
	    evbuffer_get_length(in), hex);
}

/* Answers 400 with {"error":"bad CONTROL"}. */
static void
bad_control(struct evhttp_request *req, const char *control)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "{\"error\":\"bad %s\"}", control);
	send_json(req, 400, msg);
}

/* Any other request under /v1/: the echo, or what its query controls ask. */
static void
handle_echo(struct fakeup *fu, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	long long status = 200, size = -1, cut = -1, delay = 0, chunked = 0,
	    drop = 0;
	struct evbuffer *b;
	int nobody;
	char len[32];

	if (query_num(query, "_status", 200, 599, &status) < 0) {
		bad_control(req, "_status");
		return;
	}
	if (query_num(query, "_size", 0, MAX_STREAM, &size) < 0) {
		bad_control(req, "_size");
		return;
	}
	if (query_num(query, "_cut", 0, MAX_STREAM, &cut) < 0) {
		bad_control(req, "_cut");
		return;
	}
	if (query_num(query, "_delay", 0, MAX_DELAY_MS, &delay) < 0) {
		bad_control(req, "_delay");
		return;
	}
	if (query_num(query, "_chunked", 0, 1, &chunked) < 0) {
		bad_control(req, "_chunked");
		return;
	}
	if (query_num(query, "_close", 0, 1, &drop) < 0) {
		bad_control(req, "_close");
		return;
	}
	if (drop) {
		reply_later(fu, req, 0, NULL, 0, 1, (long)delay);
		return;
	}

	evhttp_add_header(h, "X-Echo", "1");
	evhttp_add_header(h, "Keep-Alive", "timeout=5");
	evhttp_add_header(h, "Trailer", "X-Never");
	evhttp_add_header(h, "Upgrade", "h2c");
	evhttp_add_header(h, "Proxy-Authenticate", "Basic");
	evhttp_add_header(h, "X-Hop", "1");
	evhttp_add_header(h, "Connection", "X-Hop");
	nobody = status == 204 || status == 304;
	if (size >= 0) {
		evhttp_add_header(h, "Content-Type", "application/octet-stream");
		if (!chunked && !nobody) {
			snprintf(len, sizeof(len), "%lld", size);
			evhttp_add_header(h, "Content-Length", len);
		}
		if (head || nobody) {
			reply_later(fu, req, (int)status, NULL, 0, 0,
			    (long)delay);
			return;
		}
		stream_later(fu, req, (int)status, size, cut, (long)delay);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		abort();
	echo_body(req, b);
	evhttp_add_header(h, "Content-Type", JSON_CT);
	if (head) {
		/* evhttp 2.1 would write the body after a HEAD answer's headers. */
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(b));
		evhttp_add_header(h, "Content-Length", len);
	}
	if (head || nobody)
		evbuffer_drain(b, evbuffer_get_length(b));
	reply_later(fu, req, (int)status, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b), 0, (long)delay);
	evbuffer_free(b);
}

/* A submission's JSON answer, now or after delay_ms (_delay=). */
static void
submit_reply(struct fakeup *fu, struct evhttp_request *req, int status,
    const char *body, long delay_ms)
{
	if (delay_ms == 0) {
		send_json(req, status, body);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", JSON_CT);
	reply_later(fu, req, status, body, strlen(body), 0, delay_ms);
}

/*
 * POST /v1/luma/videos or /v1/luma/images: a new job of type owned by
 * token, pending for its first two fetches, then completed.
 */
static void
handle_submit(struct fakeup *fu, struct evhttp_request *req,
    const char *token, const char *type, const char *query)
{
	static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	long long status = 0, nojobid = 0, delay = 0;
	const char *ae;
	unsigned char rnd[10];
	char jobid[64], msg[160];
	struct job *j;
	size_t i;

	if (token == NULL || strcmp(token, "bad") == 0) {
		send_json(req, 401, "{\"error\":\"Unauthorized\"}");
		return;
	}
	if (query_num(query, "_status", 200, 599, &status) < 0) {
		bad_control(req, "_status");
		return;
	}
	if (query_num(query, "_nojobid", 0, 1, &nojobid) < 0) {
		bad_control(req, "_nojobid");
		return;
	}
	if (query_num(query, "_delay", 0, MAX_DELAY_MS, &delay) < 0) {
		bad_control(req, "_delay");
		return;
	}
	if (status != 0) {
		snprintf(msg, sizeof(msg), "{\"error\":\"Scripted submission "
		    "failure (%lld)\"}", status);
		submit_reply(fu, req, (int)status, msg, (long)delay);
		return;
	}
	if (nojobid) {
		submit_reply(fu, req, 200, "{\"status\":\"created\"}",
		    (long)delay);
		return;
	}
	evutil_secure_rng_get_bytes(rnd, sizeof(rnd));
	i = (size_t)snprintf(jobid, sizeof(jobid), "j%lu-", ++fu->submitted);
	for (size_t k = 0; k < sizeof(rnd); k++)
		jobid[i++] = alnum[rnd[k] % 36];
	jobid[i] = '\0';
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->owners = calloc(1, sizeof(*j->owners))) == NULL)
		abort();
	j->jobid = xstrdup(jobid);
	j->owners[0] = xstrdup(token);
	j->nowners = 1;
	j->type = type;
	j->link = fu->jobs;
	fu->jobs = j;
	ae = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept-Encoding");
	if (ae != NULL && (strlen(ae) > 32 || strpbrk(ae, "\"\\") != NULL))
		ae = "(odd)";
	/* Answers are never compressed: which coding was asked for is told. */
	snprintf(msg, sizeof(msg), "{\"jobid\":\"%s\",\"status\":\"created\"%s%s%s}",
	    jobid, ae ? ",\"accept_encoding\":\"" : "", ae ? ae : "",
	    ae ? "\"" : "");
	submit_reply(fu, req, 200, msg, (long)delay);
}

/*
 * Everything under /v1/, counted (job fetches under their decoded jobid,
 * the rest under their raw path) and logged: GET /v1/luma/jobs/{jobid} is
 * the upstream endpoint (other paths under /v1/luma/jobs: 404), POST
 * /v1/luma/videos and /v1/luma/images submit a job, the rest is echoed.
 */
static void
handle_v1(struct fakeup *fu, struct evhttp_request *req, const char *path)
{
	const char *token = bearer_token(evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization"));
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *seg = NULL, *status = "-", *submit = NULL;
	struct evbuffer *b;
	struct job *j;
	unsigned long n;
	char *jobid;
	int jobs;

	jobs = strcmp(path, "/v1/luma/jobs") == 0 ||
	    strncmp(path, JOBS_PREFIX, strlen(JOBS_PREFIX)) == 0;
	if (strncmp(path, JOBS_PREFIX, strlen(JOBS_PREFIX)) == 0)
		seg = path + strlen(JOBS_PREFIX);
	if (cmd == EVHTTP_REQ_POST && strcmp(path, SUBMIT_VIDEOS) == 0)
		submit = "video";
	else if (cmd == EVHTTP_REQ_POST && strcmp(path, SUBMIT_IMAGES) == 0)
		submit = "image";
	if (seg == NULL || strchr(seg, '/') != NULL)
		jobid = xstrdup(path);
	else if ((jobid = evhttp_uridecode(seg, 0, NULL)) == NULL)
		abort();
	if (fu->completed && seg != NULL && strchr(seg, '/') == NULL &&
	    cmd == EVHTTP_REQ_GET && jobid[0] == 'j' &&
	    job_find(fu, jobid) == NULL) {
		fu->total++;	/* not counted per pair: see --completed */
		n = 4;
	} else
		n = count_request(fu, jobid, token ? token : "-");
	if (evbuffer_get_length(fu->reqlog) < REQLOG_MAX)
		evbuffer_add_printf(fu->reqlog, "%s %s\n", token ? token : "-",
		    evhttp_request_get_uri(req));

	if (submit != NULL) {
		handle_submit(fu, req, token, submit, query);
		status = "submission";
	} else if (!jobs) {
		handle_echo(fu, req, query);
		status = "echo";
	} else if (seg == NULL || strchr(seg, '/') != NULL) {
		send_json(req, 404, "{\"error\":\"Not found\"}");
		status = "404";
	} else if (cmd != EVHTTP_REQ_GET) {
		send_json(req, 405, "{\"error\":\"Method not allowed\"}");
		status = "405";
	} else if (token == NULL || strcmp(token, "bad") == 0) {
		send_json(req, 401, "{\"error\":\"Unauthorized\"}");
		status = "401";
	} else if ((j = job_find(fu, jobid)) != NULL) {
		if (!job_owned_by(j, token)) {
			send_json(req, 403,
			    "{\"error\":\"Job does not belong to this user\"}");
			status = "403";
		} else if (j->nsteps == 0) {
			/* Submitted: pending, pending, then completed. */
			if ((b = evbuffer_new()) == NULL)
				abort();
			demo_record(fu, b, jobid, n <= 2 ? n : 4, j->type);
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Content-Type", JSON_CT);
			evhttp_send_reply(req, 200, "OK", b);
			evbuffer_free(b);
			status = n <= 2 ? "pending" : "completed";
		} else {
			answer_step(fu, req, &j->steps[j->next]);
			if (j->next + 1 < j->nsteps)
				j->next++;
			status = "scripted";
		}
	} else if ((fu->demo || fu->completed) && jobid[0] == 'j') {
		/* --completed: n is 4, the finished record at once. */
		if ((b = evbuffer_new()) == NULL)
			abort();
		demo_record(fu, b, jobid, n, "video");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", JSON_CT);
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		status = n <= 2 ? "pending" : n == 3 ? "processing" : "completed";
	} else {
		send_json(req, 404, "{\"error\":\"Job not found\"}");
		status = "404";
	}
	if (fu->demo)
		fprintf(stderr, "fakeup: %s %s (fetch %lu of this job and token)"
		    " -> %s\n", method_name(cmd), path, n, status);
	free(jobid);
}

/* Fills step s from the query q and body b; -1 with *err on a bad value. */
static int
step_parse(struct step *s, const struct evkeyvalq *q, struct evbuffer *b,
    const char **err)
{
	const char *v;
	long size = -1, n;

	memset(s, 0, sizeof(*s));
	s->status = 200;
	snprintf(s->type, sizeof(s->type), "%s", JSON_CT);
	if ((v = evhttp_find_header(q, "status")) != NULL) {
		if (parse_num(v, 100, 999, &n) != 0) {
			*err = "status: 100 to 999";
			return -1;
		}
		s->status = (int)n;
	}
	if ((v = evhttp_find_header(q, "delay")) != NULL &&
	    parse_num(v, 0, MAX_DELAY_MS, &s->delay_ms) != 0) {
		*err = "delay: milliseconds, 0 to 600000";
		return -1;
	}
	if ((v = evhttp_find_header(q, "close")) != NULL)
		s->close = strcmp(v, "0") != 0;
	if ((v = evhttp_find_header(q, "retry-after")) != NULL &&
	    (size_t)snprintf(s->retry_after, sizeof(s->retry_after), "%s",
	    v) >= sizeof(s->retry_after)) {
		*err = "retry-after: too long";
		return -1;
	}
	if ((v = evhttp_find_header(q, "type")) != NULL &&
	    (size_t)snprintf(s->type, sizeof(s->type), "%s", v) >= sizeof(s->type)) {
		*err = "type: too long";
		return -1;
	}
	if ((v = evhttp_find_header(q, "size")) != NULL &&
	    parse_num(v, 0, MAX_BODY, &size) != 0) {
		*err = "size: bytes, at most 64 MiB";
		return -1;
	}
	if ((s->body = evbuffer_new()) == NULL)
		abort();
	evbuffer_add_buffer(s->body, b);
	if (size >= 0) {
		/* A job record padded with spaces to exactly size bytes. */
		char pad[4096];
		size_t have, want = (size_t)size, chunk;

		memset(pad, ' ', sizeof(pad));
		if (evbuffer_get_length(s->body) == 0)
			evbuffer_add_printf(s->body, "{\"status\":\"pending\"}");
		if ((have = evbuffer_get_length(s->body)) > want) {
			*err = "size: smaller than the body";
			step_clear(s);
			return -1;
		}
		for (; have < want; have += chunk) {
			chunk = want - have < sizeof(pad) ? want - have : sizeof(pad);
			evbuffer_add(s->body, pad, chunk);
		}
	}
	return 0;
}

/* PUT (replace) or POST (append) a step, DELETE a job. */
static void
handle_control_job(struct fakeup *fu, struct evhttp_request *req,
    const char *seg)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq q;
	struct evkeyval *kv;
	struct step s, *steps;
	const char *err = NULL;
	struct job *j;
	char *jobid, msg[256];

	TAILQ_INIT(&q);
	if ((jobid = evhttp_uridecode(seg, 0, NULL)) == NULL)
		abort();
	if (cmd == EVHTTP_REQ_DELETE) {
		send_json(req, job_delete(fu, jobid) == 0 ? 200 : 404, "{}");
		goto done;
	}
	if (cmd != EVHTTP_REQ_PUT && cmd != EVHTTP_REQ_POST) {
		send_json(req, 405, "{\"error\":\"PUT, POST or DELETE\"}");
		goto done;
	}
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		send_json(req, 400, "{\"error\":\"bad query\"}");
		goto done;
	}
	if (step_parse(&s, &q, evhttp_request_get_input_buffer(req), &err) != 0) {
		snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}", err);
		send_json(req, 400, msg);
		goto done;
	}
	if ((j = job_find(fu, jobid)) != NULL && cmd == EVHTTP_REQ_PUT) {
		job_delete(fu, jobid);
		j = NULL;
	}
	if (j == NULL) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			abort();
		j->jobid = xstrdup(jobid);
		j->link = fu->jobs;
		fu->jobs = j;
	}
	if (j->nsteps >= MAX_STEPS) {
		step_clear(&s);
		send_json(req, 400, "{\"error\":\"too many steps\"}");
		goto done;
	}
	if ((steps = realloc(j->steps, (j->nsteps + 1) * sizeof(*steps))) == NULL)
		abort();
	j->steps = steps;
	j->steps[j->nsteps++] = s;
	/* owner= (repeatable) replaces the owners when given. */
	if (evhttp_find_header(&q, "owner") != NULL) {
		while (j->nowners > 0)
			free(j->owners[--j->nowners]);
		TAILQ_FOREACH(kv, &q, next) {
			if (strcmp(kv->key, "owner") != 0)
				continue;
			j->owners = realloc(j->owners,
			    (j->nowners + 1) * sizeof(*j->owners));
			if (j->owners == NULL)
				abort();
			j->owners[j->nowners++] = xstrdup(kv->value);
		}
	}
	snprintf(msg, sizeof(msg), "{\"steps\":%zu}", j->nsteps);
	send_json(req, 200, msg);
done:
	evhttp_clear_headers(&q);
	free(jobid);
}

/* GET /_fake/stats: shell-friendly counters. */
static void
handle_stats(struct fakeup *fu, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	struct counter *c;

	if (b == NULL)
		abort();
	evbuffer_add_printf(b, "total %lu\n", fu->total);
	evbuffer_add_printf(b, "media_active_max %d\n", fu->media_active_max);
	evbuffer_add_printf(b, "gone %lu\n", fu->gone);
	for (c = fu->counters; c != NULL; c = c->link)
		evbuffer_add_printf(b, "job %s %s %lu\n", c->jobid, c->token, c->n);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* GET /_fake/requests: the request log (a copy: evhttp drains what it sends). */
static void
handle_requests(struct fakeup *fu, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		abort();
	evbuffer_add(b, evbuffer_pullup(fu->reqlog, -1),
	    evbuffer_get_length(fu->reqlog));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/*
 * GET /media/...: a few bytes standing in for a video or an image, or what
 * the query asks: _size=N bytes of the pattern (where it starts depends on
 * the path), _type=CT, _status=N, _delay=MS, _cut=M (drop after M bytes),
 * _fail=K (the first K requests for the path get 503), _nolength=1 (no
 * Content-Length).  Requests are counted per path under the token "media".
 */
static void
handle_media(struct fakeup *fu, struct evhttp_request *req, const char *path,
    const char *query)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	long long size = -1, status = 200, delay = 0, cut = -1, fail = 0,
	    nolength = 0;
	char type[128], len[32];
	unsigned long n;
	unsigned shift = 0;
	struct stream *s;
	size_t plen = strlen(path);
	struct counter *c;

	for (c = fu->counters; c != NULL; c = c->link)
		if (strcmp(c->jobid, path) == 0 && strcmp(c->token, "media") == 0)
			break;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			abort();
		c->jobid = xstrdup(path);
		c->token = xstrdup("media");
		*fu->counters_tail = c;
		fu->counters_tail = &c->link;
	}
	n = ++c->n;
	if (query_num(query, "_size", 0, MAX_STREAM, &size) < 0 ||
	    query_num(query, "_status", 200, 599, &status) < 0 ||
	    query_num(query, "_delay", 0, MAX_DELAY_MS, &delay) < 0 ||
	    query_num(query, "_cut", 0, MAX_STREAM, &cut) < 0 ||
	    query_num(query, "_fail", 0, 1000, &fail) < 0 ||
	    query_num(query, "_nolength", 0, 1, &nolength) < 0) {
		bad_control(req, "media");
		return;
	}
	if (query_get(query, "_type", type, sizeof(type)) == NULL)
		snprintf(type, sizeof(type), "%s", plen > 4 &&
		    strcmp(path + plen - 4, ".mp4") == 0 ? "video/mp4" :
		    "image/jpeg");
	if ((long long)n <= fail) {
		send_text(req, 503, "text/plain", "try again later\n");
		return;
	}
	if (size < 0) {
		send_text(req, (int)status, type, plen > 4 &&
		    strcmp(path + plen - 4, ".mp4") == 0 ? "fake mp4 bytes\n" :
		    "fake jpeg bytes\n");
		return;
	}
	for (const char *p = path; *p != '\0'; p++)
		shift = shift * 31 + (unsigned char)*p;
	evhttp_add_header(h, "Content-Type", type);
	if (!nolength) {
		snprintf(len, sizeof(len), "%lld", size);
		evhttp_add_header(h, "Content-Length", len);
	}
	s = stream_later(fu, req, (int)status, size, cut, (long)delay);
	s->shift = shift % 26;
	s->media = 1;
	if (++fu->media_active > fu->media_active_max)
		fu->media_active_max = fu->media_active;
}

/* evhttp: every request. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeup *fu = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	CHECK_OBJ(fu, FAKEUP_MAGIC);
	if (path == NULL)
		path = "";
	if (strncmp(path, "/v1/", 4) == 0)
		handle_v1(fu, req, path);
	else if (strncmp(path, CONTROL_JOBS, strlen(CONTROL_JOBS)) == 0)
		handle_control_job(fu, req, path + strlen(CONTROL_JOBS));
	else if (strcmp(path, "/_fake/stats") == 0 && cmd == EVHTTP_REQ_GET)
		handle_stats(fu, req);
	else if (strcmp(path, "/_fake/requests") == 0 && cmd == EVHTTP_REQ_GET)
		handle_requests(fu, req);
	else if (strcmp(path, "/_fake/reset") == 0 && cmd == EVHTTP_REQ_POST) {
		reset_all(fu);
		send_json(req, 200, "{}");
	} else if (strncmp(path, "/media/", 7) == 0 && cmd == EVHTTP_REQ_GET)
		handle_media(fu, req, path, evhttp_uri_get_query(
		    evhttp_request_get_evhttp_uri(req)));
	else
		send_json(req, 404, "{\"error\":\"Not found\"}");
}

/* SIGINT/SIGTERM: leave the loop; main exits 0. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct fakeup *fu = arg;

	(void)sig;
	(void)what;
	event_base_loopexit(fu->base, NULL);
}

/* Prints the usage line and exits 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: fakeup [-l HOST:PORT] [--demo] [--completed]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct fakeup fu;
	struct stream *st, *next;
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct event *sigint = NULL, *sigterm = NULL;
	const char *listen = "127.0.0.1:0";
	char host[256], addr[INET_ADDRSTRLEN];
	const char *colon;
	long port;
	int i, rc = 1;

	memset(&fu, 0, sizeof(fu));
	fu.magic = FAKEUP_MAGIC;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--demo") == 0)
			fu.demo = 1;
		else if (strcmp(argv[i], "--completed") == 0)
			fu.completed = 1;
		else
			usage();
	}
	if ((colon = strrchr(listen, ':')) == NULL ||
	    (size_t)(colon - listen) >= sizeof(host) ||
	    parse_num(colon + 1, 0, 65535, &port) != 0) {
		fprintf(stderr, "fakeup: bad listen address '%s' (HOST:PORT)\n",
		    listen);
		return 2;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';

	signal(SIGPIPE, SIG_IGN);
	fu.counters_tail = &fu.counters;
	for (i = 0; i < (int)sizeof(fu.pattern); i++)
		fu.pattern[i] = (char)('a' + i % 26);
	if ((fu.base = event_base_new()) == NULL ||
	    (fu.http = evhttp_new(fu.base)) == NULL ||
	    (fu.reqlog = evbuffer_new()) == NULL)
		abort();
	evhttp_set_allowed_methods(fu.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(fu.http, MAX_BODY);
	evhttp_set_gencb(fu.http, request_cb, &fu);
	if ((bound = evhttp_bind_socket_with_handle(fu.http, host,
	    (ev_uint16_t)port)) == NULL) {
		fprintf(stderr, "fakeup: cannot listen on %s: %s\n", listen,
		    strerror(errno));
		goto done;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &slen) != 0 || sin.sin_family != AF_INET ||
	    inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr)) == NULL) {
		fprintf(stderr, "fakeup: %s is not an IPv4 address\n", listen);
		goto done;
	}
	snprintf(fu.origin, sizeof(fu.origin), "http://%s:%u", addr,
	    (unsigned)ntohs(sin.sin_port));
	sigint = evsignal_new(fu.base, SIGINT, signal_cb, &fu);
	sigterm = evsignal_new(fu.base, SIGTERM, signal_cb, &fu);
	if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0)
		abort();
	printf("fakeup listening on %s:%u\n", addr, (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	if (event_base_dispatch(fu.base) == 0)
		rc = 0;

	/* Requests whose connection already went are ours to free. */
	while (fu.replies != NULL) {
		if (evhttp_request_get_connection(fu.replies->req) == NULL)
			evhttp_request_free(fu.replies->req);
		reply_free(fu.replies);
	}
	/* Streams not started yet; evhttp_free ends the others (closecb). */
	for (st = fu.streams; st != NULL; st = next) {
		next = st->link;
		if (st->started)
			continue;
		if (evhttp_request_get_connection(st->req) == NULL)
			evhttp_request_free(st->req);
		stream_free(st);
	}
done:
	reset_all(&fu);
	evbuffer_free(fu.reqlog);
	evhttp_free(fu.http);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	event_base_free(fu.base);
	return rc;
}
