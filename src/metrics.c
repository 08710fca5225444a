/*
 * Metrics are plain arrays indexed by route, cache result and status code,
 * so that counting is an increment and the label sets stay bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "upstream.h"
#include "util.h"

#define METRICS_MAGIC	0x4d455452u
#define STATUS_MAX	600		/* codes 100..599; others count as 0 */
#define UP_SLOTS	(STATUS_MAX + 2)	/* + error + timeout */
#define NCACHE		4
#define NBUCKETS	13

static const char *const route_names[ROUTE__MAX] = {
	[ROUTE_JOBS] = "jobs",
	[ROUTE_PASSTHROUGH] = "passthrough",
	[ROUTE_HEALTHZ] = "healthz",
	[ROUTE_METRICS] = "metrics",
	[ROUTE_MEDIA] = "media",
	[ROUTE_OTHER] = "other",
};

static const char *const cache_names[NCACHE] = { "hit", "miss", "stale", "none" };

/* Upper bounds in milliseconds (the exposition says seconds). */
static const int64_t bucket_ms[NBUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};

const char *const metrics_job_statuses[5] = {
	"pending", "processing", "completed", "failed", "other"
};

struct metrics {
	unsigned	magic;
	uint64_t	requests[ROUTE__MAX][NCACHE][STATUS_MAX];
	uint64_t	upstream[ROUTE__MAX][UP_SLOTS];
	uint64_t	buckets[ROUTE__MAX][NBUCKETS];	/* not cumulative */
	uint64_t	latency_count[ROUTE__MAX];
	int64_t		latency_sum_ms[ROUTE__MAX];
	uint64_t	submitted;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->magic = METRICS_MAGIC;
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	CHECK_OBJ(m, METRICS_MAGIC);
	memset(m, 0, sizeof(*m));
	free(m);
}

static int
status_slot(int status)
{
	return status >= 100 && status < STATUS_MAX ? status : 0;
}

void
metrics_request(struct metrics *m, enum route route, int status,
    const char *cache)
{
	int c = 3;

	CHECK_OBJ(m, METRICS_MAGIC);
	if (cache != NULL)
		c = strcmp(cache, "HIT") == 0 ? 0 : strcmp(cache, "MISS") == 0 ?
		    1 : strcmp(cache, "STALE") == 0 ? 2 : 3;
	m->requests[route][c][status_slot(status)]++;
}

void
metrics_upstream(struct metrics *m, enum route route, int status,
    int64_t elapsed_ms)
{
	int slot, b;

	CHECK_OBJ(m, METRICS_MAGIC);
	slot = status == METRICS_UP_ERROR ? STATUS_MAX :
	    status == METRICS_UP_TIMEOUT ? STATUS_MAX + 1 : status_slot(status);
	m->upstream[route][slot]++;
	if (elapsed_ms < 0)
		elapsed_ms = 0;
	for (b = 0; b < NBUCKETS && elapsed_ms > bucket_ms[b]; b++)
		;
	if (b < NBUCKETS)
		m->buckets[route][b]++;
	m->latency_count[route]++;
	m->latency_sum_ms[route] += elapsed_ms;
}

void
metrics_upstream_result(struct metrics *m, enum route route,
    const struct upstream_result *res)
{
	metrics_upstream(m, route, res->error == UPSTREAM_OK ? (int)res->status :
	    res->error == UPSTREAM_TIMEOUT ? METRICS_UP_TIMEOUT :
	    METRICS_UP_ERROR, res->elapsed_ms);
}

void
metrics_submitted(struct metrics *m)
{
	CHECK_OBJ(m, METRICS_MAGIC);
	m->submitted++;
}

