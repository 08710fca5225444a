/*
 * Unit tests of framer.c: what evhttp gets to see of each request head,
 * the body as the handler reads it (by length, chunked, over the limit),
 * what is refused and with which status (the head size limit at its
 * boundary, request lines, framing), and output reaching the socket.  A
 * socketpair stands for the client; the test plays evhttp.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "framer.h"
#include "head.h"

#define MAX_BODY	1000

static struct event_base *base;
static struct bufferevent *bev;
static struct framer *fr;
static struct evbuffer *heads;		/* what "evhttp" read */
static int sp[2];
static int closed;			/* "evhttp" was told the input ended */

static char bigbody[512 * 1024];		/* GET /big's answer: 'B's */

/*
 * Answers GET /fast<N> itself with "F<N>", and GET /big with bigbody: the
 * fast path's stand-in.
 */
static int
fast_fn(void *arg, struct framer *f, const struct head *h, const char *p)
{
	struct iovec iov[2];

	(void)arg;
	if (head_method_is(p, h, "GET") && h->target_len == 4 &&
	    memcmp(p + h->target, "/big", 4) == 0) {
		iov[0].iov_base = bigbody;
		iov[0].iov_len = sizeof(bigbody);
		framer_send(f, iov, 1);
		return 1;
	}
	if (!head_method_is(p, h, "GET") || h->target_len != 6 ||
	    memcmp(p + h->target, "/fast", 5) != 0)
		return 0;
	iov[0].iov_base = (void *)"F";
	iov[0].iov_len = 1;
	iov[1].iov_base = (void *)(p + h->target + 5);
	iov[1].iov_len = 1;
	framer_send(f, iov, 2);
	return 1;
}

static int held_now;			/* fast answers wait to be written */

static void
held_fn(void *arg, int waiting)
{
	(void)arg;
	held_now = waiting;
}

static const struct framer_fast fast = { fast_fn, held_fn, NULL };

/* Plays evhttp: takes whatever the framer hands over. */
static void
read_cb(struct bufferevent *b, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(heads, bufferevent_get_input(b));
}

static void
event_cb(struct bufferevent *b, short what, void *arg)
{
	(void)b;
	(void)arg;
	if (what & BEV_EVENT_EOF)
		closed = 1;
}

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sp[0]), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sp[1]), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(heads = evbuffer_new());
	ck_assert_ptr_nonnull(bev = framer_bev_new(base, MAX_BODY, 60, &fast));
	ck_assert_ptr_nonnull(fr = framer_of(bev));
	ck_assert_int_eq(bufferevent_setfd(bev, sp[0]), 0);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	closed = 0;
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
teardown(void)
{
	bufferevent_free(bev);
	evbuffer_free(heads);
	event_base_free(base);
	close(sp[1]);
}

