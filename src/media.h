/*
 * The media mirror (SPEC 9): the media of completed jobs are downloaded in
 * the background through the upstream curl multi (never blocking the loop)
 * into DIR/<sha256>, served back under /media/ (media_serve.h), and linked
 * from job answers when --rewrite-media-urls is on (media_rewrite.h).  The
 * database is the queue: a restart picks up whatever was not finished.
 * This is the scheduler's API; media_writer.h is its disk side.
 */
#ifndef MEDIA_H
#define MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "media_writer.h"	/* MEDIA_SHA256_LEN, MEDIA_PATH_MAX */

struct cache;
struct event_base;
struct media;
struct media_files;
struct metrics;
struct upstream;

#define MEDIA_RETRY_MS		2000	/* first retry; then 4 s, 8 s, ... */
#define MEDIA_ATTEMPTS		6

struct media_options {
	const char	*dir;
	int		 concurrency;	/* downloads at once */
	uint64_t	 max_bytes;	/* larger files fail */
	struct metrics	*metrics;	/* downloads counted here, or NULL */
	const char	*public_url;	/* base of rewritten links, or NULL */
	uint64_t	 keep_bytes;	/* of small files kept in memory */
};

/*
 * When a download that failed its attempts-th attempt at now (ms) is tried
 * again: MEDIA_RETRY_MS later, doubling; -1 after MEDIA_ATTEMPTS.
 */
int64_t	media_next_attempt(int attempts, int64_t now);

/*
 * Checks that dir is a directory we can create files in; -1 with a message
 * in err otherwise.
 */
int	media_check_dir(const char *dir, char *err, size_t errlen);

/*
 * The mirror on dir (which the caller checked with media_check_dir() before
 * creating anything).  It does nothing until media_start() (the server)
 * or media_fetch() (the mirror command, media_mirror.h).
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

/* A download media_fetch() started is over: reason NULL when mirrored. */
typedef void media_fetched_fn(const char *url, const char *reason,
	    void *arg);

/* Whether fewer than `concurrency` downloads run. */
int	media_has_room(const struct media *);

/*
 * Downloads url now, whatever the queue says (attempts: made before),
 * records the outcome as for the queue's own downloads, then calls done
 * exactly once: from the loop, or from this call when it cannot start.
 * The queue's turns (media_start()) do not run for it.
 */
void	media_fetch(struct media *, const char *url, int attempts,
	    media_fetched_fn *done, void *arg);


/* For the mirror's other files: the absolute directory of the files. */
const char	*media_dir(const struct media *);

/* The cache the media rows are in (borrowed). */
struct cache	*media_cache(const struct media *);

/* What the file server keeps of the files (media_files.h; borrowed). */
struct media_files *media_files(const struct media *);

/* The base of rewritten links ("" when none was given). */
const char	*media_public_url(const struct media *);

/* Whether DIR/sha256 is a regular file (its size into *size unless NULL). */
int	media_has_file(const struct media *, const char *sha256,
	    int64_t *size);

#endif