static void
family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A family of one sample without labels. */
static void
single(struct evbuffer *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A gauge: one sample without labels. */
static int
gauge(struct evbuffer *b, const char *name, const char *help, int64_t v)
{
	family(b, name, "gauge", help);
	return evbuffer_add_printf(b, "%s %lld\n", name, (long long)v);
}

static void
status_label(char *out, size_t len, int slot)
{
	if (slot == STATUS_MAX)
		snprintf(out, len, "error");
	else if (slot == STATUS_MAX + 1)
		snprintf(out, len, "timeout");
	else if (slot == 0)
		snprintf(out, len, "other");
	else
		snprintf(out, len, "%d", slot);
}

int
metrics_write(const struct metrics *m, const struct metrics_gauges *g,
    struct evbuffer *b)
{
	char st[16];
	uint64_t cum;

	CHECK_OBJ(m, METRICS_MAGIC);
	family(b, "lumaproxy_requests_total", "counter",
	    "Requests answered, by route, HTTP status and cache result.");
	for (int r = 0; r < ROUTE__MAX; r++)
		for (int c = 0; c < NCACHE; c++)
			for (int s = 0; s < STATUS_MAX; s++) {
				if (m->requests[r][c][s] == 0)
					continue;
				status_label(st, sizeof(st), s);
				evbuffer_add_printf(b, "lumaproxy_requests_total"
				    "{route=\"%s\",status=\"%s\",cache=\"%s\"} %llu\n",
				    route_names[r], st, cache_names[c],
				    (unsigned long long)m->requests[r][c][s]);
			}

	family(b, "lumaproxy_upstream_requests_total", "counter",
	    "Upstream calls, by route and upstream status (or error, timeout).");
	for (int r = 0; r < ROUTE__MAX; r++)
		for (int s = 0; s < UP_SLOTS; s++) {
			if (m->upstream[r][s] == 0)
				continue;
			status_label(st, sizeof(st), s);
			evbuffer_add_printf(b, "lumaproxy_upstream_requests_total"
			    "{route=\"%s\",status=\"%s\"} %llu\n", route_names[r],
			    st, (unsigned long long)m->upstream[r][s]);
		}

	family(b, "lumaproxy_upstream_latency_seconds", "histogram",
	    "Time from starting an upstream call to its end.");
	for (int r = ROUTE_JOBS; r <= ROUTE_PASSTHROUGH; r++) {
		cum = 0;
		for (int i = 0; i < NBUCKETS; i++) {
			cum += m->buckets[r][i];
			evbuffer_add_printf(b, "lumaproxy_upstream_latency_seconds"
			    "_bucket{route=\"%s\",le=\"%lld.%03lld\"} %llu\n",
			    route_names[r], (long long)(bucket_ms[i] / 1000),
			    (long long)(bucket_ms[i] % 1000),
			    (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "lumaproxy_upstream_latency_seconds_bucket"
		    "{route=\"%s\",le=\"+Inf\"} %llu\n", route_names[r],
		    (unsigned long long)m->latency_count[r]);
		evbuffer_add_printf(b, "lumaproxy_upstream_latency_seconds_sum"
		    "{route=\"%s\"} %lld.%03lld\n", route_names[r],
		    (long long)(m->latency_sum_ms[r] / 1000),
		    (long long)(m->latency_sum_ms[r] % 1000));
		evbuffer_add_printf(b, "lumaproxy_upstream_latency_seconds_count"
		    "{route=\"%s\"} %llu\n", route_names[r],
		    (unsigned long long)m->latency_count[r]);
	}

	single(b, "lumaproxy_coalesced_waits_total", "counter",
	    "Job polls that waited for an upstream call already in flight.",
	    g->coalesced);
	single(b, "lumaproxy_rate_limited_total", "counter",
	    "Job polls answered 429 (upstream's back-off or polling too fast).",
	    g->rate_limited);
	single(b, "lumaproxy_submitted_jobs_total", "counter",
	    "Jobs submitted through the proxy whose answer carried a jobid.",
	    m->submitted);
	family(b, "lumaproxy_cached_jobs", "gauge",
	    "Jobs in the cache, by status.");
	if (g->cached_ok)
		for (int i = 0; i < 5; i++)
			evbuffer_add_printf(b, "lumaproxy_cached_jobs"
			    "{status=\"%s\"} %lld\n", metrics_job_statuses[i],
			    (long long)g->cached[i]);
	gauge(b, "lumaproxy_waiting_requests",
	    "Long polls and event streams waiting for a job to change.",
	    g->waiting);
	gauge(b, "lumaproxy_watched_jobs",
	    "Submitted jobs fetched until finished whether anyone asks or not.",
	    g->watched);
	single(b, "lumaproxy_memory_answers_total", "counter",
	    "Job answers given from memory (--memory-cache).",
	    g->memory_answers);
	gauge(b, "lumaproxy_memory_cache_entries",
	    "Job answers kept in memory.", g->memory_entries);
	gauge(b, "lumaproxy_memory_cache_bytes",
	    "Bytes those answers take, at most --memory-cache.",
	    g->memory_bytes);
	return gauge(b, "lumaproxy_open_connections",
	    "Client connections open now.", g->open_connections) < 0 ? -1 : 0;
}
