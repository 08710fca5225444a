/*
 * The disk side of media downloads.  The loop never writes a file: it
 * queues the pieces curl delivers for a writer thread (one per download)
 * and is told to pause while 4 MiB wait.  The thread hashes and writes
 * them, writing back as it goes, then syncs the file and renames it to
 * DIR/<sha256>; it reports through a pipe that the loop reads.  What to
 * download, and what to record of it, is media.c's.
 */
#define _GNU_SOURCE		/* sync_file_range() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "log.h"
#include "media_writer.h"
#include "util.h"

#define WRITERS_MAGIC	0x57525453u
#define WRITER_MAGIC	0x57525452u

#define SYNC_EVERY	(8u << 20)	/* start writing back every 8 MiB */
#define QUEUE_HIGH	(4u << 20)	/* bytes for the writer: pause curl */
#define QUEUE_LOW	(1u << 20)	/* ... and go on again */

/* A piece of a body on its way to the writer thread. */
struct chunk {
	struct chunk			*next;
	size_t				 len;
	char				 data[];
};

/* What a writer thread tells the loop, through the pipe. */
struct wmsg {
	uint64_t			 id;		/* of the writer */
	int				 kind;		/* media_writer_event */
};

struct media_writer {
	unsigned			 magic;
	struct media_writers		*ws;		/* borrowed */
	uint64_t			 id;		/* names it in messages */
	media_writer_fn			*fn;
	void				*arg;
	char				 tmp[MEDIA_PATH_MAX]; /* "" once renamed */
	int				 running;	/* the thread runs */
	pthread_t			 thread;
	/* between the loop and the thread, under mu */
	pthread_mutex_t			 mu;
	pthread_cond_t			 cv;
	struct chunk			*head, **tail;	/* owned */
	size_t				 queued;
	int				 finish;	/* no more pieces: finish */
	int				 cancel;	/* stop, leave the file */
	int				 resume_wanted;
	/* the thread's; the loop reads them once it is joined */
	int				 fd;
	EVP_MD_CTX			*md;		/* owned */
	uint64_t			 written, synced;
	int				 werr;		/* errno, or -1 */
	const char			*wwhat;		/* what failed */
	char				 sha[MEDIA_SHA256_LEN + 1];
	TAILQ_ENTRY(media_writer)	 entry;
};

struct media_writers {
	unsigned			 magic;
	char				 dir[PATH_MAX];	/* absolute */
	int				 pipe[2];	/* threads to the loop */
	struct event			*pipe_ev;	/* owned: its read end */
	uint64_t			 next_id;
	TAILQ_HEAD(, media_writer)	 live;		/* borrowed */
};

static void	writers_cb(evutil_socket_t, short, void *);

/*
 * Removes the partial files no process writes: a writer holds a lock on
 * its file (writer_create()), which goes with its process however that
 * ends.  The PID in a name decides nothing: by now it may be another
 * process's, or be of another PID namespace sharing the directory.
 */
static void
remove_stale_parts(const char *dir)
{
	char path[MEDIA_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd;
	size_t plen = strlen(MEDIA_PART_PREFIX);

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, MEDIA_PART_PREFIX, plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/*
		 * Open for writing: on NFS flock(2) is emulated with fcntl(2)
		 * locks, and an exclusive one needs a descriptor that writes.
		 */
		if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC)) < 0)
			continue;
		/* Removed with the lock held: no writer can take it now. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(path) == 0)
			log_info("media: removed the partial file %s", path);
		close(fd);
	}
	closedir(d);
}

struct media_writers *
media_writers_new(struct event_base *base, const char *dir, char *err,
    size_t errlen)
{
	struct media_writers *ws;

	if ((ws = calloc(1, sizeof(*ws))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ws->magic = WRITERS_MAGIC;
	snprintf(ws->dir, sizeof(ws->dir), "%s", dir);
	TAILQ_INIT(&ws->live);
	ws->pipe[0] = ws->pipe[1] = -1;
	if (pipe(ws->pipe) != 0 ||
	    evutil_make_socket_nonblocking(ws->pipe[0]) != 0 ||
	    evutil_make_socket_closeonexec(ws->pipe[0]) != 0 ||
	    evutil_make_socket_closeonexec(ws->pipe[1]) != 0 ||
	    (ws->pipe_ev = event_new(base, ws->pipe[0], EV_READ | EV_PERSIST,
	    writers_cb, ws)) == NULL || event_add(ws->pipe_ev, NULL) != 0) {
		snprintf(err, errlen, "cannot set up the media mirror: %s",
		    strerror(errno ? errno : ENOMEM));
		media_writers_free(ws);
		return NULL;
	}
	/* A file too large for our limit must fail, not kill us (SIGXFSZ). */
	signal(SIGXFSZ, SIG_IGN);
	remove_stale_parts(ws->dir);
	return ws;
}

