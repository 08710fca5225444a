/*
 * What a client asks for instead of polling (SPEC 11): a wait from
 * "Prefer: wait=N" (RFC 7240) or "?wait=N", and an event stream from its
 * Accept header.  Pure parsing; jobs.c and jobs_push.c act on it.
 */
#ifndef PREFER_H
#define PREFER_H

#include <stdint.h>

/*
 * The seconds of the first "wait" preference in a Prefer header value
 * (NULL: none), at most max: 0 when there is none, it is not a number of
 * seconds, or it is 0.  A number too large for any type is max.
 */
int64_t	prefer_wait(const char *prefer, int64_t max);

/* The same for the first wait=N parameter of a query string (NULL: none). */
int64_t	prefer_query_wait(const char *query, int64_t max);

/* Whether an Accept header value takes text/event-stream (q above 0). */
int	prefer_event_stream(const char *accept);

#endif
