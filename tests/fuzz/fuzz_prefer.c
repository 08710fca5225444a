/*
 * Prefer, ?wait= and Accept: prefer_wait(), prefer_query_wait() and
 * prefer_event_stream() on any string, the wait within its bounds.
 */
#include <assert.h>

#include "fuzz.h"
#include "prefer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t w, max = 60;
	char *s;

	s = fuzz_string(data, size);
	w = prefer_wait(s, max);
	assert(w >= -1 && w <= max);
	w = prefer_query_wait(s, max);
	assert(w >= 0 && w <= max);
	(void)prefer_event_stream(s);
	free(s);
	return 0;
}
