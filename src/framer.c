/*
 * The framer is the input filter of a bufferevent_filter.  Its states
 * follow the bytes of one request after another: the head (handed to
 * evhttp, minus the framing headers, only while evhttp waits for a new
 * request), then the body by length or by chunks (kept in f->body for the
 * handler, at most BODY_HIGH bytes ahead of it), then the next head.
 *
 * Nothing but a head is ever written to evhttp's side, and never while
 * evhttp is answering: evhttp 2.1 aborts on input in that state.  So that
 * body bytes moving do not wake evhttp, its input low-water mark is 1.
 *
 * Output goes from evhttp's buffer straight to the socket, from our own
 * write event, and leaves the buffer only once the kernel took it: evhttp
 * takes an empty buffer for "sent" and may then shut the socket down, so
 * nothing may wait in a buffer below it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "framer.h"
#include "head.h"
#include "util.h"

#define FRAMER_MAGIC	0x46524d52u
#define BODY_HIGH	(256 * 1024)	/* body bytes kept ahead of the reader */
#define UNDER_HIGH	65536		/* socket bytes read ahead */
#define LINE_MAX_LEN	1024		/* chunk-size and trailer lines */
#define TRAILERS_MAX	16384
#define WRITE_MAX	(1024 * 1024)	/* bytes per write(2) */
#define DROP_MAX	(1024 * 1024)	/* read after a refusal */
#define TOO_LARGE	"Request body too large"
#define BAD_BODY	"Bad request body"
#define EVHTTP_HELD_MAX	(2 * HEAD_MAX)	/* bytes evhttp's input may hold */
#define FAST_HIGH	(256 * 1024)	/* fast answers queued: read no more */

enum fstate {
	F_HEAD,		/* next: a request's head */
	F_LENGTH,	/* a body of known length */
	F_CHUNK_SIZE,	/* a chunk-size line */
	F_CHUNK_DATA,
	F_CHUNK_END,	/* the CRLF after a chunk's data */
	F_TRAILERS,	/* trailer lines up to an empty one */
	F_DROP,		/* a refused request: nothing more is read */
};

struct framer {
	unsigned		 magic;
	struct bufferevent	*filter;	/* borrowed: ours is its filter */
	struct bufferevent	*under;		/* borrowed: owned by filter */
	uint64_t		 max_body;
	enum fstate		 state;
	int			 busy;		/* evhttp has a request */
	enum framer_body	 cur;
	int			 status;	/* FRAMER_REFUSED: the answer */
	const char		*msg;		/* static: its error message */
	int			 refuse_all;	/* every request: this status */
	const char		*refuse_msg;	/* static: and this message */
	struct head		 head;		/* what the current head said */
	uint64_t		 left;		/* of the body or the chunk */
	uint64_t		 seen;		/* body bytes so far */
	uint64_t		 dropped;	/* bytes after a refusal */
	size_t			 trailers;	/* trailer bytes so far */
	int			 ended;
	int			 failed;
	int			 discard;	/* nobody reads the body */
	struct evbuffer		*body;		/* owned: bytes not read yet */
	void			(*ready)(void *);
	void			*ready_arg;
	struct event		*notify;	/* owned: calls ready */
	struct event_base	*base;		/* borrowed */
	struct event		*writable;	/* owned: EV_WRITE on the socket */
	int			 writing;	/* inside writable_cb */
	int			 write_error;	/* errno of a failed write */
	bufferevent_data_cb	 under_read;	/* the filter's callbacks on */
	bufferevent_data_cb	 under_write;	/* the socket, and their arg */
	bufferevent_event_cb	 under_event;
	void			*under_arg;
	short			 held_event;	/* EOF kept until output is out */
	struct event		*closer;	/* owned: ends it, from the loop */
	struct timeval		 idle;		/* evhttp's read/write timeout */
	int			 read_held;	/* no read timeout until answered */
	const struct framer_fast *fast;		/* answers without evhttp */
	struct evbuffer		*fast_out;	/* owned: its answers not sent */
	int			 fast_held;	/* fast->held(, 1) was called */
	char			 peer[64];	/* "" until framer_peer() */
	int64_t			 rearmed;	/* ms: keep_alive() last armed */
	int			 partial;	/* the input holds no whole head */
};

