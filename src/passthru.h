/*
 * Every other route under /v1/: the request is forwarded to upstream as it
 * came (method, path and query byte for byte, body, end-to-end headers)
 * and the answer is streamed back as it comes (status, end-to-end headers,
 * body).  Nothing is cached; an answer to a job submission
 * (POST /v1/luma/videos or /images) that carries a jobid is recorded with
 * the submitter's token.
 */
#ifndef PASSTHRU_H
#define PASSTHRU_H

#include <stdint.h>

struct evhttp_request;
struct passthru_set;
struct proxy;

/* The set of requests being forwarded through px; NULL on failure. */
struct passthru_set *passthru_new(struct proxy *);

/* Frees the set, after its requests went with their connections. */
void	passthru_free(struct passthru_set *);

/*
 * Forwards req (whose path starts with "/v1/"); started is util_mono_ms()
 * at arrival.  Answered now or later, exactly once.
 */
void	passthru_handle(struct passthru_set *, struct evhttp_request *,
	    int64_t started);

/*
 * Shutting down: answers 503 to every pass-through request whose answer
 * has not started, and stops their upstream calls.  Requests already
 * streaming are cut when their connections go.
 */
void	passthru_shutdown(struct passthru_set *);

/* Whether the header name is hop-by-hop (never forwarded either way). */
int	passthru_hop_by_hop(const char *name, size_t len);

/*
 * Whether name is among the tokens of a Connection value (NULL: none).
 * Blanks separate tokens as commas do, so that a malformed list
 * ("X-A X-B") still names every header in it: dropping more is the safe
 * side.
 */
int	passthru_listed(const char *list, const char *name, size_t len);

#endif
