/*
 * Import lines: one line of an export file as `lumaproxy import` reads it
 * (admin.c's import_line(), which is static: the file is built into this
 * target), then, for a line it accepts, the media list and the store on a
 * cache in memory, rolled back.
 */
#include "admin.c"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *grants[GRANTS_MAX];
	static struct cache *c;
	char err[256], etag[ETAG_LEN + 1];
	struct cache_row row;
	const char *why;
	json_t *keep;

	if (c == NULL && (c = cache_open(":memory:", err, sizeof(err))) == NULL)
		abort();
	if (import_line(c, (const char *)data, size, &row, grants, etag, &keep,
	    &why) == 0) {
		/* Stored and rolled back: the cache stays empty. */
		if (cache_begin(c) != 0 ||
		    cache_import_job(c, &row, etag, NULL, 0) != 0)
			abort();
		(void)import_media(c, row.jobid, json_object_get(keep, "media"),
		    0);
		cache_rollback(c);
	}
	json_decref(keep);
	return 0;
}
