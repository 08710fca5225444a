/*
 * The edge every route answers through: replies with the proxy's headers,
 * error bodies, the access log line and its metrics, the watch for a
 * client that hangs up while its answer is prepared, and the accounting
 * that lets a draining server stop once nothing is in flight.  It knows no
 * route; the routes (jobs, passthru, media_serve, server) call down to it.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stdint.h>

struct client_watch;
struct evbuffer;
struct evhttp_request;
struct framer;
struct member;
struct proxy;

/* Per-request facts for the reply headers and the access log. */
struct reply_info {
	int64_t		 started;	/* util_mono_ms() when the request came */
	const char	*cache;		/* "HIT", "MISS", "STALE" or NULL */
	int		 stored;	/* a MISS: 1 kept, -1 its write */
					/* failed, 0 nothing to keep; a */
					/* HIT: -1 from memory, not stored */
	int		 upstream_status;
	const char	*token;		/* fingerprint, @member or NULL */
	struct member	*member;	/* team gateway: counted for it */
};

/*
 * Sends status and body (may be NULL; drained) as the answer to req, with
 * Content-Type JSON, X-Cache and Cache-Status from ri, and logs the line.
 * HEAD requests get the headers only, with the Content-Length of the body.
 */
void	reply_send(struct proxy *, struct evhttp_request *, int status,
	    struct evbuffer *body, const struct reply_info *);

/* Sends {"error": msg} with status. */
void	reply_error(struct proxy *, struct evhttp_request *, int status,
	    const char *msg, const struct reply_info *);

/* Sends 405 {"error":"Method not allowed"} with an Allow header. */
void	reply_not_allowed(struct proxy *, struct evhttp_request *,
	    const char *allow, const struct reply_info *);

/* Appends {"error": msg} (JSON-encoded) to buf; -1 when out of memory. */
int	reply_error_body(struct evbuffer *buf, const char *msg);

/*
 * Writes the access log line of req (answered with status, or 499: gone)
 * and counts it in the metrics.
 */
void	reply_log(struct proxy *, struct evhttp_request *, int status,
	    const struct reply_info *);

/*
 * As reply_log(), for a GET (or HEAD, head) of target[0..target_len) that
 * the framer's fast path answered on f without an evhttp request.
 */
void	reply_log_framed(struct proxy *, struct framer *f, int head,
	    const char *target, size_t target_len, int status,
	    const struct reply_info *);

/*
 * A reply not sent through reply_send() is about to be finished: when it
 * is written whole the connection takes its next request, and a draining
 * server waits for it before it stops.
 */
void	reply_track(struct proxy *, struct evhttp_request *);

/* The request's method as a string ("GET"), or "-". */
const char	*reply_method(struct evhttp_request *);

/* The framer of req's connection, or NULL. */
struct framer	*reply_framer(struct evhttp_request *);

/*
 * Watches the client of req, a request answered later: evhttp does not read
 * while a request is being answered, so it would not notice a hang-up.
 * gone(arg) runs once, from the loop, when the client hangs up (EV_CLOSED)
 * or evhttp frees the connection first; after it returns the watch frees
 * the request (and the dead connection) itself, so gone must not answer it.
 * NULL when req has no connection, or out of memory: not watched.
 */
struct client_watch *reply_watch_client(struct proxy *,
	    struct evhttp_request *, void (*gone)(void *), void *arg);

/* Stops watching, before req is answered or freed; NULL is a no-op. */
void	reply_unwatch_client(struct client_watch *);

/* A request will be answered later (it waits for upstream). */
void	reply_request_started(struct proxy *);

/* A request counted by reply_request_started() has been answered. */
void	reply_request_done(struct proxy *);

/*
 * The server stops: from now on answers close their connection, and the
 * loop ends once every request counted as started is answered and every
 * answer is written.
 */
void	reply_drain(struct proxy *);

/* Whether the server is draining (answers then close their connection). */
int	reply_draining(const struct proxy *);

#endif
