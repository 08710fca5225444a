/*
 * The mirror command's run.  It lists the media URLs of completed jobs
 * whose files are not in the directory (taking over imported files found
 * there), makes them due again, and downloads them through media_fetch()
 * while the scheduler has room, trying a failed one three times in all (1 s,
 * then 2 s apart).  The database's retry schedule is the scheduler's, and
 * the server's queue never runs here: media_start() is not called.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cache.h"
#include "log.h"
#include "media.h"
#include "media_mirror.h"
#include "util.h"

#define MIRROR_MAGIC	0x4d495252u

#define SCAN_BATCH	200		/* jobs looked at per transaction */
#define MIRROR_ATTEMPTS	3		/* 1 s, then 2 s apart */
#define MIRROR_RETRY_MS	1000

/* A URL of the run. */
struct queued {
	char			*url;		/* owned */
	int			 attempts;	/* made in this run */
	int64_t			 not_before;	/* util_mono_ms() */
	int			 state;		/* Q_WAITING, ... */
};
enum { Q_WAITING, Q_RUNNING, Q_DONE };

struct media_mirror {
	unsigned		 magic;
	struct media		*m;		/* borrowed */
	struct event		*timer;		/* owned: the next turn */
	struct queued		*queue;		/* owned */
	size_t			 nqueue;
	uint64_t		 already;	/* files found in the directory */
	int			 failed;	/* out of memory while listing */
	media_done_fn		*done;
	void			*done_arg;
};

static void	turn_cb(evutil_socket_t, short, void *);

struct media_mirror *
media_mirror_new(struct media *m, struct event_base *base, media_done_fn *done,
    void *arg)
{
	struct media_mirror *mm;

	if ((mm = calloc(1, sizeof(*mm))) == NULL)
		return NULL;
	mm->magic = MIRROR_MAGIC;
	mm->m = m;
	mm->done = done;
	mm->done_arg = arg;
	if ((mm->timer = evtimer_new(base, turn_cb, mm)) == NULL) {
		free(mm);
		return NULL;
	}
	return mm;
}

void
media_mirror_free(struct media_mirror *mm)
{
	if (mm == NULL)
		return;
	CHECK_OBJ(mm, MIRROR_MAGIC);
	for (size_t i = 0; i < mm->nqueue; i++)
		free(mm->queue[i].url);
	free(mm->queue);
	event_free(mm->timer);
	memset(mm, 0, sizeof(*mm));
	free(mm);
}

/* The next turn in ms, from the loop. */
static void
turn_in(struct media_mirror *mm, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(mm->timer, &tv);
}

/* The run's entry for url, or NULL. */
static struct queued *
queued_find(struct media_mirror *mm, const char *url)
{
	for (size_t i = 0; i < mm->nqueue; i++)
		if (strcmp(mm->queue[i].url, url) == 0)
			return &mm->queue[i];
	return NULL;
}

/* media_fetch(): a download of the run is over (recorded already). */
static void
fetched(const char *url, const char *reason, void *arg)
{
	struct media_mirror *mm = arg;
	struct queued *q;
	char lu[512];

	CHECK_OBJ(mm, MIRROR_MAGIC);
	q = queued_find(mm, url);
	assert(q != NULL && q->state == Q_RUNNING);
	if (reason != NULL && q->attempts < MIRROR_ATTEMPTS) {
		log_warn("media: %s failed (%s); trying again in %d s",
		    util_log_url(url, lu, sizeof(lu)), reason,
		    (MIRROR_RETRY_MS << (q->attempts - 1)) / 1000);
		q->state = Q_WAITING;
		q->not_before = util_mono_ms() +
		    (MIRROR_RETRY_MS << (q->attempts - 1));
	} else {
		if (reason != NULL)
			log_warn("media: %s failed (%s)",
			    util_log_url(url, lu, sizeof(lu)), reason);
		q->state = Q_DONE;
		if (mm->done != NULL)
			mm->done(url, reason, 0, mm->done_arg);
	}
	turn_in(mm, 0);
}

/* A turn: start what may run, or wait for the next retry. */
static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct media_mirror *mm = arg;
	int64_t now = util_mono_ms(), wait = -1;
	struct queued *q;

	(void)fd;
	(void)what;
	CHECK_OBJ(mm, MIRROR_MAGIC);
	for (size_t i = 0; i < mm->nqueue; i++) {
		q = &mm->queue[i];
		if (q->state != Q_WAITING)
			continue;
		if (q->not_before <= now && media_has_room(mm->m)) {
			q->state = Q_RUNNING;
			q->attempts++;
			media_fetch(mm->m, q->url, q->attempts - 1, fetched, mm);
		} else if (q->not_before > now &&
		    (wait < 0 || q->not_before - now < wait))
			wait = q->not_before - now;
	}
	if (wait >= 0)
		turn_in(mm, wait);
}

/* cache_media_all(): one URL, here already or to download. */
static int
collect(const struct cache_media *cm, void *arg)
{
	struct media_mirror *mm = arg;
	struct queued *q;
	int64_t size;

	CHECK_OBJ(mm, MIRROR_MAGIC);
	if (cm->sha256 != NULL && media_has_file(mm->m, cm->sha256, &size) &&
	    (cm->size < 0 || size == cm->size)) {
		mm->already++;
		/* An imported file found here is mirrored here from now on. */
		if (strcmp(cm->state, "mirrored") != 0 &&
		    cache_media_mirrored(media_cache(mm->m), cm->url,
		    cm->sha256, size, cm->content_type, media_dir(mm->m),
		    util_now_ms()) < 0)
			return -1;
		if (mm->done != NULL)
			mm->done(cm->url, NULL, 1, mm->done_arg);
		return 0;
	}
	if ((q = realloc(mm->queue, (mm->nqueue + 1) * sizeof(*q))) == NULL) {
		mm->failed = 1;
		return -1;
	}
	mm->queue = q;
	memset(&q[mm->nqueue], 0, sizeof(*q));
	if ((q[mm->nqueue].url = strdup(cm->url)) == NULL) {
		mm->failed = 1;
		return -1;
	}
	mm->nqueue++;
	return 0;
}

int64_t
media_mirror_start(struct media_mirror *mm)
{
	struct cache *c;
	int64_t now = util_now_ms();
	char after[1024] = "";
	int n, scanned;

	CHECK_OBJ(mm, MIRROR_MAGIC);
	c = media_cache(mm->m);
	while ((n = cache_media_scan_some(c, after, sizeof(after), SCAN_BATCH,
	    now, &scanned)) > 0)
		;
	if (n < 0 || cache_media_all(c, collect, mm) != 0 || mm->failed)
		return -1;
	for (size_t i = 0; i < mm->nqueue; i++)
		if (cache_media_reset(c, mm->queue[i].url, now) != 0)
			return -1;
	turn_in(mm, 0);
	return (int64_t)(mm->nqueue + mm->already);
}