static void	arm_write(struct framer *);
static int	requests_left(struct framer *);

/* Tells fast->held() whether answers of the framer's own wait. */
static void
fast_waiting(struct framer *f)
{
	int waiting = evbuffer_get_length(f->fast_out) > 0;

	if (waiting != f->fast_held && f->fast != NULL &&
	    f->fast->held != NULL) {
		f->fast_held = waiting;
		f->fast->held(f->fast->arg, waiting);
	}
}

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct framer *f = arg;

	(void)fd;
	(void)what;
	CHECK_OBJ(f, FRAMER_MAGIC);
	if (f->ready != NULL)
		f->ready(f->ready_arg);
}

/* Tells the reader, from the loop, that something changed. */
static void
wake_reader(struct framer *f)
{
	if (f->ready != NULL)
		event_active(f->notify, EV_TIMEOUT, 0);
}

/* Makes the filter look at the socket's input again, from the loop. */
static void
kick(struct framer *f)
{
	if (evbuffer_get_length(bufferevent_get_input(f->under)) > 0)
		bufferevent_trigger(f->under, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* The current request is refused with status and msg; nothing more is read. */
static void
refuse(struct framer *f, int status, const char *msg)
{
	f->cur = FRAMER_REFUSED;
	f->status = status;
	f->msg = msg;
	f->state = F_DROP;
}

/*
 * A request evhttp never saw was answered, or an answer's bytes left: the
 * connection is not idle.  evhttp's timeouts are armed anew, at most four
 * times per idle time.  (evhttp keeps its read timeout running while it
 * writes an answer, so that without this an answer that takes longer than
 * the idle time to write would be cut, however steadily it is read.)
 */
static void
keep_alive(struct framer *f)
{
	struct timeval now;
	int64_t ms;

	if (event_base_gettimeofday_cached(f->base, &now) != 0)
		return;
	ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	if (ms >= f->rearmed && ms - f->rearmed < f->idle.tv_sec * 250)
		return;
	f->rearmed = ms;
	bufferevent_set_timeouts(f->filter, f->read_held ? NULL : &f->idle,
	    &f->idle);
}

/*
 * Reads the head at the start of src (head_parse()).  Returns 0 when more
 * is needed, 1 when a head went to evhttp: the request's own, minus its
 * framing headers, or for a refused request its request line alone; 2 when
 * f->fast answered the request.
 */
static int
take_head(struct framer *f, struct evbuffer *src, struct evbuffer *dst)
{
	size_t have = evbuffer_get_length(src), n;
	const char *p;
	struct head *h = &f->head;

	n = have < HEAD_MAX ? have : HEAD_MAX;
	/* Never while evhttp has a request: f->head is that request's. */
	if ((p = (const char *)evbuffer_pullup(src, (ev_ssize_t)n)) == NULL ||
	    !head_parse(p, n, h, NULL))
		return 0;
	/* Refused, however good (framer_refuse_all()). */
	if (f->refuse_all != 0 && h->status == 0) {
		h->status = f->refuse_all;
		h->msg = f->refuse_msg;
	}
	/* Answered without evhttp: nothing of it goes further. */
	if (f->fast != NULL && h->status == 0 && !h->chunked &&
	    h->length == 0 && f->fast->answer(f->fast->arg, f, h, p)) {
		evbuffer_drain(src, h->len);
		keep_alive(f);
		return 2;
	}
	head_emit(p, h, dst);
	/* A new request begins: the state of the last one goes. */
	f->busy = 1;
	f->seen = 0;
	f->dropped = 0;
	f->trailers = 0;
	f->failed = 0;
	f->discard = 0;
	f->ended = 0;
	f->status = 0;
	f->msg = NULL;
	evbuffer_drain(f->body, evbuffer_get_length(f->body));
	evbuffer_drain(src, h->len);
	if (h->status != 0)
		refuse(f, h->status, h->msg);
	else if (!h->chunked && h->length > f->max_body)
		refuse(f, 413, TOO_LARGE);
	else if (h->chunked || h->length > 0) {
		f->cur = FRAMER_STREAM;
		f->state = h->chunked ? F_CHUNK_SIZE : F_LENGTH;
		f->left = h->length;
		/* evhttp is idle; answers of the framer's own may wait. */
		if (h->expect && !h->http10) {
			struct iovec iov = {
				(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25
			};

			framer_send(f, &iov, 1);
		}
	} else {
		f->cur = FRAMER_NONE;
		f->state = F_HEAD;
		f->ended = 1;
	}
	return 1;
}

/* Moves up to f->left body bytes from src; 1 when any moved. */
static int
take_data(struct framer *f, struct evbuffer *src)
{
	size_t n = evbuffer_get_length(src), room;

	if (n > f->left)
		n = (size_t)f->left;
	if (!f->discard) {
		room = evbuffer_get_length(f->body) < BODY_HIGH ?
		    BODY_HIGH - evbuffer_get_length(f->body) : 0;
		if (n > room)
			n = room;
	}
	if (n == 0)
		return 0;
	if (f->discard)
		evbuffer_drain(src, n);
	else
		evbuffer_remove_buffer(src, f->body, n);
	f->left -= n;
	f->seen += n;
	wake_reader(f);
	return 1;
}

/* A body that cannot be read on: the request is refused, the rest dropped. */
static void
fail_body(struct framer *f, int status, const char *msg)
{
	f->failed = 1;
	refuse(f, status, msg);
	wake_reader(f);
	/* Answered already (the rest was being skipped): end it now. */
	if (!f->busy) {
		f->busy = 1;
		event_active(f->closer, EV_TIMEOUT, 0);
	}
}

/* One step on the body; 1 when it consumed input, 0 when it must wait. */
static int
body_step(struct framer *f, struct evbuffer *src)
{
	char *line;
	size_t len;
	uint64_t size = 0;
	size_t i;

	switch (f->state) {
	case F_LENGTH:
	case F_CHUNK_DATA:
		if (!take_data(f, src))
			return 0;
		if (f->left == 0) {
			if (f->state == F_LENGTH) {
				f->ended = 1;
				f->state = F_HEAD;
			} else
				f->state = F_CHUNK_END;
		}
		return 1;
	case F_CHUNK_SIZE:
	case F_CHUNK_END:
	case F_TRAILERS:
		if ((line = evbuffer_readln(src, &len, EVBUFFER_EOL_CRLF)) == NULL) {
			if (evbuffer_get_length(src) > LINE_MAX_LEN)
				fail_body(f, 400, BAD_BODY);
			return f->failed;
		}
		if (f->state == F_CHUNK_END) {
			f->state = F_CHUNK_SIZE;
			if (len != 0)
				fail_body(f, 400, BAD_BODY);
		} else if (f->state == F_TRAILERS) {
			f->trailers += len;
			if (len == 0) {
				f->ended = 1;
				f->state = F_HEAD;
				wake_reader(f);
			} else if (f->trailers > TRAILERS_MAX)
				fail_body(f, 400, BAD_BODY);
		} else {
			for (i = 0; i < len && i < 16; i++) {
				char c = line[i];
				int d = c >= '0' && c <= '9' ? c - '0' :
				    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

				if (d < 0)
					break;
				size = size * 16 + (uint64_t)d;
			}
			while (i < len && (line[i] == ' ' || line[i] == '\t'))
				i++;	/* BWS before an extension */
			if (i == 0 || line[0] == ' ' || line[0] == '\t' ||
			    (i < len && line[i] != ';') ||
			    (i == len && len > 0 && (line[len - 1] == ' ' ||
			    line[len - 1] == '\t')))
				fail_body(f, 400, BAD_BODY);
			else if (size > f->max_body - f->seen ||
			    f->seen + size > f->max_body)
				fail_body(f, 413, TOO_LARGE);
			else if (size == 0)
				f->state = F_TRAILERS;
			else {
				f->left = size;
				f->state = F_CHUNK_DATA;
			}
		}
		free(line);
		return 1;
	default:
		return 0;
	}
}

/* bufferevent_filter: bytes from the socket (src) towards evhttp (dst). */
static enum bufferevent_filter_result
filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct framer *f = arg;
	size_t n;
	int progressed = 0, rc;

	(void)limit;
	(void)mode;
	CHECK_OBJ(f, FRAMER_MAGIC);
	f->partial = 0;
	while (evbuffer_get_length(src) > 0) {
		switch (f->state) {
		case F_DROP:
			/*
			 * What follows a refused request is read and dropped,
			 * so that the client is not reset before it reads the
			 * answer, but only so much: then the socket is left
			 * unread until the connection ends.
			 */
			n = evbuffer_get_length(src);
			if (n > DROP_MAX - f->dropped)
				n = (size_t)(DROP_MAX - f->dropped);
			evbuffer_drain(src, n);
			f->dropped += n;
			if (f->dropped >= DROP_MAX)
				bufferevent_disable(f->under, EV_READ);
			return progressed ? BEV_OK : BEV_NEED_MORE;
		case F_HEAD:
			/* Fast answers the client does not read: wait. */
			if (f->busy || evbuffer_get_length(f->fast_out) >
			    FAST_HIGH)
				return progressed ? BEV_OK : BEV_NEED_MORE;
			if ((rc = take_head(f, src, dst)) == 0) {
				f->partial = 1;	/* no whole head: wait */
				if (f->held_event != 0)
					arm_write(f);	/* it will not come */
				return progressed ? BEV_OK : BEV_NEED_MORE;
			}
			progressed = 1;
			break;
		default:
			if (!body_step(f, src))
				return progressed ? BEV_OK : BEV_NEED_MORE;
			progressed = 1;
			break;
		}
	}
	/* The client's input ended before these requests: now it may end. */
	if (f->held_event != 0 && !f->busy)
		arm_write(f);
	return progressed ? BEV_OK : BEV_NEED_MORE;
}

static void	writable_cb(evutil_socket_t, short, void *);
static void	closer_cb(evutil_socket_t, short, void *);

/* Waits for the socket to take more output. */
static void
arm_write(struct framer *f)
{
	evutil_socket_t fd;
	int one = 1;

	if (f->write_error)
		return;
	if (f->writable == NULL) {
		if ((fd = bufferevent_getfd(f->filter)) < 0 ||
		    (f->writable = event_new(f->base, fd, EV_WRITE, writable_cb,
		    f)) == NULL)
			return;
		/*
		 * An answer often leaves in several writes (head, then a body
		 * as it streams or from a file): none may wait for an ACK.
		 */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	event_add(f->writable, NULL);
}

/*
 * bufferevent_filter: evhttp's output (src) to the socket.  Called by the
 * filter when output is added, where it only arms the write event, and by
 * writable_cb, where it writes.  Never uses dst.
 */
static enum bufferevent_filter_result
filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct framer *f = arg;
	int n;

	(void)dst;
	(void)limit;
	(void)mode;
	CHECK_OBJ(f, FRAMER_MAGIC);
	if (!f->writing || evbuffer_get_length(src) == 0) {
		if (evbuffer_get_length(src) > 0)
			arm_write(f);
		return BEV_NEED_MORE;
	}
	n = evbuffer_write_atmost(src, bufferevent_getfd(f->filter), WRITE_MAX);
	if (n > 0)
		return BEV_OK;
	if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		arm_write(f);
		return BEV_NEED_MORE;
	}
	f->write_error = errno;
	return BEV_ERROR;
}

/* The output buffer grew: writes go out from the loop. */
static void
out_added_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct framer *f = arg;

	(void)buf;
	CHECK_OBJ(f, FRAMER_MAGIC);
	if (info->n_added > 0)
		arm_write(f);
}

