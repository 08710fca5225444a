/*
 * The HTTP front end: evhttp on the listen address, connection limits,
 * routing, replies with the proxy's headers and the access log line, and
 * graceful shutdown on SIGINT/SIGTERM.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdint.h>

struct client_watch;
struct config;
struct evbuffer;
struct evhttp_request;
struct framer;
struct proxy;

/* Per-request facts for the reply headers and the access log. */
struct reply_info {
	int64_t		 started;	/* util_mono_ms() when the request came */
	const char	*cache;		/* "HIT", "MISS", "STALE" or NULL */
	int		 stored;	/* a MISS stored something */
	int		 upstream_status;
	const char	*token;		/* fingerprint or NULL */
};

/*
 * Runs the server until a signal asks it to stop.  Returns the exit status
 * (0 after a clean shutdown); start-up failures print one line and return 1.
 */
int	server_run(const struct config *);

/*
 * Sends status and body (may be NULL; drained) as the answer to req, with
 * Content-Type JSON, X-Cache and Cache-Status from ri, and logs the line.
 * HEAD requests get the headers only, with the Content-Length of the body.
 */
void	server_reply(struct proxy *, struct evhttp_request *, int status,
	    struct evbuffer *body, const struct reply_info *);

/*
 * Writes the access log line of req (answered with status, or 499: gone)
 * and counts it in the metrics.
 */
void	server_log(struct proxy *, struct evhttp_request *, int status,
	    const struct reply_info *);

/* Whether the server is shutting down (answers then close their connection). */
int	server_draining(const struct proxy *);

/*
 * Watches the client of req, a request answered later: evhttp does not read
 * while a request is being answered, so it would not notice a hang-up.
 * gone(arg) runs once, from the loop, when the client hangs up (EV_CLOSED)
 * or evhttp frees the connection first; after it returns the watch frees
 * the request (and the dead connection) itself, so gone must not answer it.
 * NULL when req has no connection, or out of memory: not watched.
 */
struct client_watch *server_watch_client(struct proxy *,
	    struct evhttp_request *, void (*gone)(void *), void *arg);

/* Stops watching, before req is answered or freed; NULL is a no-op. */
void	server_unwatch_client(struct client_watch *);

/* The request's method as a string ("GET"), or "-". */
const char	*server_method(struct evhttp_request *);

/* The framer of req's connection, or NULL. */
struct framer	*server_framer(struct evhttp_request *);

/*
 * A reply not sent through server_reply() is about to be finished: while
 * draining, the server waits for it to be written before it stops.
 */
void	server_track_reply(struct proxy *, struct evhttp_request *);

/* Sends {"error": msg} with status. */
void	server_reply_error(struct proxy *, struct evhttp_request *, int status,
	    const char *msg, const struct reply_info *);

/* Appends {"error": msg} (JSON-encoded) to buf; -1 when out of memory. */
int	server_error_body(struct evbuffer *buf, const char *msg);

/* A request will be answered later (it waits for upstream). */
void	server_request_started(struct proxy *);

/* A request counted by server_request_started() has been answered. */
void	server_request_done(struct proxy *);

#endif
