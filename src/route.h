/*
 * The proxy's routes: which one a request path is.  The set is fixed, so
 * that the metrics can label by it; the server dispatches by the same
 * function, so routing and labels cannot differ.
 */
#ifndef ROUTE_H
#define ROUTE_H

#define ROUTE_JOBS_PREFIX	"/v1/luma/jobs"	/* then "/{jobid}" */
#define ROUTE_MEDIA_PREFIX	"/media/"	/* then "{sha256}" */

enum route {
	ROUTE_JOBS,
	ROUTE_PASSTHROUGH,
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
	ROUTE_MEDIA,
	ROUTE_OTHER,
	ROUTE__MAX
};

/* The route of a request path (without its query); NULL is ROUTE_OTHER. */
enum route	route_of(const char *path);

#endif