/* The filter's own socket callbacks, called through ours. */
static void
under_read_cb(struct bufferevent *under, void *arg)
{
	struct framer *f = arg;

	CHECK_OBJ(f, FRAMER_MAGIC);
	f->under_read(under, f->under_arg);
}

static void
under_write_cb(struct bufferevent *under, void *arg)
{
	struct framer *f = arg;

	CHECK_OBJ(f, FRAMER_MAGIC);
	f->under_write(under, f->under_arg);
}

/*
 * An event on the socket.  The end of the client's input is passed on only
 * once the output queued before it is written: evhttp would otherwise drop
 * the answer of a client that shut its sending side after its request.
 */
static void
under_event_cb(struct bufferevent *under, short what, void *arg)
{
	struct framer *f = arg;

	CHECK_OBJ(f, FRAMER_MAGIC);
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    !f->write_error &&
	    (evbuffer_get_length(bufferevent_get_output(f->filter)) > 0 ||
	    evbuffer_get_length(f->fast_out) > 0 || requests_left(f))) {
		f->held_event = what;
		return;
	}
	f->under_event(under, what, f->under_arg);
}

/*
 * Whether whole requests the framer may still answer itself wait in the
 * socket's input: the end of the input must wait for their answers.
 */
static int
requests_left(struct framer *f)
{
	return !f->busy && f->state == F_HEAD && !f->partial &&
	    evbuffer_get_length(bufferevent_get_input(f->under)) > 0;
}

