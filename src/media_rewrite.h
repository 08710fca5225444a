/*
 * --rewrite-media-urls (SPEC 9): job answers link to the mirror.
 */
#ifndef MEDIA_REWRITE_H
#define MEDIA_REWRITE_H

struct evbuffer;
struct media;

/*
 * Writes jobid's stored record body (the one whose ETag is etag: the
 * answer being sent) with each mirrored media URL (whose file is in the
 * directory) replaced by <public_url>/media/<sha256> into out, and its
 * ETag into newetag.  1 when something was replaced, 0 when nothing was
 * (out untouched), -1 on error.
 */
int	media_rewrite(struct media *, const char *jobid, const char *etag,
	    struct evbuffer *out, char *newetag);

#endif
