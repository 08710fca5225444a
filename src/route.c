/*
 * Path to route, by prefix: the jobs route and its bare prefix, the rest
 * of /v1/, the proxy's own endpoints.
 */
#include <string.h>

#include "route.h"

enum route
route_of(const char *path)
{
	size_t n = sizeof(ROUTE_JOBS_PREFIX) - 1;

	if (path == NULL)
		return ROUTE_OTHER;
	if (strncmp(path, ROUTE_JOBS_PREFIX, n) == 0 &&
	    (path[n] == '/' || path[n] == '\0'))
		return ROUTE_JOBS;
	if (strncmp(path, "/v1/", 4) == 0)
		return ROUTE_PASSTHROUGH;
	if (strcmp(path, "/healthz") == 0)
		return ROUTE_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return ROUTE_METRICS;
	if (strncmp(path, ROUTE_MEDIA_PREFIX, sizeof(ROUTE_MEDIA_PREFIX) - 1) == 0)
		return ROUTE_MEDIA;
	return ROUTE_OTHER;
}
