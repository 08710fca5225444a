/*
 * The media mirror's scheduler.  A completed job is scanned (by SQLite's
 * JSON functions) for the URLs of its response; each URL becomes a row of
 * the media table, which is the download queue, backfilled at start.
 * Downloads go through upstream_fetch() on the loop, at most `concurrency`
 * at once, their bytes handed to a writer (media_writer.c) that makes them
 * DIR/<sha256>; a failed attempt is retried later (media_next_attempt()).
 * Serving, links and the mirror command are media_serve.c's,
 * media_rewrite.c's and media_mirror.c's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <event2/event.h>

#include "cache.h"
#include "log.h"
#include "media.h"
#include "media_files.h"
#include "media_writer.h"
#include "metrics.h"
#include "upstream.h"
#include "util.h"

#define MEDIA_MAGIC	0x4d454449u
#define DOWNLOAD_MAGIC	0x444c4f41u

#define SCAN_BATCH	200		/* jobs looked at per turn of the loop */
#define TURN_MS		2000		/* the queue is looked at this often */
#define HOLD_MS		5000		/* pause after the database refused a write */
#define DISK_WAIT_MAX	60000		/* longest pause while the disk fails */
#define PROGRESS_MS	500		/* progress line updates on a terminal */
#define DUE_MAX		128		/* 2 * the largest concurrency */

struct download {
	unsigned			 magic;
	struct media			*m;		/* borrowed */
	char				*url;		/* owned */
	int				 attempts;	/* made before this one */
	uint64_t			 got;		/* handed to the writer */
	int64_t				 length;	/* Content-Length, or -1 */
	char				 ctype[128];
	char				 reason[256];	/* why we stopped it */
	struct upstream_request		*req;		/* owned while running */
	struct media_writer		*w;		/* owned */
	media_fetched_fn		*done;		/* media_fetch()'s, or NULL */
	void				*done_arg;
	TAILQ_ENTRY(download)		 entry;
};

struct media {
	unsigned			 magic;
	struct event_base		*base;		/* borrowed */
	struct upstream			*up;		/* borrowed */
	struct cache			*cache;		/* borrowed */
	struct media_options		 opt;
	char				 dir[PATH_MAX];	/* absolute */
	char				 public_url[1024]; /* of rewritten links */
	TAILQ_HEAD(, download)		 active;
	int				 nactive;
	struct event			*timer;		/* owned: the next turn */
	struct media_writers		*writers;	/* owned */
	struct media_files		*files;		/* owned: what is served */
	int64_t				 hold_until;	/* util_mono_ms() */
	int64_t				 disk_wait;	/* ms: the disk fails, 0 */
	int				 scanning;	/* the walk of media_start() */
	char				 after[1024];	/* its last jobid */
	int64_t				 jobs, looked;	/* in all, so far */
	int64_t				 scanned;	/* jobs it scanned */
	int64_t				 progress_at;
	int				 busy;		/* a progress line is shown */
	int				 started;	/* media_start(): the queue runs */
};

static void	media_turn(struct media *, int64_t delay_ms);
static void	media_release(struct media *);

static struct timeval
ms_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

int
media_has_file(const struct media *m, const char *name, int64_t *size)
{
	char path[MEDIA_PATH_MAX];
	struct stat sb;

	CHECK_OBJ(m, MEDIA_MAGIC);
	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	if (size != NULL)
		*size = (int64_t)sb.st_size;
	return 1;
}

const char *
media_dir(const struct media *m)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	return m->dir;
}

struct cache *
media_cache(const struct media *m)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	return m->cache;
}

struct media_files *
media_files(const struct media *m)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	return m->files;
}

const char *
media_public_url(const struct media *m)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	return m->public_url;
}

