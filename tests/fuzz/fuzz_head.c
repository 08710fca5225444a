/*
 * Request heads: head_parse() on any bytes up to HEAD_MAX, whole and as the
 * framer sees them, a prefix at a time; head_emit() of what it read.  A
 * prefix must never be read differently from the whole.
 */
#include <assert.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "head.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct evbuffer *out, *again;
	struct head h, part;
	size_t n, step;
	int done;

	if (size > HEAD_MAX)
		size = HEAD_MAX;
	if ((out = evbuffer_new()) == NULL || (again = evbuffer_new()) == NULL)
		abort();
	done = head_parse(p, size, &h, out);
	if (done) {
		assert(h.len <= size);
		assert(h.method + h.method_len <= size);
		assert(h.target + h.target_len <= size);
		assert(h.auth + h.auth_len <= size);
		assert(h.accept + h.accept_len <= size);
		head_emit(p, &h, again);
		(void)head_method_is(p, &h, "GET");
	}
	/* Prefixes, in steps the first byte picks: done from h.len on. */
	step = size > 0 ? (size_t)data[0] % 97 + 1 : 1;
	for (n = 0; n < size; n += step) {
		if (head_parse(p, n, &part, NULL)) {
			assert(done && part.len == h.len &&
			    part.status == h.status && part.length == h.length &&
			    part.chunked == h.chunked);
			break;
		}
	}
	evbuffer_free(out);
	evbuffer_free(again);
	return 0;
}
