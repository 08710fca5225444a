/*
 * The media mirror's writer threads: the disk side of a download.  Each
 * download's bytes go to a thread of its own that hashes them (SHA-256),
 * writes them to a partial file DIR/.part-PID-XXXXXX, locked (flock(2))
 * while it is written, syncs it and renames it DIR/<sha256>.  The loop
 * hands pieces over through a bounded queue and hears back through one
 * pipe that all writers of a directory share.
 */
#ifndef MEDIA_WRITER_H
#define MEDIA_WRITER_H

#include <limits.h>
#include <stddef.h>

struct event_base;
struct media_writer;
struct media_writers;

#define MEDIA_SHA256_LEN	64	/* hex digits of a file's name */
#define MEDIA_PATH_MAX		(PATH_MAX + 80)	/* the directory and a name */
#define MEDIA_PART_PREFIX	".part-"	/* partial files in DIR */

/* What a writer tells the loop. */
enum media_writer_event {
	MEDIA_WRITER_RESUME,	/* room again after media_writer_put() said full */
	MEDIA_WRITER_FAILED,	/* a write failed: later pieces are dropped */
	MEDIA_WRITER_DONE,	/* finished (media_writer_finish()); joined */
};

/*
 * A writer's event, on the loop; DONE comes once, after finish, unless
 * media_writer_stop() or media_writer_free() came first.
 */
typedef void media_writer_fn(enum media_writer_event, void *arg);

/* What media_writer_put() did with a piece. */
enum media_put {
	MEDIA_PUT_OK,		/* queued */
	MEDIA_PUT_FULL,		/* not taken: RESUME comes when there is room */
	MEDIA_PUT_FAILED,	/* not taken: the writer failed (FAILED comes) */
	MEDIA_PUT_NOMEM,	/* not taken: out of memory */
};

/*
 * The writers of the absolute directory dir, reporting on base.  Removes
 * the partial files no process holds locked (their writers are gone).
 * NULL with a message in err when the pipe cannot be set up.
 */
struct media_writers	*media_writers_new(struct event_base *,
	    const char *dir, char *err, size_t errlen);

/* Frees ws once each of its writers is freed.  NULL is a no-op. */
void	media_writers_free(struct media_writers *);

/*
 * A new partial file in the directory and its thread; fn(event, arg) fires
 * from the loop.  NULL with the reason in why, and errno set, when either
 * cannot be made.
 */
struct media_writer	*media_writer_new(struct media_writers *,
	    media_writer_fn *fn, void *arg, char *why, size_t whylen);

/* Hands the thread a copy of p[0..len), the next piece of the file. */
enum media_put	media_writer_put(struct media_writer *, const void *p,
	    size_t len);

/* No more pieces: the thread makes the file DIR/<sha256>, then says DONE. */
void	media_writer_finish(struct media_writer *);

/* Stops the thread (the file stays partial) and waits for it. */
void	media_writer_stop(struct media_writer *);

/*
 * When writing failed: the errno of the call that failed (-1 when it was
 * not a system call), with why set; 0 when it did not (yet).
 */
int	media_writer_error(struct media_writer *, char *why, size_t len);

/* After DONE without an error: the file's name; "" when nothing was written. */
const char	*media_writer_sha256(const struct media_writer *);

/* Stops the thread, removes a partial file and frees w.  NULL is a no-op. */
void	media_writer_free(struct media_writer *);

#endif