int
media_check_dir(const char *dir, char *err, size_t errlen)
{
	char probe[MEDIA_PATH_MAX];
	struct stat sb;
	int fd;

	if (stat(dir, &sb) != 0) {
		snprintf(err, errlen, "media directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "media directory %s: not a directory", dir);
		return -1;
	}
	snprintf(probe, sizeof(probe), "%s/" MEDIA_PART_PREFIX "probe-XXXXXX", dir);
	if ((fd = mkstemp(probe)) < 0) {
		snprintf(err, errlen, "media directory %s is not writable: %s",
		    dir, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(probe);
	return 0;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	media_turn(arg, -1);
}

struct media *
media_new(struct event_base *base, struct upstream *up, struct cache *cache,
    const struct media_options *opt, char *err, size_t errlen)
{
	struct media *m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->magic = MEDIA_MAGIC;
	m->base = base;
	m->up = up;
	m->cache = cache;
	m->opt = *opt;
	TAILQ_INIT(&m->active);
	if (realpath(opt->dir, m->dir) == NULL ||
	    (m->timer = evtimer_new(base, timer_cb, m)) == NULL) {
		snprintf(err, errlen, "media directory %s: %s", opt->dir,
		    strerror(errno ? errno : ENOMEM));
		if (m->timer != NULL)
			event_free(m->timer);
		free(m);
		return NULL;
	}
	if ((m->writers = media_writers_new(base, m->dir, err,
	    errlen)) == NULL) {
		media_release(m);
		return NULL;
	}
	if ((m->files = media_files_new((size_t)opt->keep_bytes)) == NULL) {
		snprintf(err, errlen, "out of memory");
		media_release(m);
		return NULL;
	}
	m->opt.dir = m->dir;
	snprintf(m->public_url, sizeof(m->public_url), "%s",
	    opt->public_url != NULL ? opt->public_url : "");
	m->opt.public_url = m->public_url;
	return m;
}

static void
download_free(struct download *d)
{
	struct media *m = d->m;

	media_writer_free(d->w);	/* a file being synced is finished first */
	TAILQ_REMOVE(&m->active, d, entry);
	m->nactive--;
	free(d->url);
	memset(d, 0, sizeof(*d));
	free(d);
}

/* Frees m and what it owns once no download is left. */
static void
media_release(struct media *m)
{
	media_writers_free(m->writers);
	media_files_free(m->files);
	if (m->timer != NULL)
		event_free(m->timer);
	memset(m, 0, sizeof(*m));
	free(m);
}

void
media_free(struct media *m)
{
	struct download *d;

	if (m == NULL)
		return;
	CHECK_OBJ(m, MEDIA_MAGIC);
	while ((d = TAILQ_FIRST(&m->active)) != NULL) {
		if (d->req != NULL)
			upstream_cancel(d->req);
		download_free(d);
	}
	if (m->busy)
		log_progress(1, "media: stopped; unfinished downloads resume"
		    " at the next start");
	media_release(m);
}

/* The progress line of the server's mirror, on a terminal. */
static void
show_progress(struct media *m, int force)
{
	int64_t now = util_mono_ms(), mirrored, pending, failed, waiting;

	if (!log_is_tty() || !m->started)
		return;
	if (!force && now - m->progress_at < PROGRESS_MS)
		return;
	m->progress_at = now;
	if (cache_media_counts(m->cache, &mirrored, &pending, &failed) != 0)
		return;
	/* A walk that finds nothing to scan is not shown. */
	if (m->nactive == 0 && (!m->scanning || m->scanned == 0)) {
		if (m->busy)
			log_progress(1, "media: %lld mirrored, %lld waiting,"
			    " %lld failed", (long long)mirrored,
			    (long long)pending, (long long)failed);
		m->busy = 0;
		return;
	}
	m->busy = 1;
	/* Retries of failed media run too: they are not among the pending. */
	waiting = pending > m->nactive ? pending - m->nactive : 0;
	if (m->scanning && m->scanned > 0)
		log_progress(0, "media: looking at jobs %lld/%lld, %lld files"
		    " mirrored, %lld waiting, %lld failed", (long long)m->looked,
		    (long long)m->jobs, (long long)mirrored,
		    (long long)waiting, (long long)failed);
	else
		log_progress(0, "media: %lld mirrored, %d downloading,"
		    " %lld waiting, %lld failed", (long long)mirrored,
		    m->nactive, (long long)waiting, (long long)failed);
}

/* No downloads start for ms (longer pauses stand). */
static void
media_pause(struct media *m, int64_t ms)
{
	if (util_mono_ms() + ms > m->hold_until)
		m->hold_until = util_mono_ms() + ms;
}

/* The database refused a write: no downloads for a while (no busy loop). */
static void
media_hold(struct media *m, const char *what, const char *lu)
{
	log_at(cache_failure_level(m->cache), "media: cannot record %s of %s"
	    " (database busy or full); downloads pause for %d s", what, lu,
	    HOLD_MS / 1000);
	media_pause(m, HOLD_MS);
}

/* Whether errno err says the disk failed, not the download. */
static int
disk_errno(int err)
{
	return err == ENOSPC || err == EIO || err == EDQUOT || err == EROFS;
}

/*
 * A download of the queue failed for want of a disk (why): that is no
 * fault of its URL, so the attempt does not count.  Downloads pause, 2 s
 * at first, doubling up to a minute; after a pause one download at a
 * time tries the disk again (start_due()).  Said once, until a file is
 * written (disk_works()).
 */
static void
disk_failed(struct media *m, struct download *d, const char *why,
    int64_t now)
{
	char lu[512];

	if (m->disk_wait == 0) {
		m->disk_wait = MEDIA_RETRY_MS;
		log_error("media: cannot write to %s (%s); downloads pause,"
		    " and try again from every %d s to every %d s until a file"
		    " is written", m->dir, why, MEDIA_RETRY_MS / 1000,
		    DISK_WAIT_MAX / 1000);
	} else if (util_mono_ms() >= m->hold_until) {
		/* A download started after the last pause failed too. */
		m->disk_wait = m->disk_wait * 2 < DISK_WAIT_MAX ?
		    m->disk_wait * 2 : DISK_WAIT_MAX;
	}
	util_log_url(d->url, lu, sizeof(lu));
	log_debug("media: %s failed (%s); not counted as an attempt", lu, why);
	if (cache_media_failed(m->cache, d->url, why, d->attempts,
	    now + m->disk_wait, now) != 0)
		media_hold(m, "the failure", lu);
	media_pause(m, m->disk_wait);
}

/*
 * A write of d failed with err, ENOSPC or EDQUOT: whether the file cannot
 * fit at all, larger than what is free once its partial file is removed
 * (its Content-Length, else what came so far).  That is the file's fault,
 * not the disk's: the attempt counts, so that the URL's limit ends what
 * would otherwise fill the disk again at every try.  Says so in why.
 */
static int
cannot_fit(struct download *d, int err, const char *reason, char *why,
    size_t whylen)
{
	struct statvfs sv;
	uint64_t need, avail;

	if (err != ENOSPC && err != EDQUOT)
		return 0;
	media_writer_free(d->w);	/* removes the partial file */
	d->w = NULL;
	if (statvfs(d->m->dir, &sv) != 0)
		return 0;
	need = d->length >= 0 ? (uint64_t)d->length : d->got;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (need <= avail)
		return 0;
	snprintf(why, whylen, "%s; %llu bytes do not fit in the %llu free",
	    reason, (unsigned long long)need, (unsigned long long)avail);
	return 1;
}

/* A file was written: the disk works (again). */
static void
disk_works(struct media *m)
{
	if (m->disk_wait == 0)
		return;
	log_warn("media: %s can be written again", m->dir);
	m->disk_wait = 0;
}

/*
 * A download is over: reason NULL when its file is DIR/<sha256>, durable;
 * err the errno of a failure of the disk's side (0: none, or not one).
 * Records the outcome, frees d, and starts what is due next.
 */
static void
download_done(struct download *d, const char *reason, int err)
{
	struct media *m = d->m;
	char lu[512], path[MEDIA_PATH_MAX], why[512];
	const char *sha;
	int64_t now = util_now_ms(), next = -1;
	int attempts = d->attempts + 1, rc;
	/* The queue's download failed for want of a disk: no fault of it. */
	int disk = reason != NULL && d->done == NULL && disk_errno(err);

	util_log_url(d->url, lu, sizeof(lu));
	if (disk && cannot_fit(d, err, reason, why, sizeof(why))) {
		reason = why;	/* the file's fault after all: it counts */
		disk = 0;
	}
	if (reason == NULL) {
		sha = media_writer_sha256(d->w);
		rc = cache_media_mirrored(m->cache, d->url, sha,
		    (int64_t)d->got, d->ctype[0] ? d->ctype : NULL, m->dir, now);
		disk_works(m);
		if (rc < 0)
			media_hold(m, "the download", lu);
		else if (rc == 0 && cache_media_type(m->cache, sha, path,
		    sizeof(path)) == 0) {
			/* Purged meanwhile, and no other media has these bytes. */
			snprintf(path, sizeof(path), "%s/%s", m->dir, sha);
			(void)unlink(path);
			log_info("media: %s was purged while downloading;"
			    " its file is removed", lu);
		} else
			log_info("media: mirrored %s (%llu bytes) as %s", lu,
			    (unsigned long long)d->got, sha);
	} else if (disk)
		disk_failed(m, d, reason, now);
	else {
		next = media_next_attempt(attempts, now);
		if (cache_media_failed(m->cache, d->url, reason, attempts, next,
		    now) != 0)
			media_hold(m, "the failure", lu);
		/* media_fetch()'s caller says what happens next. */
		if (d->done == NULL && next >= 0)
			log_warn("media: %s failed (%s), attempt %d of %d;"
			    " retrying in %lld s", lu, reason, attempts,
			    MEDIA_ATTEMPTS, (long long)(next - now + 999) / 1000);
		else if (d->done == NULL)
			log_warn("media: %s failed (%s), attempt %d; giving up",
			    lu, reason, attempts);
	}
	if (d->done != NULL)
		d->done(d->url, reason, d->done_arg);
	download_free(d);
	show_progress(m, 0);
	media_turn(m, 0);
}

/* upstream: one header line of the answer. */
static int
dl_header(const char *name, size_t nlen, const char *value, size_t vlen,
    void *arg)
{
	struct download *d = arg;
	uint64_t n;
	const char *err;
	char num[32];

	CHECK_OBJ(d, DOWNLOAD_MAGIC);
	if (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0) {
		/* Kept when it is a plain field value, served back as is. */
		d->ctype[0] = '\0';
		if (vlen < sizeof(d->ctype) && util_field_value(value, vlen)) {
			memcpy(d->ctype, value, vlen);
			d->ctype[vlen] = '\0';
		}
	} else if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0 &&
	    vlen < sizeof(num)) {
		memcpy(num, value, vlen);
		num[vlen] = '\0';
		if (parse_uint(num, 0, UINT64_MAX, &n, &err) != 0)
			return 0;
		if (n > d->m->opt.max_bytes) {
			snprintf(d->reason, sizeof(d->reason), "larger than"
			    " max-media-bytes (%llu bytes)", (unsigned long long)n);
			return -1;
		}
		d->length = n <= INT64_MAX ? (int64_t)n : -1;
	}
	return 0;
}

/* upstream: the answer's status, after its headers. */
static int
dl_head(long status, void *arg)
{
	struct download *d = arg;

	CHECK_OBJ(d, DOWNLOAD_MAGIC);
	if (status != 200) {
		snprintf(d->reason, sizeof(d->reason), "HTTP %ld", status);
		return -1;
	}
	if (strncasecmp(d->ctype, "text/html", 9) == 0) {
		snprintf(d->reason, sizeof(d->reason), "answered HTML, not media");
		return -1;
	}
	return 0;
}

/* upstream: a piece of the body, for the writer. */
static int
dl_data(const char *p, size_t len, void *arg)
{
	struct download *d = arg;

	CHECK_OBJ(d, DOWNLOAD_MAGIC);
	if (d->got + len > d->m->opt.max_bytes) {
		snprintf(d->reason, sizeof(d->reason),
		    "larger than max-media-bytes (%llu)",
		    (unsigned long long)d->m->opt.max_bytes);
		return -1;
	}
	switch (media_writer_put(d->w, p, len)) {
	case MEDIA_PUT_OK:
		break;
	case MEDIA_PUT_FULL:
		return 1;	/* the disk is behind: curl waits, then again */
	case MEDIA_PUT_FAILED:
		return -1;	/* MEDIA_WRITER_FAILED is on its way: it says why */
	case MEDIA_PUT_NOMEM:
		snprintf(d->reason, sizeof(d->reason), "out of memory");
		return -1;
	}
	d->got += len;
	return 0;
}

/* upstream: the download is over. */
static void
dl_done(const struct upstream_result *res, void *arg)
{
	struct download *d = arg;
	char why[300];
	int err;

	CHECK_OBJ(d, DOWNLOAD_MAGIC);
	d->req = NULL;
	if (d->m->opt.metrics != NULL)
		metrics_upstream_result(d->m->opt.metrics, ROUTE_MEDIA, res);
	if (d->reason[0] == '\0' && !media_writer_error(d->w, why,
	    sizeof(why)) && res->error == UPSTREAM_OK && res->status == 200) {
		media_writer_finish(d->w);	/* MEDIA_WRITER_DONE ends it */
		return;
	}
	media_writer_stop(d->w);	/* from here on its error is final */
	if ((err = media_writer_error(d->w, why, sizeof(why))) != 0)
		download_done(d, why, err); /* the writer failed first */
	else if (d->reason[0] != '\0')
		download_done(d, d->reason, 0);
	else if (res->error == UPSTREAM_TIMEOUT)
		download_done(d, "timed out", 0);
	else if (res->error != UPSTREAM_OK) {
		snprintf(why, sizeof(why), "unreachable: %s", res->reason);
		download_done(d, why, 0);
	} else {
		snprintf(why, sizeof(why), "HTTP %ld", res->status);
		download_done(d, why, 0);
	}
}

static const struct upstream_stream_cb dl_cb = {
	.header = dl_header,
	.head = dl_head,
	.data = dl_data,
	.done = dl_done,
};

/* Whether url is being downloaded. */
static int
downloading(struct media *m, const char *url)
{
	struct download *d;

	TAILQ_FOREACH(d, &m->active, entry)
		if (strcmp(d->url, url) == 0)
			return 1;
	return 0;
}

/* The writer of d: what its thread said, on the loop. */
static void
writer_event(enum media_writer_event ev, void *arg)
{
	struct download *d = arg;
	char why[300];
	int err;

	CHECK_OBJ(d, DOWNLOAD_MAGIC);
	switch (ev) {
	case MEDIA_WRITER_RESUME:
		if (d->req != NULL)
			upstream_resume(d->req);
		break;
	case MEDIA_WRITER_FAILED:
		/* The rest of the body is of no use: stop the transfer. */
		if (d->req != NULL) {
			upstream_cancel(d->req);
			d->req = NULL;
			media_writer_finish(d->w);
		}
		break;
	case MEDIA_WRITER_DONE:
		if ((err = media_writer_error(d->w, why, sizeof(why))) != 0)
			download_done(d, why, err);
		else
			download_done(d, media_writer_sha256(d->w)[0] == '\0' ?
			    "empty answer" : NULL, 0);
		break;
	}
}

/* Starts downloading url; a failure to start counts as a failed attempt. */
static void
download_start(struct media *m, const char *url, int attempts,
    media_fetched_fn *done, void *arg)
{
	struct download *d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->url = strdup(url)) == NULL) {
		free(d);
		log_error("media: out of memory");
		media_pause(m, HOLD_MS);
		if (done != NULL)
			done(url, "out of memory", arg);
		return;
	}
	d->magic = DOWNLOAD_MAGIC;
	d->m = m;
	d->attempts = attempts;
	d->length = -1;
	d->done = done;
	d->done_arg = arg;
	TAILQ_INSERT_TAIL(&m->active, d, entry);
	m->nactive++;
	if ((d->w = media_writer_new(m->writers, writer_event, d, d->reason,
	    sizeof(d->reason))) == NULL)
		download_done(d, d->reason, errno);
	else if ((d->req = upstream_fetch(m->up, url, &dl_cb, d)) == NULL)
		download_done(d, "cannot start the download", 0);
}

