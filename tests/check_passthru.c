/*
 * Unit tests of the pass-through's header rules (passthru.c) and of the
 * metrics exposition (metrics.c): which headers are hop-by-hop, tokens of
 * a Connection header, and counters, labels and the histogram as
 * Prometheus reads them.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "metrics.h"
#include "passthru.h"

struct hop_case {
	const char	*name;
	int		 hop;
};

static const struct hop_case hop_cases[] = {
	{ "Connection", 1 }, { "connection", 1 }, { "Keep-Alive", 1 },
	{ "TE", 1 }, { "te", 1 }, { "Trailer", 1 }, { "Transfer-Encoding", 1 },
	{ "Upgrade", 1 }, { "Proxy-Authorization", 1 },
	{ "proxy-connection", 1 }, { "Proxy-", 1 },
	{ "Authorization", 0 }, { "Content-Type", 0 }, { "Trailers", 0 },
	{ "Host", 0 }, { "X-Proxy", 0 }, { "Proxy", 0 }, { "T", 0 }, { "", 0 },
};

START_TEST(test_hop_by_hop)
{
	const struct hop_case *c = &hop_cases[_i];

	ck_assert_msg(passthru_hop_by_hop(c->name, strlen(c->name)) == c->hop,
	    "%s", c->name);
}
END_TEST

START_TEST(test_listed)
{
	ck_assert(passthru_listed("X-Hop", "X-Hop", 5));
	ck_assert(passthru_listed("close, x-hop", "X-Hop", 5));
	ck_assert(passthru_listed(" a ,\tX-Hop ,b", "x-hop", 5));
	ck_assert(passthru_listed("X-A X-Hop", "X-Hop", 5));	/* malformed */
	ck_assert(!passthru_listed("X-Hopper", "X-Hop", 5));
	ck_assert(!passthru_listed("X-Ho", "X-Hop", 5));
	ck_assert(!passthru_listed("", "X-Hop", 5));
	ck_assert(!passthru_listed(NULL, "X-Hop", 5));
	ck_assert(!passthru_listed(",,", "", 0));
}
END_TEST

/* The value of the sample line starting with prefix, or -1. */
static long long
sample(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static char *
render(const struct metrics *m, const struct metrics_gauges *g)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	ck_assert_int_eq(metrics_write(m, g, b), 0);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

START_TEST(test_metrics_counts)
{
	struct metrics *m = metrics_new();
	struct metrics_gauges g;
	char *s;

	memset(&g, 0, sizeof(g));
	g.coalesced = 4;
	g.rate_limited = 2;
	g.open_connections = 3;
	g.waiting = 5;
	g.watched = 6;
	g.cached_ok = 1;
	g.cached[2] = 7;
	metrics_request(m, ROUTE_JOBS, 200, "HIT");
	metrics_request(m, ROUTE_JOBS, 200, "HIT");
	metrics_request(m, ROUTE_JOBS, 200, "MISS");
	metrics_request(m, ROUTE_PASSTHROUGH, 502, NULL);
	metrics_request(m, ROUTE_OTHER, 42, NULL);	/* not a status */
	metrics_upstream(m, ROUTE_JOBS, 200, 3);
	metrics_upstream(m, ROUTE_JOBS, METRICS_UP_TIMEOUT, 30000);
	metrics_upstream(m, ROUTE_PASSTHROUGH, METRICS_UP_ERROR, 70000);
	metrics_submitted(m);
	s = render(m, &g);
	ck_assert_int_eq(sample(s, "lumaproxy_requests_total{route=\"jobs\","
	    "status=\"200\",cache=\"hit\"}"), 2);
	ck_assert_int_eq(sample(s, "lumaproxy_requests_total{route=\"jobs\","
	    "status=\"200\",cache=\"miss\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_requests_total{route="
	    "\"passthrough\",status=\"502\",cache=\"none\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_requests_total{route=\"other\","
	    "status=\"other\",cache=\"none\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_requests_total{route="
	    "\"jobs\",status=\"timeout\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_requests_total{route="
	    "\"passthrough\",status=\"error\"}"), 1);
	/* Buckets are cumulative; 30 s falls in le="30.000". */
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"jobs\",le=\"0.005\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"jobs\",le=\"10.000\"}"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"jobs\",le=\"30.000\"}"), 2);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"jobs\",le=\"+Inf\"}"), 2);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_count"
	    "{route=\"jobs\"}"), 2);
	/* Over the last bucket: only in +Inf. */
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"passthrough\",le=\"60.000\"}"), 0);
	ck_assert_int_eq(sample(s, "lumaproxy_upstream_latency_seconds_bucket"
	    "{route=\"passthrough\",le=\"+Inf\"}"), 1);
	ck_assert_ptr_nonnull(strstr(s, "lumaproxy_upstream_latency_seconds_sum"
	    "{route=\"jobs\"} 30.003\n"));
	ck_assert_int_eq(sample(s, "lumaproxy_coalesced_waits_total"), 4);
	ck_assert_int_eq(sample(s, "lumaproxy_rate_limited_total"), 2);
	ck_assert_int_eq(sample(s, "lumaproxy_submitted_jobs_total"), 1);
	ck_assert_int_eq(sample(s, "lumaproxy_cached_jobs{status=\"completed\"}"), 7);
	ck_assert_int_eq(sample(s, "lumaproxy_cached_jobs{status=\"pending\"}"), 0);
	ck_assert_int_eq(sample(s, "lumaproxy_open_connections"), 3);
	ck_assert_int_eq(sample(s, "lumaproxy_waiting_requests"), 5);
	ck_assert_int_eq(sample(s, "lumaproxy_watched_jobs"), 6);
	free(s);
	metrics_free(m);
}
END_TEST

/* Every family is announced once with HELP and TYPE; counters end in _total. */
START_TEST(test_metrics_format)
{
	struct metrics *m = metrics_new();
	struct metrics_gauges g;
	char *s, *line, *save = NULL;
	int helps = 0, types = 0;

	memset(&g, 0, sizeof(g));
	s = render(m, &g);
	ck_assert(s[strlen(s) - 1] == '\n');
	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP lumaproxy_", 17) == 0)
			helps++;
		else if (strncmp(line, "# TYPE lumaproxy_", 17) == 0) {
			types++;
			if (strstr(line, " counter") != NULL)
				ck_assert_msg(strstr(line, "_total counter") != NULL,
				    "%s", line);
		} else
			ck_assert_msg(strncmp(line, "lumaproxy_", 10) == 0,
			    "%s", line);
	}
	ck_assert_int_eq(helps, 13);
	ck_assert_int_eq(types, 13);
	free(s);
	metrics_free(m);
}
END_TEST

static Suite *
passthru_suite(void)
{
	Suite *s = suite_create("passthru");
	TCase *tc = tcase_create("headers");

	tcase_add_loop_test(tc, test_hop_by_hop, 0,
	    (int)(sizeof(hop_cases) / sizeof(hop_cases[0])));
	tcase_add_test(tc, test_listed);
	suite_add_tcase(s, tc);
	tc = tcase_create("metrics");
	tcase_add_test(tc, test_metrics_counts);
	tcase_add_test(tc, test_metrics_format);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(passthru_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