/* Lets the loop move what is there. */
static void
spin(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
feed(const char *s, size_t len)
{
	ck_assert_int_eq(write(sp[1], s, len), (ssize_t)len);
	spin();
}
#define FEED(s)	feed((s), sizeof(s) - 1)

static void
assert_heads(const char *want, size_t len)
{
	size_t have = evbuffer_get_length(heads);
	const char *p = (const char *)evbuffer_pullup(heads, -1);

	ck_assert_msg(have == len && (len == 0 || memcmp(p, want, len) == 0),
	    "evhttp saw %zu bytes '%.*s', not '%s'", have, (int)have,
	    p ? p : "", want);
	evbuffer_drain(heads, have);
}
#define HEADS(s) assert_heads((s), sizeof(s) - 1)

/*
 * After a refusal (answered now), nothing more is read: a request sent
 * behind it never reaches evhttp, and evhttp is told the input ended.
 */
static void
assert_nothing_after(void)
{
	FEED("GET /smuggled HTTP/1.1\r\n\r\n");
	framer_request_done(fr);
	spin();
	HEADS("");
	ck_assert_int_eq(closed, 1);
}

/* Reads the whole current body; returns how the reading ended. */
static enum framer_read
read_body(char *out, size_t cap, size_t *len)
{
	enum framer_read r;
	size_t n;

	*len = 0;
	for (int i = 0; i < 100; i++) {
		r = framer_body_read(fr, out + *len, cap - *len, &n);
		*len += n;
		if (r == FRAMER_END || r == FRAMER_FAILED)
			return r;
		if (r == FRAMER_WAIT)
			spin();
	}
	return FRAMER_WAIT;
}

START_TEST(test_no_body)
{
	FEED("GET /v1/x HTTP/1.1\r\nHost: a\r\n\r\n");
	HEADS("GET /v1/x HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_NONE);
}
END_TEST

START_TEST(test_length_body)
{
	char body[64];
	size_t len;

	FEED("POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\n\r\nhel");
	HEADS("POST /v1/x HTTP/1.1\r\nHost: a\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_STREAM);
	ck_assert_int_eq(framer_body_length(fr), 5);
	framer_attach(fr, NULL, NULL);
	FEED("lo");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_END);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(body, "hello", 5) == 0);
	/* The client was told to go on, as evhttp would have. */
	len = (size_t)read(sp[1], body, sizeof(body));
	ck_assert_uint_eq(len, 25);
	ck_assert(memcmp(body, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
}
END_TEST

START_TEST(test_chunked_body)
{
	char body[64];
	size_t len;

	FEED("PUT /v1/x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n");
	HEADS("PUT /v1/x HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_STREAM);
	ck_assert_int_eq(framer_body_length(fr), -1);
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_END);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(body, "abcde", 5) == 0);
}
END_TEST

START_TEST(test_bare_lf)
{
	char body[8];
	size_t len;

	FEED("POST / HTTP/1.1\nContent-Length: 2\n\nhi");
	HEADS("POST / HTTP/1.1\n\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_END);
	ck_assert_uint_eq(len, 2);
}
END_TEST

/* The next head waits until the answer to the last one is out. */
START_TEST(test_pipelined)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n");
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_END);
	spin();
	HEADS("");
	framer_request_done(fr);
	spin();
	HEADS("GET /b HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_NONE);
}
END_TEST

/* A body nobody read is skipped, not taken for the next request. */
START_TEST(test_unread_body_skipped)
{
	FEED("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET GET /b HTTP/1.1\r\n\r\n");
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	framer_request_done(fr);
	spin();
	HEADS("GET /b HTTP/1.1\r\n\r\n");
}
END_TEST

/* The status the current request is refused with, 0 if none. */
static int
refusal(void)
{
	const char *msg = NULL;
	int status = framer_refusal(fr, &msg);

	if (status != 0) {
		ck_assert_int_eq(framer_current(fr), FRAMER_REFUSED);
		ck_assert_ptr_nonnull(msg);
	}
	return status;
}

START_TEST(test_too_large)
{
	FEED("POST /a HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(refusal(), 413);
}
END_TEST

START_TEST(test_chunked_too_large)
{
	char body[2048];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3e8\r\n");		/* 1000: fits */
	ck_assert_int_eq(framer_current(fr), FRAMER_STREAM);
	for (int i = 0; i < 10; i++)
		feed("0123456789012345678901234567890123456789"
		    "0123456789012345678901234567890123456789"
		    "01234567890123456789", 100);
	FEED("\r\n1\r\nx\r\n");	/* 1001 */
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_FAILED);
	ck_assert_int_eq(refusal(), 413);
}
END_TEST

START_TEST(test_chunk_size_overflow)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffff1\r\nx");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_FAILED);
}
END_TEST

START_TEST(test_bad_chunk)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_FAILED);
	ck_assert_int_eq(refusal(), 400);
}
END_TEST

START_TEST(test_missing_crlf_after_chunk)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_FAILED);
}
END_TEST

START_TEST(test_nul_in_header)
{
	FEED("GET /a HTTP/1.1\r\nX-A: a\0b\r\n\r\n");
	ck_assert_int_eq(refusal(), 400);
}
END_TEST

START_TEST(test_cr_in_header)
{
	FEED("GET /a HTTP/1.1\r\nX-A: a\rb\r\n\r\n");
	ck_assert_int_eq(refusal(), 400);
}
END_TEST

/*
 * Framing that two parsers could read differently is refused: the head goes
 * on without the doubtful lines (to be answered 400), nothing after it is
 * read.
 */
static const char *const refused_heads[] = {
	"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
	"POST /a HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n",
	"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"POST /a HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
	"POST /a HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
	"POST /a HTTP/1.1\r\nContent-Length : 3\r\n\r\n",
	"POST /a HTTP/1.1\r\nContent-Length: 3\r\n folded\r\n\r\n",
	"POST /a HTTP/1.1\r\nNo colon here\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: a\r\n\tfolded: 1\r\n\r\n",
	"POST /a HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
	"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HEAD /a HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
	"TRACE /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
};