void
media_writers_free(struct media_writers *ws)
{
	if (ws == NULL)
		return;
	CHECK_OBJ(ws, WRITERS_MAGIC);
	assert(TAILQ_EMPTY(&ws->live));
	if (ws->pipe_ev != NULL)
		event_free(ws->pipe_ev);
	if (ws->pipe[0] >= 0)
		close(ws->pipe[0]);
	if (ws->pipe[1] >= 0)
		close(ws->pipe[1]);
	memset(ws, 0, sizeof(*ws));
	free(ws);
}

/* The thread's message to the loop; a pointer-free 16 bytes is whole. */
static void
writer_send(struct media_writer *w, int kind)
{
	struct wmsg msg;

	memset(&msg, 0, sizeof(msg));
	msg.id = w->id;
	msg.kind = kind;
	while (write(w->ws->pipe[1], &msg, sizeof(msg)) < 0 && errno == EINTR)
		;
}

/*
 * The thread: one piece hashed and written.  0, or the errno (-1: not an
 * errno) with *what saying what failed.
 */
static int
writer_put(struct media_writer *w, const struct chunk *c, const char **what)
{
	const char *p = c->data;
	size_t len = c->len;
	ssize_t n;

	if (EVP_DigestUpdate(w->md, p, len) != 1) {
		*what = "cannot compute SHA-256";
		return -1;
	}
	while (len > 0) {
		if ((n = write(w->fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			*what = "writing";
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	w->written += c->len;
	/* Write back as it comes, so that the final fsync() has little left. */
	if (w->written - w->synced >= SYNC_EVERY) {
		(void)sync_file_range(w->fd, (off_t)w->synced,
		    (off_t)(w->written - w->synced), SYNC_FILE_RANGE_WRITE);
		w->synced = w->written;
	}
	return 0;
}

/* The thread: the whole file made durable as DIR/<sha256>. */
static void
writer_finish(struct media_writer *w)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char path[MEDIA_PATH_MAX];
	unsigned mdlen = 0;
	int dfd;

	if (w->werr != 0 || w->written == 0)
		return;
	if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != 32) {
		w->werr = -1;
		w->wwhat = "cannot compute SHA-256";
		return;
	}
	util_hex(md, 32, w->sha);
	if (fsync(w->fd) != 0) {
		w->werr = errno;
		w->wwhat = "cannot sync";
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", w->ws->dir, w->sha);
	if (rename(w->tmp, path) != 0) {
		w->werr = errno;
		w->wwhat = "cannot rename";
		return;
	}
	w->tmp[0] = '\0';
	/* The new name, too, must survive a power cut. */
	if ((dfd = open(w->ws->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

/*
 * The thread of w: takes the pieces the loop queues, in order, until told
 * to finish (then the file is made durable: DONE) or to stop.  After a
 * failed write it keeps taking pieces, without writing them.
 */
static void *
writer_main(void *arg)
{
	struct media_writer *w = arg;
	struct chunk *c;
	const char *what = NULL;
	int err;

	CHECK_OBJ(w, WRITER_MAGIC);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->finish && !w->cancel)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->cancel)
			break;
		if ((c = w->head) == NULL) {		/* finish: all written */
			pthread_mutex_unlock(&w->mu);
			writer_finish(w);
			writer_send(w, MEDIA_WRITER_DONE);
			return NULL;
		}
		if ((w->head = c->next) == NULL)
			w->tail = &w->head;
		err = w->werr;
		pthread_mutex_unlock(&w->mu);
		if (err == 0)
			err = writer_put(w, c, &what);
		else
			err = 0;	/* failed before: the piece is dropped */
		pthread_mutex_lock(&w->mu);
		w->queued -= c->len;
		free(c);
		if (err != 0) {
			w->werr = err;
			w->wwhat = what;
			pthread_mutex_unlock(&w->mu);
			writer_send(w, MEDIA_WRITER_FAILED);
			pthread_mutex_lock(&w->mu);
		} else if (w->resume_wanted && w->queued <= QUEUE_LOW) {
			w->resume_wanted = 0;
			pthread_mutex_unlock(&w->mu);
			writer_send(w, MEDIA_WRITER_RESUME);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The loop: what the threads said, to the writers still there. */
static void
writers_cb(evutil_socket_t fd, short what, void *arg)
{
	struct media_writers *ws = arg;
	struct media_writer *w;
	struct wmsg msg;

	(void)what;
	CHECK_OBJ(ws, WRITERS_MAGIC);
	while (read(fd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
		/* A writer freed meanwhile is not asked for any more. */
		TAILQ_FOREACH(w, &ws->live, entry)
			if (w->id == msg.id)
				break;
		if (w == NULL)
			continue;
		if (msg.kind == MEDIA_WRITER_DONE) {
			pthread_join(w->thread, NULL);
			w->running = 0;
		}
		w->fn((enum media_writer_event)msg.kind, w->arg);
	}
}

/*
 * Creates w's partial file, locked until its descriptor is closed, so
 * that no start of another process takes it for a crashed writer's
 * (remove_stale_parts()).  A file such a start removed between the
 * creation and the lock is made again.  Where the file system refuses
 * locks, the file goes unlocked.  0, or -1 with errno set.
 */
static int
writer_create(struct media_writer *w)
{
	struct stat fsb, psb;

	for (int i = 0; i < 3; i++) {
		snprintf(w->tmp, sizeof(w->tmp), "%s/" MEDIA_PART_PREFIX
		    "%ld-XXXXXX", w->ws->dir, (long)getpid());
		if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0)
			return -1;
		if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK)
				return 0;
		} else if (fstat(w->fd, &fsb) == 0 &&
		    stat(w->tmp, &psb) == 0 && fsb.st_dev == psb.st_dev &&
		    fsb.st_ino == psb.st_ino)
			return 0;
		close(w->fd);	/* the other start removes it, or did */
		w->fd = -1;
	}
	errno = EAGAIN;
	return -1;
}

struct media_writer *
media_writer_new(struct media_writers *ws, media_writer_fn *fn, void *arg,
    char *why, size_t whylen)
{
	struct media_writer *w;
	int err = ENOMEM;

	CHECK_OBJ(ws, WRITERS_MAGIC);
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(why, whylen, "out of memory");
		errno = err;
		return NULL;
	}
	w->magic = WRITER_MAGIC;
	w->ws = ws;
	w->id = ++ws->next_id;
	w->fn = fn;
	w->arg = arg;
	w->fd = -1;
	w->tail = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	TAILQ_INSERT_TAIL(&ws->live, w, entry);
	if (writer_create(w) != 0) {
		err = errno;
		snprintf(why, whylen, "cannot create a file: %s",
		    strerror(err));
		w->tmp[0] = '\0';
		goto fail;
	}
	fchmod(w->fd, 0644);		/* as readable as any other file here */
	if ((w->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		snprintf(why, whylen, "cannot compute SHA-256");
		err = ENOMEM;
		goto fail;
	}
	if ((err = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		snprintf(why, whylen, "cannot start a thread: %s",
		    strerror(err));
		goto fail;
	}
	w->running = 1;
	return w;
fail:
	media_writer_free(w);
	errno = err;
	return NULL;
}

enum media_put
media_writer_put(struct media_writer *w, const void *p, size_t len)
{
	struct chunk *c;
	int werr;

	CHECK_OBJ(w, WRITER_MAGIC);
	pthread_mutex_lock(&w->mu);
	werr = w->werr;
	if (werr == 0 && w->queued >= QUEUE_HIGH) {
		/* The disk is behind: curl waits (the piece comes again). */
		w->resume_wanted = 1;
		pthread_mutex_unlock(&w->mu);
		return MEDIA_PUT_FULL;
	}
	pthread_mutex_unlock(&w->mu);
	if (werr != 0)
		return MEDIA_PUT_FAILED;
	if ((c = malloc(sizeof(*c) + len)) == NULL)
		return MEDIA_PUT_NOMEM;
	c->next = NULL;
	c->len = len;
	memcpy(c->data, p, len);
	pthread_mutex_lock(&w->mu);
	*w->tail = c;
	w->tail = &c->next;
	w->queued += len;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return MEDIA_PUT_OK;
}

void
media_writer_finish(struct media_writer *w)
{
	CHECK_OBJ(w, WRITER_MAGIC);
	pthread_mutex_lock(&w->mu);
	w->finish = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
media_writer_stop(struct media_writer *w)
{
	CHECK_OBJ(w, WRITER_MAGIC);
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->cancel = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

int
media_writer_error(struct media_writer *w, char *why, size_t len)
{
	int werr;
	const char *what;

	CHECK_OBJ(w, WRITER_MAGIC);
	pthread_mutex_lock(&w->mu);
	werr = w->werr;
	what = w->wwhat;
	pthread_mutex_unlock(&w->mu);
	if (werr == 0)
		return 0;
	if (werr > 0)
		snprintf(why, len, "%s: %s", what, strerror(werr));
	else
		snprintf(why, len, "%s", what);
	return werr;
}

const char *
media_writer_sha256(const struct media_writer *w)
{
	CHECK_OBJ(w, WRITER_MAGIC);
	return w->sha;
}

void
media_writer_free(struct media_writer *w)
{
	struct chunk *c;

	if (w == NULL)
		return;
	media_writer_stop(w);	/* a file being synced is finished first */
	TAILQ_REMOVE(&w->ws->live, w, entry);
	while ((c = w->head) != NULL) {
		w->head = c->next;
		free(c);
	}
	/*
	 * Removed before its descriptor is closed: its lock is held until
	 * then, so that remove_stale_parts() in another process never takes
	 * it for a crashed writer's in between.
	 */
	if (w->tmp[0] != '\0')
		unlink(w->tmp);
	if (w->fd >= 0)
		close(w->fd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	EVP_MD_CTX_free(w->md);
	memset(w, 0, sizeof(*w));
	free(w);
}
