/*
 * Unit tests of what a client asks for instead of polling: the wait of a
 * Prefer header and of a query string, and an event stream in Accept.
 */
#include <stdlib.h>

#include <check.h>

#include "prefer.h"

static const struct {
	const char	*prefer;
	int64_t		 want;
} waits[] = {
	{ "wait=10", 10 },
	{ "WAIT=10", 10 },
	{ "Wait = 10", 10 },
	{ "respond-async, wait=10", 10 },
	{ "respond-async; foo=bar, wait=7; x=1", 7 },
	{ "return=minimal,wait=5", 5 },
	{ "wait=\"12\"", 12 },
	{ "wait=90", 60 },			/* clamped */
	{ "wait=99999999999999999999", 60 },	/* a number, just large */
	{ "wait=0", 0 },
	{ "wait=-1", 0 },
	{ "wait=abc", 0 },
	{ "wait=1e9", 0 },
	{ "wait=", 0 },
	{ "wait", 0 },
	{ "wait=10 5", 0 },
	{ "wait=5, wait=20", 5 },		/* the first counts */
	{ "waiting=5", 0 },
	{ "x; wait=5", 0 },			/* a parameter, not a preference */
	{ "", 0 },
	{ NULL, 0 },
};

START_TEST(test_prefer_wait)
{
	ck_assert_msg(prefer_wait(waits[_i].prefer, 60) == waits[_i].want,
	    "'%s'", waits[_i].prefer ? waits[_i].prefer : "(null)");
}
END_TEST

static const struct {
	const char	*query;
	int64_t		 want;
} qwaits[] = {
	{ "wait=10", 10 },
	{ "a=1&wait=10&b=2", 10 },
	{ "wait=10&wait=20", 10 },
	{ "wait=600", 60 },
	{ "wait=-1", 0 },
	{ "wait=abc", 0 },
	{ "wait=", 0 },
	{ "await=10", 0 },
	{ "WAIT=10", 0 },
	{ "", 0 },
	{ NULL, 0 },
};

START_TEST(test_query_wait)
{
	ck_assert_msg(prefer_query_wait(qwaits[_i].query, 60) ==
	    qwaits[_i].want, "'%s'", qwaits[_i].query ? qwaits[_i].query :
	    "(null)");
}
END_TEST

static const struct {
	const char	*accept;
	int		 want;
} accepts[] = {
	{ "text/event-stream", 1 },
	{ "Text/Event-Stream", 1 },
	{ "application/json, text/event-stream", 1 },
	{ "text/event-stream;q=0.5", 1 },
	{ "text/event-stream ; q=1", 1 },
	{ "text/event-stream;q=0, application/json", 0 },
	{ "text/event-stream; q=0.000", 0 },
	{ "text/event-stream;charset=utf-8;q=0", 0 },
	{ "text/event-streams", 0 },
	{ "text/*", 0 },
	{ "*/*", 0 },
	{ "application/json", 0 },
	{ "", 0 },
	{ NULL, 0 },
};

START_TEST(test_event_stream)
{
	ck_assert_msg(prefer_event_stream(accepts[_i].accept) ==
	    accepts[_i].want, "'%s'", accepts[_i].accept ? accepts[_i].accept :
	    "(null)");
}
END_TEST

static Suite *
prefer_suite(void)
{
	Suite *s = suite_create("prefer");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_prefer_wait, 0,
	    (int)(sizeof(waits) / sizeof(waits[0])));
	tcase_add_loop_test(tc, test_query_wait, 0,
	    (int)(sizeof(qwaits) / sizeof(qwaits[0])));
	tcase_add_loop_test(tc, test_event_stream, 0,
	    (int)(sizeof(accepts) / sizeof(accepts[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(prefer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