int
framer_evhttp_holds(struct bufferevent *bev)
{
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;

	bufferevent_getcb(bev, &rd, &wr, &ev, NULL);
	return rd != NULL || wr != NULL || ev != NULL;
}

/* The socket can take output: write what evhttp queued. */
static void
writable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct framer *f = arg;
	struct bufferevent *bev = f->filter;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *cbarg;
	size_t before;
	int n;

	(void)what;
	CHECK_OBJ(f, FRAMER_MAGIC);
	bufferevent_getcb(bev, &rd, &wr, &ev, &cbarg);
	/* The fast path's answers came first: they go first. */
	if (evbuffer_get_length(f->fast_out) > 0 && !f->write_error) {
		if ((n = evbuffer_write_atmost(f->fast_out, fd, WRITE_MAX)) > 0 &&
		    framer_evhttp_holds(bev))
			keep_alive(f);
		if (n < 0 &&
		    errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			f->write_error = errno;
			evbuffer_drain(f->fast_out,
			    evbuffer_get_length(f->fast_out));
			fast_waiting(f);
			if (ev != NULL)
				ev(bev, BEV_EVENT_ERROR | BEV_EVENT_WRITING, cbarg);
			return;
		}
		if (evbuffer_get_length(f->fast_out) > 0) {
			arm_write(f);
			return;
		}
		fast_waiting(f);
		kick(f);	/* requests may have waited for room */
	}
	if (!framer_evhttp_holds(bev)) {
		/* Released by evhttp: nobody waits for this output. */
		evbuffer_drain(bufferevent_get_output(bev),
		    evbuffer_get_length(bufferevent_get_output(bev)));
		return;
	}
	bufferevent_incref(bev);
	f->writing = 1;
	before = evbuffer_get_length(bufferevent_get_output(bev));
	/* Runs filter_out, then evhttp's write callback once all is out. */
	bufferevent_flush(bev, EV_WRITE, BEV_FLUSH);
	f->writing = 0;
	/* Bytes left while evhttp still has the connection: not idle. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) < before &&
	    framer_evhttp_holds(bev))
		keep_alive(f);
	if (f->write_error) {
		errno = f->write_error;
		if (ev != NULL)
			ev(bev, BEV_EVENT_ERROR | BEV_EVENT_WRITING, cbarg);
	} else if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		arm_write(f);
	else if (f->held_event != 0 && !requests_left(f)) {
		short held = f->held_event;

		f->held_event = 0;
		f->under_event(f->under, held, f->under_arg);
	}
	bufferevent_decref(bev);
}

static void
framer_free(void *arg)
{
	struct framer *f = arg;

	CHECK_OBJ(f, FRAMER_MAGIC);
	if (f->notify != NULL)
		event_free(f->notify);
	if (f->writable != NULL)
		event_free(f->writable);
	if (f->closer != NULL)
		event_free(f->closer);
	if (f->body != NULL)
		evbuffer_free(f->body);
	if (f->fast_out != NULL) {
		evbuffer_drain(f->fast_out, evbuffer_get_length(f->fast_out));
		fast_waiting(f);	/* dropped with the connection */
		evbuffer_free(f->fast_out);
	}
	memset(f, 0, sizeof(*f));
	free(f);
}

