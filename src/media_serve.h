/*
 * The media mirror's file server (SPEC 9): GET and HEAD /media/{sha256}
 * answer with a mirrored file, whole or one byte range, with validators.
 */
#ifndef MEDIA_SERVE_H
#define MEDIA_SERVE_H

#include <stdint.h>

struct evhttp_request;
struct framer;
struct head;
struct media;
struct proxy;
struct reply_info;

/* Answers GET or HEAD /media/<name> (else 405); m NULL: no mirror (404). */
void	media_serve(struct proxy *, struct media *, struct evhttp_request *,
	    const char *name, const struct reply_info *);

/*
 * A request head (h, read from p) the framer has before evhttp: a plain
 * GET or HEAD /media/<name> of a file kept in memory is answered here with
 * framer_send(), logged and counted as media_serve() would (1); anything
 * else is left to media_serve() (0).  m NULL: no mirror.
 */
int	media_serve_fast(struct proxy *, struct media *, struct framer *,
	    const struct head *h, const char *p);

/* A Range header against a file of size bytes (RFC 9110 14.2). */
enum media_range {
	RANGE_NONE,		/* absent, malformed, several or another unit */
	RANGE_OK,		/* [*first, *last] */
	RANGE_UNSATISFIABLE,	/* 416 */
};
enum media_range media_serve_parse_range(const char *header, uint64_t size,
	    uint64_t *first, uint64_t *last);

#endif
