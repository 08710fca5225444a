/*
 * Job answers that link to the mirror: each media URL of a job whose file
 * is in the directory becomes <public_url>/media/<sha256>.  The cache does
 * the JSON work, in the query that reads the stored body; this file only
 * chooses the replacements, from the job's media rows and the directory.
 * It never changes what is stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cache.h"
#include "media.h"
#include "media_rewrite.h"
#include "record.h"

/* The replacements for one job. */
struct rewrite {
	struct media	*m;		/* borrowed */
	const char	*base;		/* borrowed */
	char		 paths[CACHE_REPLACE_MAX][64];
	char		*values[CACHE_REPLACE_MAX];	/* owned */
	size_t		 n;
};

/* cache_media_job(): one media row of the job. */
static int
rewrite_one(const struct cache_media *cm, void *arg)
{
	struct rewrite *rw = arg;
	size_t len;

	/* Only links that will answer: the file must be here. */
	if (rw->n == CACHE_REPLACE_MAX || cm->sha256 == NULL ||
	    !media_has_file(rw->m, cm->sha256, NULL))
		return 0;
	len = strlen(rw->base) + sizeof("/media/") + MEDIA_SHA256_LEN;
	if ((rw->values[rw->n] = malloc(len)) == NULL)
		return -1;
	snprintf(rw->values[rw->n], len, "%s/media/%s", rw->base, cm->sha256);
	snprintf(rw->paths[rw->n], sizeof(rw->paths[0]), "$.response.%s.url",
	    cm->field);
	rw->n++;
	return 0;
}

int
media_rewrite(struct media *m, const char *jobid, const char *etag,
    struct evbuffer *out, char *newetag)
{
	struct rewrite rw;
	const char *paths[CACHE_REPLACE_MAX];
	int rc = 0;

	memset(&rw, 0, sizeof(rw));
	rw.m = m;
	rw.base = media_public_url(m);
	if (cache_media_job(media_cache(m), jobid, rewrite_one, &rw) != 0)
		rc = -1;
	else if (rw.n > 0) {
		for (size_t i = 0; i < rw.n; i++)
			paths[i] = rw.paths[i];
		rc = cache_media_rewrite(media_cache(m), jobid, etag, paths,
		    (const char *const *)rw.values, rw.n, out);
		if (rc == 1)
			record_etag(evbuffer_pullup(out, -1),
			    evbuffer_get_length(out), newetag);
	}
	for (size_t i = 0; i < rw.n; i++)
		free(rw.values[i]);
	return rc;
}
