/*
 * Job records from upstream: cache_parse_record() on any body (a terminal
 * record has a terminal status), then, for a completed one, the store and
 * the scan of its media URLs (cache_media_scan()) on a cache in memory,
 * the job purged again.
 */
#include <assert.h>

#include "cache.h"
#include "fuzz.h"
#include "record.h"

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *c;
	char err[256], etag[ETAG_LEN + 1];
	struct record rec;
	int n;

	if (c == NULL && (c = cache_open(":memory:", err, sizeof(err))) == NULL)
		abort();
	if (cache_parse_record(c, data, size, &rec) == 0) {
		assert(strlen(rec.status) < RECORD_FIELD_MAX);
		assert(strlen(rec.type) < RECORD_FIELD_MAX);
		assert(!rec.terminal || record_status_terminal(rec.status));
	}
	if (rec.terminal && strcmp(rec.status, "completed") == 0) {
		if (cache_store_job(c, "j1", TOKEN, &rec, NULL, data, size,
		    1000) != 0)
			abort();
		n = cache_media_scan(c, "j1", 1000);
		assert(n >= 0);
		if (cache_begin(c) != 0 || cache_purge_job(c, "j1") != 1 ||
		    cache_commit(c) != 0)
			abort();
	}
	record_etag(data, size, etag);
	return 0;
}
