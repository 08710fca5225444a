/*
 * Request framing in front of evhttp.  evhttp 2.1 hands a request over only
 * once its whole body has been read into memory, and answers a body over
 * its limit with a page of its own.  So each client connection gets a
 * filtering bufferevent that reads the framing itself: it passes each
 * request's head to evhttp without Content-Length and Transfer-Encoding
 * (evhttp then sees a request without a body and dispatches it at once),
 * and keeps the body bytes aside, decoded, for whoever handles the request
 * to read as they arrive, with back-pressure on the client.
 *
 * It is the one authority on what a request is: every head, whatever its
 * size or shape, is read by its rules, never by evhttp's.  A head it does
 * not fully accept (over HEAD_MAX of head.h, a malformed request line, an
 * unknown method or HTTP version, folded lines, several or conflicting
 * lengths, a transfer coding other than chunked) is refused: evhttp gets
 * its request line alone, to be answered with framer_refusal()'s status,
 * and the connection ends after that answer.
 */
#ifndef FRAMER_H
#define FRAMER_H

#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct framer;
struct head;
struct iovec;

/* The framing of the request evhttp is handling now. */
enum framer_body {
	FRAMER_NONE,		/* no body */
	FRAMER_STREAM,		/* a body being read: framer_body_read() */
	FRAMER_REFUSED,		/* answer framer_refusal(); nothing more is read */
};

/* What framer_body_read() found. */
enum framer_read {
	FRAMER_DATA,		/* n bytes copied */
	FRAMER_WAIT,		/* nothing now; the ready callback tells when */
	FRAMER_END,		/* the body is complete and all read */
	FRAMER_FAILED,		/* too large or malformed: give up */
};

/*
 * Answers made without evhttp.  answer() is called with each accepted head
 * that has no body while evhttp has no request (p: the head's bytes, h:
 * what head_parse() read of them); it returns 1 when it answered the
 * request with framer_send(), 0 to hand the head to evhttp.  held(arg, 1)
 * (held may be NULL) runs when such answers begin to wait for the client
 * to read them, and held(arg, 0) when they are all written or dropped
 * with the connection, so that a draining server waits for them.
 */
struct framer_fast {
	int	(*answer)(void *arg, struct framer *, const struct head *h,
		    const char *p);
	void	(*held)(void *arg, int waiting);
	void	*arg;
};

/*
 * Creates a client connection's bufferevent (a filter over a socket
 * bufferevent with no fd yet, as evhttp's bevcb wants) and its framer.
 * The framer lives as long as the bufferevent (framer_of() finds it).
 * fast (NULL: none; borrowed, it must outlive the connection) is asked
 * first about each request.  NULL on failure.
 */
struct bufferevent *framer_bev_new(struct event_base *, uint64_t max_body,
	    int idle_s, const struct framer_fast *fast);

/*
 * The whole answer of a request framer_fast's answer() took: written now when the
 * socket takes it, the rest before anything evhttp writes later.  When the
 * connection has failed it is dropped.
 */
void	framer_send(struct framer *, const struct iovec *, int n);

/* The client's address ("127.0.0.1:5555", "-" when unknown), for logs. */
const char	*framer_peer(struct framer *);

/* The framer of a bufferevent made by framer_bev_new(), or NULL. */
struct framer	*framer_of(struct bufferevent *);

/*
 * Whether evhttp still has the connection of bev: in libevent 2.1 it
 * clears all three callbacks when it releases the bufferevent.
 */
int	framer_evhttp_holds(struct bufferevent *);

/* The framing of the current request. */
enum framer_body framer_current(const struct framer *);

/*
 * Why the current request is refused: 0 when it is not, else the status
 * to answer with (400, 405, 413, 431, 501, 503, 505) and, in *msg, the error
 * message.  A body may fail while it is read: ask again then.
 */
int	framer_refusal(const struct framer *, const char **msg);

/*
 * Every request of the connection is to be refused with status and msg
 * (static) as framer_refusal() says, even one that is well formed; the
 * first answer ends the connection.  A head refused for what it is keeps
 * its own status.
 */
void	framer_refuse_all(struct framer *, int status, const char *msg);

/*
 * The method the client sent (or "-") when its request line could not be
 * handed to evhttp and evhttp has a stand-in ("GET /") instead; NULL when
 * evhttp has the client's own line.  For the access log.
 */
const char	*framer_standin_method(const struct framer *);

/* Whether the current request is HTTP/1.0 (else 1.1). */
int	framer_http10(const struct framer *);

/* Declared length of the current body, or -1 when chunked. */
int64_t	framer_body_length(const struct framer *);

/*
 * Makes the current body flow: ready(arg) runs (from the loop) whenever
 * more of it can be read or it ended or failed.  Until framer_detach(),
 * evhttp's reading is kept enabled so that the body keeps coming while the
 * request is being handled.
 */
void	framer_attach(struct framer *, void (*ready)(void *), void *arg);

/* Stops calling ready; what is left of the body will be discarded. */
void	framer_detach(struct framer *);

/* Copies up to len bytes of the current body into buf. */
enum framer_read framer_body_read(struct framer *, void *buf, size_t len,
	    size_t *n);

/*
 * The current request has been answered (evhttp's on-complete): the next
 * request's head may be handed to evhttp, or, after a refused request, the
 * connection is ended.  Restores the idle timeout.
 */
void	framer_request_done(struct framer *);

/*
 * No read timeout until the current request is answered (upstream may take
 * long; the handler watches for hang-ups itself).  idle_s still bounds a
 * stalled write.
 */
void	framer_hold_read_timeout(struct framer *);

#endif