struct bufferevent *
framer_bev_new(struct event_base *base, uint64_t max_body, int idle_s,
    const struct framer_fast *fast)
{
	struct bufferevent *under, *bev;
	struct framer *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->magic = FRAMER_MAGIC;
	f->base = base;
	f->max_body = max_body;
	f->idle.tv_sec = idle_s;
	f->state = F_HEAD;
	f->cur = FRAMER_NONE;
	f->fast = fast;
	if ((f->body = evbuffer_new()) == NULL ||
	    (f->fast_out = evbuffer_new()) == NULL ||
	    (f->notify = event_new(base, -1, 0, notify_cb, f)) == NULL ||
	    (f->closer = event_new(base, -1, 0, closer_cb, f)) == NULL ||
	    (under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		framer_free(f);
		return NULL;
	}
	if ((bev = bufferevent_filter_new(under, filter_in, filter_out,
	    BEV_OPT_CLOSE_ON_FREE, framer_free, f)) == NULL) {
		bufferevent_free(under);
		framer_free(f);
		return NULL;
	}
	f->filter = bev;
	if (evbuffer_add_cb(bufferevent_get_output(bev), out_added_cb, f) == NULL) {
		bufferevent_free(bev);	/* frees f too */
		return NULL;
	}
	bufferevent_setwatermark(under, EV_READ, 0, UNDER_HIGH);
	/* evhttp wakes for a head only, never for body bytes moving. */
	bufferevent_setwatermark(bev, EV_READ, 1, EVHTTP_HELD_MAX);
	f->under = under;
	bufferevent_getcb(under, &f->under_read, &f->under_write,
	    &f->under_event, &f->under_arg);
	bufferevent_setcb(under, under_read_cb, under_write_cb, under_event_cb, f);
	return bev;
}

struct framer *
framer_of(struct bufferevent *bev)
{
	struct bufferevent *under;
	bufferevent_data_cb rd;
	void *arg = NULL;

	if (bev == NULL || (under = bufferevent_get_underlying(bev)) == NULL)
		return NULL;
	/* Our callbacks on the socket carry the framer, until it is freed. */
	bufferevent_getcb(under, &rd, NULL, NULL, &arg);
	return rd == under_read_cb ? arg : NULL;
}

enum framer_body
framer_current(const struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	return f->cur;
}

int
framer_refusal(const struct framer *f, const char **msg)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	if (f->cur != FRAMER_REFUSED)
		return 0;
	*msg = f->msg;
	return f->status;
}