/* Due media, copied out of the query before anything is written. */
struct due {
	int	n;
	struct {
		char	*url;
		char	*sha256;	/* the bytes an import expects, or NULL */
		char	*content_type;
		int64_t	 size;
		int	 attempts;
	} v[DUE_MAX];
};

static int
due_cb(const struct cache_media *cm, void *arg)
{
	struct due *due = arg;
	int i = due->n;

	if (i == DUE_MAX)
		return 1;
	due->v[i].url = strdup(cm->url);
	due->v[i].sha256 = cm->sha256 ? strdup(cm->sha256) : NULL;
	due->v[i].content_type = cm->content_type ? strdup(cm->content_type) :
	    NULL;
	due->v[i].size = cm->size;
	due->v[i].attempts = cm->attempts;
	if (due->v[i].url == NULL) {
		free(due->v[i].sha256);
		free(due->v[i].content_type);
		return -1;
	}
	due->n++;
	return 0;
}

/* Starts what is due, taking over imported files already in the directory. */
static void
start_due(struct media *m, int64_t now)
{
	struct due *due;
	int64_t size;
	char lu[512];
	/* While the disk fails, one download tries it, not all at once. */
	int most = m->disk_wait != 0 ? 1 : m->opt.concurrency;

	if ((due = calloc(1, sizeof(*due))) == NULL)
		return;
	if (cache_media_due(m->cache, now, m->nactive + m->opt.concurrency,
	    due_cb, due) < 0)
		log_error("media: cannot read the download queue");
	for (int i = 0; i < due->n; i++) {
		if (due->v[i].sha256 != NULL &&
		    media_has_file(m, due->v[i].sha256, &size) &&
		    size == due->v[i].size) {
			if (cache_media_mirrored(m->cache, due->v[i].url,
			    due->v[i].sha256, size, due->v[i].content_type,
			    m->dir, now) < 0)
				media_hold(m, "a file in the directory",
				    util_log_url(due->v[i].url, lu, sizeof(lu)));
		} else if (m->nactive < most &&
		    util_mono_ms() >= m->hold_until &&
		    !downloading(m, due->v[i].url))
			download_start(m, due->v[i].url, due->v[i].attempts,
			    NULL, NULL);
		free(due->v[i].url);
		free(due->v[i].sha256);
		free(due->v[i].content_type);
	}
	free(due);
}