START_TEST(test_refused)
{
	const char *h = refused_heads[_i];
	char want[64];

	feed(h, strlen(h));
	ck_assert_int_eq(refusal(), 400);
	/* The request line alone, as sent. */
	snprintf(want, sizeof(want), "%.*s\r\n\r\n",
	    (int)(strstr(h, "\r\n") - h), h);
	assert_heads(want, strlen(want));
	assert_nothing_after();
}
END_TEST

/*
 * evhttp reads one Connection header as one word: a "close" anywhere in
 * any of them comes first, alone, so that the connection ends after this
 * request (RFC 9112, 9.6).
 */
START_TEST(test_connection_close_listed)
{
	FEED("GET /a HTTP/1.1\r\nConnection: keep-alive\r\nConnection: te , Close \r\n\r\n");
	HEADS("GET /a HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n"
	    "Connection: te , Close \r\n\r\n");
	framer_request_done(fr);
	FEED("GET /b HTTP/1.1\r\nConnection: closed, xclose\r\n\r\n");
	HEADS("GET /b HTTP/1.1\r\nConnection: closed, xclose\r\n\r\n");
}
END_TEST

/*
 * A body that fails after its request was answered (the rest was being
 * skipped) ends the connection: nothing more is read or handed on.
 */
START_TEST(test_body_fails_after_answer)
{
	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	framer_request_done(fr);	/* answered early; the body is skipped */
	spin();
	FEED("zz\r\nGET /b HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(refusal(), 400);
	HEADS("");
	ck_assert_int_eq(closed, 1);
}
END_TEST

/* Empty lines before a request line are skipped (RFC 9112, 2.2). */
START_TEST(test_leading_empty_lines)
{
	FEED("\r\n\nGET /a HTTP/1.1\r\n\r\n");
	HEADS("GET /a HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_NONE);
}
END_TEST

/*
 * A head of exactly total bytes: "GET /a HTTP/1.1", header lines of
 * line_len bytes (line end included; the last one takes what is left),
 * the empty line.  Lines end with eol.  The caller frees it.
 */
static char *
make_head(size_t total, const char *eol, size_t line_len)
{
	char *h = malloc(total + 1), *p = h;
	size_t el = strlen(eol), left, n, i = 0;

	ck_assert_ptr_nonnull(h);
	p += snprintf(p, total + 1, "GET /a HTTP/1.1%s", eol);
	left = total - (size_t)(p - h) - el;
	while (left > 0) {
		n = left < 2 * line_len ? left : line_len;
		ck_assert_uint_ge(n, 9 + el);
		p += snprintf(p, 9, "X-%05zu:", i++);
		memset(p, 'v', n - 8 - el);
		p += n - 8 - el;
		memcpy(p, eol, el);
		p += el;
		left -= n;
	}
	memcpy(p, eol, el);
	p += el;
	*p = '\0';
	ck_assert_uint_eq((size_t)(p - h), total);
	return h;
}

/*
 * The head limit counts every byte, line ends too, whether lines end in
 * CRLF or LF and whether there are many short lines or one long one: a
 * head of HEAD_MAX bytes is taken, one byte more is refused with
 * 431 and nothing after it is read.
 */
START_TEST(test_head_limit)
{
	static const struct { const char *eol; size_t line; } v[] = {
		{ "\r\n", 11 }, { "\n", 10 }, { "\r\n", 20000 }, { "\n", 20000 },
	};
	const char *eol = v[_i / 2].eol;
	size_t total = HEAD_MAX + (size_t)(_i % 2);
	char *h = make_head(total, eol, v[_i / 2].line);
	char want[32];

	feed(h, total);
	free(h);
	if (total == HEAD_MAX) {
		ck_assert_int_eq(refusal(), 0);
		ck_assert_int_eq(framer_current(fr), FRAMER_NONE);
		ck_assert_uint_gt(evbuffer_get_length(heads), total / 2);
		return;
	}
	ck_assert_int_eq(refusal(), 431);
	ck_assert_ptr_null(framer_standin_method(fr));
	snprintf(want, sizeof(want), "GET /a HTTP/1.1\r\n\r\n");
	assert_heads(want, strlen(want));
	assert_nothing_after();
}
END_TEST

/*
 * Leading empty lines count toward the limit; a head whose end is not in
 * sight by the limit is refused at once, its request line even when it
 * has no end yet.
 */
START_TEST(test_head_limit_edges)
{
	char *h = make_head(HEAD_MAX - 2, "\r\n", 100);
	char *big = malloc(HEAD_MAX + 10);

	ck_assert_ptr_nonnull(big);
	FEED("\r\n\r\n");
	feed(h, HEAD_MAX - 2);
	ck_assert_int_eq(refusal(), 431);
	HEADS("GET /a HTTP/1.1\r\n\r\n");
	teardown();
	setup();
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', HEAD_MAX + 5);
	feed(big, HEAD_MAX + 10);	/* no line end at all */
	ck_assert_int_eq(refusal(), 431);
	ck_assert_str_eq(framer_standin_method(fr), "-");
	HEADS("GET / HTTP/1.1\r\n\r\n");
	free(big);
	free(h);
}
END_TEST

/*
 * The request from the report: 1,700 header lines push the head past the
 * limit, then two lengths, then a request hidden in the "body".  Refused
 * whole: evhttp never sees a second request.
 */
START_TEST(test_padded_smuggling)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;

	ck_assert_ptr_nonnull(b);
	evbuffer_add_printf(b, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 1700; i++)
		evbuffer_add_printf(b, "X-%05d:v\r\n", i);
	evbuffer_add_printf(b, "Content-Length: 0\r\nContent-Length: 34\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	len = evbuffer_get_length(b);
	feed((const char *)evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
	ck_assert_int_eq(refusal(), 431);
	HEADS("GET /healthz HTTP/1.1\r\n\r\n");
	assert_nothing_after();
}
END_TEST

/*
 * Request lines: what evhttp gets (the client's line with its version
 * as 1.0 or 1.1, or a stand-in), and the status of a refusal.
 */
static const struct {
	const char	*line;
	int		 status;
	const char	*heads;		/* what evhttp sees */
	const char	*standin;	/* method logged for a stand-in */
} request_lines[] = {
	{ "GET /a HTTP/1.1", 0, "GET /a HTTP/1.1\r\n\r\n", NULL },
	{ "GET /a HTTP/1.0", 0, "GET /a HTTP/1.0\r\n\r\n", NULL },
	{ "OPTIONS * HTTP/1.1", 0, "OPTIONS * HTTP/1.1\r\n\r\n", NULL },
	{ "GET http://h/a?b HTTP/1.1", 0, "GET http://h/a?b HTTP/1.1\r\n\r\n", NULL },
	{ "GET /a HTTP/0.1", 505, "GET /a HTTP/1.1\r\n\r\n", NULL },
	{ "GET /a HTTP/0.9", 505, "GET /a HTTP/1.1\r\n\r\n", NULL },
	{ "GET /a HTTP/1.2", 505, "GET /a HTTP/1.1\r\n\r\n", NULL },
	{ "GET /a HTTP/2.0", 505, "GET /a HTTP/1.1\r\n\r\n", NULL },
	/* Refused for its version, and evhttp could not parse the rest. */
	{ "BREW /a HTTP/2.0", 505, "GET / HTTP/1.1\r\n\r\n", "BREW" },
	{ "CONNECT a:1 HTTP/0.9", 505, "GET / HTTP/1.1\r\n\r\n", "CONNECT" },
	{ "GET //x:abc/ HTTP/2.0", 505, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "PRI * HTTP/2.0", 505, "GET / HTTP/1.1\r\n\r\n", "PRI" },
	{ "GET :x HTTP/1.2", 505, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET :x HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a HTTP/1.10", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a HTTP/1.1 ", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a http/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a HTTP/1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET  /a HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET  HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a b HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET /a\x7f HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "GET //x:abc/ HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "GET" },
	{ "G(T /a HTTP/1.1", 400, "GET / HTTP/1.1\r\n\r\n", "-" },
	{ "BREW /pot HTTP/1.1", 501, "GET / HTTP/1.1\r\n\r\n", "BREW" },
	{ "get /a HTTP/1.1", 501, "GET / HTTP/1.1\r\n\r\n", "get" },
	{ "CONNECT a:443 HTTP/1.1", 405, "GET / HTTP/1.1\r\n\r\n", "CONNECT" },
	{ "CONNECT a:443 HTTP/1.0", 405, "GET / HTTP/1.0\r\n\r\n", "CONNECT" },
};

START_TEST(test_request_line)
{
	char h[128];
	const char *m;

	snprintf(h, sizeof(h), "%s\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
	    request_lines[_i].line);
	feed(h, strlen(h));
	ck_assert_int_eq(refusal(), request_lines[_i].status);
	assert_heads(request_lines[_i].heads, strlen(request_lines[_i].heads));
	m = framer_standin_method(fr);
	if (request_lines[_i].standin == NULL)
		ck_assert_ptr_null(m);
	else
		ck_assert_str_eq(m, request_lines[_i].standin);
	/* After a refusal nothing more is read; else the next request. */
	framer_request_done(fr);
	spin();
	if (request_lines[_i].status != 0)
		HEADS("");
	else
		HEADS("GET /next HTTP/1.1\r\n\r\n");
}
END_TEST

START_TEST(test_chunk_line_garbage)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 zz\r\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_FAILED);
}
END_TEST

START_TEST(test_chunk_extension_with_space)
{
	char body[8];
	size_t len;

	FEED("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2 ;a=b\r\nhi\r\n0\r\n\r\n");
	ck_assert_int_eq(read_body(body, sizeof(body), &len), FRAMER_END);
	ck_assert_uint_eq(len, 2);
}
END_TEST

START_TEST(test_no_continue_for_http10)
{
	char buf[64];

	FEED("POST /a HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_STREAM);
	ck_assert_int_eq(read(sp[1], buf, sizeof(buf)), -1);	/* nothing: EAGAIN */
}
END_TEST

START_TEST(test_output_reaches_socket)
{
	char buf[16];

	bufferevent_write(bev, "HTTP/1.1 200", 12);
	spin();
	ck_assert_int_eq(read(sp[1], buf, sizeof(buf)), 12);
	ck_assert(memcmp(buf, "HTTP/1.1 200", 12) == 0);
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
}
END_TEST

/* What head_parse() notes for an answer made without evhttp. */
START_TEST(test_head_facts)
{
	static const char plain[] = "GET /v1/luma/jobs/j1 HTTP/1.1\r\n"
	    "Host: a\r\nauthorization:  Bearer t1 \r\nAccept: */*\r\n\r\n";
	static const char *const not_plain[] = {
		"GET /a HTTP/1.1\r\nCache-Control: no-cache\r\n\r\n",
		"GET /a HTTP/1.1\r\nif-none-match: \"x\"\r\n\r\n",
		"GET /a HTTP/1.1\r\nPrefer: wait=5\r\n\r\n",
		"GET /a HTTP/1.1\r\nAuthorization: Bearer a\r\n"
		    "Authorization: Bearer b\r\n\r\n",
		"GET /a HTTP/1.1\r\nAccept: a/b\r\nAccept: c/d\r\n\r\n",
		"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
	};
	struct head h;

	ck_assert_int_eq(head_parse(plain, sizeof(plain) - 1, &h, NULL), 1);
	ck_assert_int_eq(h.status, 0);
	ck_assert_int_eq(h.plain, 1);
	ck_assert(head_method_is(plain, &h, "GET"));
	ck_assert(!head_method_is(plain, &h, "HEAD"));
	ck_assert_uint_eq(h.target_len, 16);
	ck_assert(memcmp(plain + h.target, "/v1/luma/jobs/j1", 16) == 0);
	ck_assert_uint_eq(h.auth_len, 9);
	ck_assert(memcmp(plain + h.auth, "Bearer t1", 9) == 0);
	ck_assert_uint_eq(h.accept_len, 3);
	ck_assert(memcmp(plain + h.accept, "*/*", 3) == 0);
	ck_assert_int_eq(h.close, 0);
	for (size_t i = 0; i < sizeof(not_plain) / sizeof(not_plain[0]); i++) {
		ck_assert_int_eq(head_parse(not_plain[i], strlen(not_plain[i]),
		    &h, NULL), 1);
		ck_assert_msg(h.plain == 0, "plain: %s", not_plain[i]);
	}
}
END_TEST

/*
 * Requests answered without evhttp never reach it, and every answer leaves
 * in the order of the requests, whoever made it.
 */
START_TEST(test_fast_answers_in_order)
{
	char buf[64];
	ssize_t n;

	FEED("GET /fast1 HTTP/1.1\r\n\r\nGET /slow HTTP/1.1\r\n\r\n"
	    "GET /fast2 HTTP/1.1\r\n\r\n");
	HEADS("GET /slow HTTP/1.1\r\n\r\n");
	/* /fast2 waits behind /slow, which evhttp answers now. */
	bufferevent_write(bev, "S", 1);
	spin();
	framer_request_done(fr);
	spin();
	HEADS("");
	n = read(sp[1], buf, sizeof(buf));
	ck_assert_int_eq(n, 5);
	ck_assert(memcmp(buf, "F1SF2", 5) == 0);
	/* A request with a body always goes to evhttp. */
	FEED("GET /fast3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
	HEADS("GET /fast3 HTTP/1.1\r\n\r\n");
}
END_TEST

/*
 * An answer of the framer's own the client has not read yet waits (and is
 * in flight for a draining server); what comes after it, a 100 Continue
 * included, leaves after it.
 */
START_TEST(test_fast_answer_waits)
{
	static char got[sizeof(bigbody) + 64];
	size_t have = 0;
	ssize_t n;

	memset(bigbody, 'B', sizeof(bigbody));
	FEED("GET /big HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(held_now, 1);
	FEED("POST /up HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Expect: 100-continue\r\n\r\n");
	for (int i = 0; i < 1000 && have < sizeof(bigbody) + 25; i++) {
		if ((n = read(sp[1], got + have, sizeof(got) - have)) > 0)
			have += (size_t)n;
		spin();
	}
	ck_assert_uint_eq(have, sizeof(bigbody) + 25);
	ck_assert(memcmp(got, bigbody, sizeof(bigbody)) == 0);
	ck_assert(memcmp(got + sizeof(bigbody), "HTTP/1.1 100 Continue\r\n\r\n",
	    25) == 0);
	ck_assert_int_eq(held_now, 0);
	HEADS("POST /up HTTP/1.1\r\n\r\n");
}
END_TEST

/*
 * A connection past --max-connections: its first request, however good and
 * even one the fast path would answer, is refused with the status given;
 * evhttp gets the request line alone, and nothing after it is read.  A
 * head refused for what it is keeps its own status.
 */
START_TEST(test_refuse_all)
{
	const char *msg = NULL;

	framer_refuse_all(fr, 503, "Too many connections");
	FEED("GET /fast1 HTTP/1.1\r\nHost: a\r\n\r\n");
	HEADS("GET /fast1 HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_refusal(fr, &msg), 503);
	ck_assert_str_eq(msg, "Too many connections");
	assert_nothing_after();
}
END_TEST

START_TEST(test_refuse_all_bad_head)
{
	framer_refuse_all(fr, 503, "Too many connections");
	FEED("GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
	ck_assert_int_eq(refusal(), 400);
	HEADS("GET /a HTTP/1.1\r\n\r\n");
	assert_nothing_after();
}
END_TEST

static Suite *
framer_suite(void)
{
	Suite *s = suite_create("framer");
	TCase *tc = tcase_create("framing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_body);
	tcase_add_test(tc, test_length_body);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_bare_lf);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_unread_body_skipped);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_chunked_too_large);
	tcase_add_test(tc, test_chunk_size_overflow);
	tcase_add_test(tc, test_bad_chunk);
	tcase_add_test(tc, test_missing_crlf_after_chunk);
	tcase_add_test(tc, test_nul_in_header);
	tcase_add_test(tc, test_cr_in_header);
	tcase_add_loop_test(tc, test_refused, 0,
	    (int)(sizeof(refused_heads) / sizeof(refused_heads[0])));
	tcase_add_test(tc, test_leading_empty_lines);
	tcase_add_test(tc, test_connection_close_listed);
	tcase_add_test(tc, test_body_fails_after_answer);
	tcase_add_loop_test(tc, test_head_limit, 0, 8);
	tcase_add_test(tc, test_head_limit_edges);
	tcase_add_test(tc, test_padded_smuggling);
	tcase_add_loop_test(tc, test_request_line, 0,
	    (int)(sizeof(request_lines) / sizeof(request_lines[0])));
	tcase_add_test(tc, test_chunk_line_garbage);
	tcase_add_test(tc, test_chunk_extension_with_space);
	tcase_add_test(tc, test_no_continue_for_http10);
	tcase_add_test(tc, test_output_reaches_socket);
	tcase_add_test(tc, test_head_facts);
	tcase_add_test(tc, test_fast_answers_in_order);
	tcase_add_test(tc, test_fast_answer_waits);
	tcase_add_test(tc, test_refuse_all);
	tcase_add_test(tc, test_refuse_all_bad_head);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(framer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