const char *
framer_standin_method(const struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	return f->head.standin[0] != '\0' ? f->head.standin : NULL;
}

int
framer_http10(const struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	return f->head.http10;
}

int64_t
framer_body_length(const struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	return f->head.chunked ? -1 : (int64_t)f->head.length;
}

void
framer_attach(struct framer *f, void (*ready)(void *), void *arg)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	f->ready = ready;
	f->ready_arg = arg;
	/* evhttp stopped reading when it dispatched the request. */
	bufferevent_enable(f->filter, EV_READ);
	kick(f);
}

void
framer_detach(struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	f->ready = NULL;
	f->ready_arg = NULL;
	event_del(f->notify);
	f->discard = 1;
	evbuffer_drain(f->body, evbuffer_get_length(f->body));
	kick(f);
}

enum framer_read
framer_body_read(struct framer *f, void *buf, size_t len, size_t *n)
{
	int got;

	CHECK_OBJ(f, FRAMER_MAGIC);
	*n = 0;
	if (f->failed)
		return FRAMER_FAILED;
	if (evbuffer_get_length(f->body) > 0) {
		if ((got = evbuffer_remove(f->body, buf, len)) < 0)
			return FRAMER_FAILED;
		*n = (size_t)got;
		if (evbuffer_get_length(f->body) < BODY_HIGH / 2)
			kick(f);
		return FRAMER_DATA;
	}
	if (f->ended)
		return FRAMER_END;
	kick(f);
	return FRAMER_WAIT;
}