/*
 * One turn of the mirror: a batch of the backfill, then as many due
 * downloads as may run; then the timer for the next turn (delay_ms >= 0:
 * soon, from the loop, not from a caller's stack).
 */
static void
media_turn(struct media *m, int64_t delay_ms)
{
	struct timeval tv;
	int64_t now, next, wait = TURN_MS;
	int n, scanned = 0;

	CHECK_OBJ(m, MEDIA_MAGIC);
	if (!m->started)
		return;		/* the queue is not ours to run */
	if (delay_ms >= 0) {
		tv = ms_tv(delay_ms);
		evtimer_add(m->timer, &tv);
		return;
	}
	now = util_now_ms();
	if (m->scanning) {
		if ((n = cache_media_scan_some(m->cache, m->after,
		    sizeof(m->after), SCAN_BATCH, now, &scanned)) < 0) {
			log_error("media: cannot scan completed jobs");
			n = 0;
		}
		/* Told only when there is a backfill to tell of. */
		if (scanned > 0 && m->scanned == 0)
			log_info("media: looking for the media of completed jobs"
			    " among %lld jobs", (long long)m->jobs);
		m->looked += n;
		m->scanned += scanned;
		if (n != SCAN_BATCH) {
			if (m->scanned > 0)
				log_info("media: %lld completed jobs looked at",
				    (long long)m->scanned);
			m->scanning = 0;
		} else
			wait = 0;	/* the next batch, after what is ready */
	}
	start_due(m, now);
	if ((next = cache_media_next_at(m->cache, now)) > now &&
	    next - now < wait)
		wait = next - now;
	if (m->hold_until > util_mono_ms() &&
	    m->hold_until - util_mono_ms() > wait)
		wait = m->hold_until - util_mono_ms();
	show_progress(m, 0);
	tv = ms_tv(wait);
	evtimer_add(m->timer, &tv);
}

void
media_start(struct media *m)
{
	int64_t finished;

	CHECK_OBJ(m, MEDIA_MAGIC);
	m->started = 1;
	m->scanning = 1;
	m->after[0] = '\0';
	m->looked = m->scanned = 0;
	if (cache_count_jobs(m->cache, &m->jobs, &finished) != 0)
		m->jobs = 0;
	media_turn(m, 0);
}

void
media_job_stored(struct media *m, const char *jobid)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	if (cache_media_scan(m->cache, jobid, util_now_ms()) < 0)
		log_error("media: cannot scan job %s", jobid);
	else if (m->nactive < m->opt.concurrency)
		media_turn(m, 0);
}

int
media_has_room(const struct media *m)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	return m->nactive < m->opt.concurrency;
}

void
media_fetch(struct media *m, const char *url, int attempts,
    media_fetched_fn *done, void *arg)
{
	CHECK_OBJ(m, MEDIA_MAGIC);
	assert(done != NULL);
	download_start(m, url, attempts, done, arg);
}

int64_t
media_next_attempt(int attempts, int64_t now)
{
	if (attempts < 1 || attempts >= MEDIA_ATTEMPTS)
		return -1;
	return now + ((int64_t)MEDIA_RETRY_MS << (attempts - 1));
}
