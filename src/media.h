/*
 * The media mirror (SPEC 9): the media of completed jobs are downloaded in
 * the background through the upstream curl multi (never blocking the loop)
 * into DIR/<sha256>, served back under /media/, and linked from job answers
 * when --rewrite-media-urls is on.  The database is the queue: a restart
 * picks up whatever was not finished.
 */
#ifndef MEDIA_H
#define MEDIA_H

#include <stddef.h>
#include <stdint.h>

struct cache;
struct evbuffer;
struct evhttp_request;
struct event_base;
struct media;
struct metrics;
struct proxy;
struct reply_info;
struct upstream;

#define MEDIA_SHA256_LEN	64	/* hex digits of a file's name */
#define MEDIA_RETRY_MS		2000	/* first retry; then 4 s, 8 s, ... */
#define MEDIA_ATTEMPTS		6

struct media_options {
	const char	*dir;
	int		 concurrency;	/* downloads at once */
	uint64_t	 max_bytes;	/* larger files fail */
	struct metrics	*metrics;	/* downloads counted here, or NULL */
	const char	*public_url;	/* base of rewritten links, or NULL */
};

/*
 * When a download that failed its attempts-th attempt at now (ms) is tried
 * again: MEDIA_RETRY_MS later, doubling; -1 after MEDIA_ATTEMPTS.
 */
int64_t	media_next_attempt(int attempts, int64_t now);

/* Called once per download the mirror command asked for; reason NULL: ok. */
typedef void media_done_fn(const char *url, const char *reason,
	    int already, void *arg);

/*
 * Checks that dir is a directory we can create files in; -1 with a message
 * in err otherwise.
 */
int	media_check_dir(const char *dir, char *err, size_t errlen);

/*
 * The mirror on dir (which the caller checked with media_check_dir() before
 * creating anything).  It does nothing
 * until media_start() (the server) or media_mirror() (the command).
 */
struct media	*media_new(struct event_base *, struct upstream *,
	    struct cache *, const struct media_options *, char *err,
	    size_t errlen);

/* Stops downloads in flight (their files are removed, rows stay due). */
void	media_free(struct media *);

/*
 * Server: looks at completed jobs not scanned yet (a backfill, with
 * progress on stderr), then downloads what is due, retrying failures with
 * back-off; notices jobs other processes import.
 */
void	media_start(struct media *);

/* jobid was stored as completed: queue its media. */
void	media_job_stored(struct media *, const char *jobid);

/*
 * The mirror command: downloads every media URL of every completed job
 * whose file is not in the directory yet (failed ones too), calling done
 * for each (already: the file was there); the loop ends when all are done.
 * Returns how many URLs there are, -1 on error.
 */
int64_t	media_mirror(struct media *, media_done_fn *done, void *arg);

/*
 * Writes jobid's stored record body (the one whose ETag is etag: the
 * answer being sent) with each mirrored media URL (whose file is in the
 * directory) replaced by <public_url>/media/<sha256> into out, and its
 * ETag into newetag.  1 when something was replaced, 0 when nothing was
 * (out untouched), -1 on error.
 */
int	media_rewrite(struct media *, const char *jobid, const char *etag,
	    struct evbuffer *out, char *newetag);

/* GET or HEAD /media/<name>; m NULL: no mirror (404). */
void	media_handle(struct proxy *, struct media *, struct evhttp_request *,
	    const char *name, const struct reply_info *);

/* A Range header against a file of size bytes (RFC 9110 14.2). */
enum media_range {
	RANGE_NONE,		/* absent, malformed, several or another unit */
	RANGE_OK,		/* [*first, *last] */
	RANGE_UNSATISFIABLE,	/* 416 */
};
enum media_range media_parse_range(const char *header, uint64_t size,
	    uint64_t *first, uint64_t *last);

/* Whether name is 64 lowercase hex digits. */
int	media_name_valid(const char *name);

#endif
