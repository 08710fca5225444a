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

/* Stops a request; its done callback will not run. */
void	upstream_cancel(struct upstream_request *);

#endif