/*
 * Ends a connection whose input can no longer be read (a refused request,
 * CONNECT): evhttp is told the input ended, and frees it.
 */
static void
closer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct framer *f = arg;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;

	(void)fd;
	(void)what;
	CHECK_OBJ(f, FRAMER_MAGIC);
	bufferevent_getcb(f->filter, &rd, &wr, &ev, NULL);
	if (ev != NULL)
		f->under_event(f->under, BEV_EVENT_EOF | BEV_EVENT_READING,
		    f->under_arg);
}

void
framer_refuse_all(struct framer *f, int status, const char *msg)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	f->refuse_all = status;
	f->refuse_msg = msg;
}

void
framer_hold_read_timeout(struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	/* Upstream may think for long; hang-ups are watched otherwise. */
	f->read_held = 1;
	bufferevent_set_timeouts(f->filter, NULL, &f->idle);
}

void
framer_request_done(struct framer *f)
{
	CHECK_OBJ(f, FRAMER_MAGIC);
	f->read_held = 0;
	bufferevent_set_timeouts(f->filter, &f->idle, &f->idle);
	if (f->state == F_DROP) {
		f->busy = 1;	/* nothing more goes to evhttp */
		event_active(f->closer, EV_TIMEOUT, 0);
		return;
	}
	f->busy = 0;
	if (!f->ended) {
		f->discard = 1;
		evbuffer_drain(f->body, evbuffer_get_length(f->body));
	}
	kick(f);
}

void
framer_send(struct framer *f, const struct iovec *iov, int n)
{
	evutil_socket_t fd = bufferevent_getfd(f->filter);
	ssize_t w = 0;
	size_t off;
	int i;

	CHECK_OBJ(f, FRAMER_MAGIC);
	if (f->write_error)
		return;
	/* Nothing queued: straight to the socket, in one call. */
	if (evbuffer_get_length(f->fast_out) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(f->filter)) == 0) {
		if ((w = writev(fd, iov, n)) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				/* Reading ends it, unless its end came already. */
				f->write_error = errno;
				if (f->held_event != 0)
					event_active(f->closer, EV_TIMEOUT, 0);
				return;
			}
			w = 0;
		}
	}
	for (i = 0, off = (size_t)w; i < n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		evbuffer_add(f->fast_out, (const char *)iov[i].iov_base + off,
		    iov[i].iov_len - off);
		off = 0;
	}
	if (evbuffer_get_length(f->fast_out) > 0) {
		fast_waiting(f);
		arm_write(f);
	}
}

const char *
framer_peer(struct framer *f)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	CHECK_OBJ(f, FRAMER_MAGIC);
	if (f->peer[0] != '\0')
		return f->peer;
	snprintf(f->peer, sizeof(f->peer), "-");
	if (getpeername(bufferevent_getfd(f->filter), (struct sockaddr *)&ss,
	    &len) != 0)
		return f->peer;
	if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host)))
		snprintf(f->peer, sizeof(f->peer), "%s:%u", host,
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	else if (ss.ss_family == AF_INET && inet_ntop(AF_INET,
	    &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host)))
		snprintf(f->peer, sizeof(f->peer), "%s:%u", host,
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return f->peer;
}
