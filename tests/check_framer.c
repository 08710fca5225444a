/*
 * Unit tests of framer.c: what evhttp gets to see of each request head,
 * the body as the handler reads it (by length, chunked, over the limit),
 * the cases left to evhttp, and output reaching the socket.  A socketpair
 * stands for the client; the test plays evhttp.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "framer.h"

#define MAX_BODY	1000

static struct event_base *base;
static struct bufferevent *bev;
static struct framer *fr;
static struct evbuffer *heads;		/* what "evhttp" read */
static int sp[2];

/* Plays evhttp: takes whatever the framer hands over. */
static void
read_cb(struct bufferevent *b, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(heads, bufferevent_get_input(b));
}

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sp[0]), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sp[1]), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(heads = evbuffer_new());
	ck_assert_ptr_nonnull(bev = framer_bev_new(base, MAX_BODY, 60));
	ck_assert_ptr_nonnull(fr = framer_of(bev));
	ck_assert_int_eq(bufferevent_setfd(bev, sp[0]), 0);
	bufferevent_setcb(bev, read_cb, NULL, NULL, NULL);
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

START_TEST(test_too_large)
{
	FEED("POST /a HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_TOO_LARGE);
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
	ck_assert_int_eq(framer_current(fr), FRAMER_TOO_LARGE);
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
	ck_assert_int_eq(framer_current(fr), FRAMER_BAD_HEADER);
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
	ck_assert_int_eq(framer_current(fr), FRAMER_BAD_HEADER);
}
END_TEST

START_TEST(test_cr_in_header)
{
	FEED("GET /a HTTP/1.1\r\nX-A: a\rb\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_BAD_HEADER);
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
};

START_TEST(test_refused)
{
	const char *h = refused_heads[_i];

	feed(h, strlen(h));
	ck_assert_int_eq(framer_current(fr), FRAMER_BAD_HEADER);
	HEADS("POST /a HTTP/1.1\r\n\r\n");
	FEED("GET /smuggled HTTP/1.1\r\n\r\n");
	framer_request_done(fr);
	spin();
	HEADS("");
}
END_TEST

/* A head evhttp will refuse by itself (no request line) is left to it. */
START_TEST(test_left_to_evhttp)
{
	FEED("\r\nGET /a HTTP/1.1\r\n\r\n");
	HEADS("\r\nGET /a HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(framer_current(fr), FRAMER_EVHTTP);
	FEED("abc");
	HEADS("abc");
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
	tcase_add_test(tc, test_left_to_evhttp);
	tcase_add_test(tc, test_chunk_line_garbage);
	tcase_add_test(tc, test_chunk_extension_with_space);
	tcase_add_test(tc, test_no_continue_for_http10);
	tcase_add_test(tc, test_output_reaches_socket);
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
