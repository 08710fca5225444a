/*
 * The request framer over a socket pair: the input's first byte picks the
 * sizes of the writes the rest is cut into, so that heads, chunked and
 * sized bodies and pipelined requests arrive in any split.  The harness
 * plays evhttp: takes each head, reads the body to its end or failure,
 * and says the request is done, as long as the framer goes on.
 */
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "framer.h"
#include "fuzz.h"

#define MAX_BODY	1000

static struct evbuffer *heads;		/* what evhttp was handed */
static int ended;			/* evhttp was told the input ended */
static int busy;			/* evhttp has a request in hand */

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
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ended = 1;
}

/* Runs the loop, then answers the request evhttp has, if any. */
static void
step(struct event_base *base, struct framer *f, int peer)
{
	const char *msg;
	char buf[512];
	size_t n;
	int i;

	for (i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	while (read(peer, buf, sizeof(buf)) > 0)
		;			/* 100 Continue and the like */
	if (evbuffer_get_length(heads) > 0) {
		evbuffer_drain(heads, evbuffer_get_length(heads));
		busy = 1;
	}
	if (!busy)
		return;
	if (framer_current(f) == FRAMER_STREAM) {
		for (;;) {
			enum framer_read r = framer_body_read(f, buf,
			    sizeof(buf), &n);

			if (r == FRAMER_WAIT)
				return;	/* the rest comes with later writes */
			if (r != FRAMER_DATA)
				break;
		}
	}
	(void)framer_refusal(f, &msg);
	busy = 0;
	framer_request_done(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base *base;
	struct bufferevent *bev;
	struct framer *f;
	size_t at, cut, len;
	int sp[2];

	if (size < 1 || size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 ||
	    evutil_make_socket_nonblocking(sp[0]) != 0 ||
	    evutil_make_socket_nonblocking(sp[1]) != 0 ||
	    (base = event_base_new()) == NULL ||
	    (heads = evbuffer_new()) == NULL ||
	    (bev = framer_bev_new(base, MAX_BODY, 60, NULL)) == NULL ||
	    (f = framer_of(bev)) == NULL ||
	    bufferevent_setfd(bev, sp[0]) != 0)
		abort();
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	ended = busy = 0;
	cut = (size_t)data[0] * 7 + 1;
	for (at = 1; at < size && !ended; at += len) {
		len = size - at < cut ? size - at : cut;
		if (write(sp[1], data + at, len) != (ssize_t)len)
			break;
		step(base, f, sp[1]);
		cut = cut % 13 == 0 ? cut / 2 + 1 : cut * 3 % 1021 + 1;
	}
	/* The requests still queued, then the end of the input. */
	for (len = 0; len < 16 && !ended; len++)
		step(base, f, sp[1]);
	shutdown(sp[1], SHUT_WR);
	step(base, f, sp[1]);
	bufferevent_free(bev);
	/* The frees libevent defers run from the loop, as in the server. */
	for (len = 0; len < 4; len++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	evbuffer_free(heads);
	event_base_free(base);
	close(sp[1]);
	return 0;
}
