/*
 * Upstream HTTP calls through libcurl's multi interface, driven by the
 * server's libevent loop (socket and timer callbacks), so that a slow
 * upstream never blocks anyone.  One struct upstream per process; it owns
 * the CURLM and with it the connection pool.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct curl_slist;
struct event_base;
struct upstream;
struct upstream_request;

struct upstream_options {
	long	timeout_ms;		/* whole request */
	size_t	max_body;		/* larger answers fail with UPSTREAM_TOO_LARGE */
};

enum upstream_error {
	UPSTREAM_OK,			/* an HTTP answer arrived whole */
	UPSTREAM_UNREACHABLE,		/* DNS, connect, TLS, reset, ... */
	UPSTREAM_TIMEOUT,
	UPSTREAM_TOO_LARGE,
};

/* What done_cb receives.  Pointers are borrowed until the callback returns. */
struct upstream_result {
	enum upstream_error	 error;
	long			 status;	/* HTTP status when UPSTREAM_OK */
	const char		*reason;	/* what went wrong, for people */
	const char		*content_type;	/* upstream's, or NULL */
	const unsigned char	*body;
	size_t			 len;
	int64_t			 retry_after;	/* seconds from Retry-After, or -1 */
	int64_t			 elapsed_ms;
};

typedef void upstream_done_fn(const struct upstream_result *, void *arg);

/* Creates the upstream client on base; NULL when curl cannot be set up. */
struct upstream	*upstream_new(struct event_base *, const struct upstream_options *);

/* Cancels every request still in flight (their callbacks never fire), frees. */
void	upstream_free(struct upstream *);

/*
 * Starts GET url with "Authorization: Bearer <token>" (copied; the copy is
 * wiped when done).  done runs exactly once, from the loop, unless
 * upstream_cancel() came first.  NULL when the request cannot be started.
 */
struct upstream_request *upstream_get(struct upstream *, const char *url,
	    const char *token, size_t token_len, upstream_done_fn *done,
	    void *arg);

/*
 * A streamed request (the pass-through): the request body is read as it
 * comes and the answer handed over as it comes, never held whole.
 *
 * body copies up to len bytes of the request body into buf and returns how
 * many, 0 at its end, UPSTREAM_BODY_WAIT when none is there yet (the
 * transfer pauses until upstream_resume()), or -1 to abort.  header runs
 * once per header line of the final answer, then head once with its
 * status, then data for each piece of the answer's body, then done exactly
 * once (res->body is NULL), unless upstream_cancel() came first.  header
 * and head return 0 to go on or -1 to abort (done then reports
 * UPSTREAM_UNREACHABLE); data returns 0 when it took the piece, 1 to pause
 * the transfer without taking it (it comes again after upstream_resume()),
 * -1 to abort.  A transfer making no progress for the timeout fails with
 * UPSTREAM_TIMEOUT; there is no limit on the answer.
 */
#define UPSTREAM_BODY_WAIT	(-2)

struct upstream_stream_cb {
	long	(*body)(char *buf, size_t len, void *arg);
	int	(*header)(const char *name, size_t nlen, const char *value,
		    size_t vlen, void *arg);
	int	(*head)(long status, void *arg);
	int	(*data)(const char *p, size_t len, void *arg);
	upstream_done_fn *done;
};

/*
 * Starts method url with the header lines in headers (taken, whatever the
 * outcome) and a request body of body_len bytes (0: none; -1: unknown,
 * sent chunked).  NULL when the request cannot be started.
 */
struct upstream_request *upstream_stream(struct upstream *, const char *method,
	    const char *url, struct curl_slist *headers, int64_t body_len,
	    const struct upstream_stream_cb *, void *arg);

/*
 * Whether upstream_stream() sends a request body (perhaps empty) for
 * method and body_len, as curl sends a POST's.
 */
int	upstream_sends_body(const char *method, int64_t body_len);

/*
 * As upstream_stream() for GET url with no header of ours (no token),
 * following up to 5 redirects within http and https: the media mirror.
 */
struct upstream_request *upstream_fetch(struct upstream *, const char *url,
	    const struct upstream_stream_cb *, void *arg);

/*
 * Adds "name: value" to a header list (value NULL: do not send the header
 * curl would add by itself); -1 when out of memory.
 */
int	upstream_header_add(struct curl_slist **, const char *name,
	    const char *value);

/* Frees a header list not handed to upstream_stream(), wiping it. */
void	upstream_headers_free(struct curl_slist *);

/* Continues a transfer that its body or data callback paused. */
void	upstream_resume(struct upstream_request *);

/* Stops a request; its done callback will not run. */
void	upstream_cancel(struct upstream_request *);

#endif
