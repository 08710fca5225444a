/*
 * faultio: a disk that fails, for the tests (LD_PRELOAD=faultio.so).  It
 * stands in front of write(2), pwrite(2), fsync(2) and fdatasync(2), the
 * calls SQLite and the media writer make, and fails them with EIO or
 * ENOSPC for the files (and directories) whose path starts with one of the
 * prefixes its control file names; it can also make statvfs(3) say that a
 * disk is nearly full.  The file named by $FAULTIO_CONTROL is read again
 * each time it is replaced (written elsewhere, then renamed), so that a
 * test makes the disk fail and recover while the process runs:
 *
 *	MODE CALLS AFTER [FREE]	off|eio|enospc  write|sync|all  N  [BYTES]
 *	PREFIX			one a line, e.g. /tmp/t/lp.db, /tmp/t/media/
 *
 * The first AFTER matching calls after a read of the file go through; the
 * ones after them fail.  With FREE, statvfs(3) of a path under a prefix
 * says that many bytes are free (whatever MODE).  Each failure made is
 * appended to $FAULTIO_CONTROL.log as "CALL PATH ERRNO".  Sockets, pipes
 * and terminals are never touched (libevent writes to a socket from a
 * signal handler: no lock is taken for them), nor is anything without
 * FAULTIO_CONTROL.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define PREFIX_MAX	8
#define CONTROL_MAX	(PREFIX_MAX * PATH_MAX)

enum { CALL_WRITE = 1, CALL_SYNC = 2 };

typedef ssize_t write_fn(int, const void *, size_t);
typedef ssize_t pwrite_fn(int, const void *, size_t, off_t);
typedef ssize_t pwrite64_fn(int, const void *, size_t, off64_t);
typedef int sync_fn(int);
typedef int statvfs_fn(const char *, struct statvfs *);
typedef int statvfs64_fn(const char *, struct statvfs64 *);

/*
 * The real functions, looked up once before main(): a lazy lookup would
 * race between threads, and dlsym(3) is not async-signal-safe (the first
 * write may come from a signal handler).  A call that comes before (from
 * another library's constructor) goes to the system call itself.
 */
static write_fn *real_write;
static pwrite_fn *real_pwrite;
static pwrite64_fn *real_pwrite64;
static sync_fn *real_fsync, *real_fdatasync;
static statvfs_fn *real_statvfs;
static statvfs64_fn *real_statvfs64;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *control;		/* $FAULTIO_CONTROL, or NULL */
static char logpath[PATH_MAX];

/* What the control file said when it was last read; under mu. */
static struct stat seen_sb;
static int loaded;
static int fail_errno;			/* 0: off */
static int fail_calls;			/* CALL_WRITE | CALL_SYNC */
static unsigned long after, matched;
static unsigned long long free_bytes;
static int free_set;			/* FREE was given */
static char prefix[PREFIX_MAX][PATH_MAX];
static size_t nprefix;

/* The next symbol called name: libc's, or a sanitizer's that came first. */
static void *
next_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (fn == NULL)
		abort();
	return fn;
}

__attribute__((constructor)) static void
faultio_init(void)
{
	real_write = (write_fn *)next_fn("write");
	real_pwrite = (pwrite_fn *)next_fn("pwrite");
	real_pwrite64 = (pwrite64_fn *)next_fn("pwrite64");
	real_fsync = (sync_fn *)next_fn("fsync");
	real_fdatasync = (sync_fn *)next_fn("fdatasync");
	real_statvfs = (statvfs_fn *)next_fn("statvfs");
	real_statvfs64 = (statvfs64_fn *)next_fn("statvfs64");
	control = getenv("FAULTIO_CONTROL");
	if (control != NULL && (*control == '\0' ||
	    (size_t)snprintf(logpath, sizeof(logpath), "%s.log", control) >=
	    sizeof(logpath)))
		control = NULL;
}

/* The next word of *s, ended in place; "" when there is none. */
static char *
word(char **s)
{
	char *w = *s + strspn(*s, " \t"), *end = w + strcspn(w, " \t");

	*s = *end != '\0' ? end + 1 : end;
	*end = '\0';
	return w;
}

/* Reads the control file again when it was replaced; under mu. */
static void
reload(void)
{
	static char buf[CONTROL_MAX];
	struct stat sb;
	char *line, *nl, *mode, *calls, *num, *end;
	ssize_t n;
	int fd;

	/* The file read is the one looked at: no rename in between. */
	if ((fd = open(control, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		loaded = 0;
		fail_errno = 0;
		free_set = 0;
		return;
	}
	if (loaded && sb.st_ino == seen_sb.st_ino && sb.st_dev == seen_sb.st_dev &&
	    sb.st_size == seen_sb.st_size &&
	    sb.st_mtim.tv_sec == seen_sb.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == seen_sb.st_mtim.tv_nsec) {
		close(fd);
		return;
	}
	seen_sb = sb;
	loaded = 1;
	fail_errno = 0;
	free_set = 0;
	nprefix = 0;
	matched = 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	line = buf;
	mode = word(&line);
	calls = word(&line);
	num = word(&line);
	after = strtoul(num, &end, 10);
	if (*num == '\0' || *end != '\0')
		return;
	num = word(&line);
	free_bytes = strtoull(num, &end, 10);
	free_set = *num != '\0' && *end == '\0';
	fail_calls = strcmp(calls, "write") == 0 ? CALL_WRITE :
	    strcmp(calls, "sync") == 0 ? CALL_SYNC :
	    strcmp(calls, "all") == 0 ? CALL_WRITE | CALL_SYNC : 0;
	for (line = nl ? nl + 1 : NULL; line != NULL && *line != '\0' &&
	    nprefix < PREFIX_MAX; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (*line != '\0')
			snprintf(prefix[nprefix++], PATH_MAX, "%s", line);
	}
	fail_errno = strcmp(mode, "eio") == 0 ? EIO :
	    strcmp(mode, "enospc") == 0 ? ENOSPC : 0;
}

/* Appends a line for a failure made to the log; under mu. */
static void
note(const char *call, const char *path, int err)
{
	char line[PATH_MAX + 64];
	int fd, len;

	len = snprintf(line, sizeof(line), "%s %s %s\n", call, path,
	    err == EIO ? "EIO" : "ENOSPC");
	if (len < 0 || (size_t)len >= sizeof(line))
		return;
	if ((fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) >= 0) {
		(void)(real_write != NULL ? real_write(fd, line, (size_t)len) :
		    syscall(SYS_write, fd, line, (size_t)len));
		close(fd);
	}
}

/* The errno call (a CALL_*) on fd is to fail with, or 0. */
static int
fault(int fd, int call, const char *name)
{
	char link[64], path[PATH_MAX];
	struct stat sb;
	ssize_t n;
	int err = 0;

	if (control == NULL || fstat(fd, &sb) != 0 ||
	    (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)))
		return 0;
	pthread_mutex_lock(&mu);
	reload();
	if (fail_errno == 0 || !(fail_calls & call))
		goto done;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		goto done;
	path[n] = '\0';
	for (size_t i = 0; i < nprefix; i++)
		if (strncmp(path, prefix[i], strlen(prefix[i])) == 0) {
			if (matched++ >= after) {
				err = fail_errno;
				note(name, path, err);
			}
			break;
		}
done:
	pthread_mutex_unlock(&mu);
	return err;
}

ssize_t
write(int fd, const void *p, size_t len)
{
	int err;

	if ((err = fault(fd, CALL_WRITE, "write")) != 0) {
		errno = err;
		return -1;
	}
	return real_write != NULL ? real_write(fd, p, len) :
	    syscall(SYS_write, fd, p, len);
}

ssize_t
pwrite(int fd, const void *p, size_t len, off_t off)
{
	int err;

	if ((err = fault(fd, CALL_WRITE, "pwrite")) != 0) {
		errno = err;
		return -1;
	}
	return real_pwrite != NULL ? real_pwrite(fd, p, len, off) :
	    syscall(SYS_pwrite64, fd, p, len, off);
}

ssize_t
pwrite64(int fd, const void *p, size_t len, off64_t off)
{
	int err;

	if ((err = fault(fd, CALL_WRITE, "pwrite64")) != 0) {
		errno = err;
		return -1;
	}
	return real_pwrite64 != NULL ? real_pwrite64(fd, p, len, off) :
	    syscall(SYS_pwrite64, fd, p, len, off);
}

int
fsync(int fd)
{
	int err;

	if ((err = fault(fd, CALL_SYNC, "fsync")) != 0) {
		errno = err;
		return -1;
	}
	return real_fsync != NULL ? real_fsync(fd) : syscall(SYS_fsync, fd);
}

int
fdatasync(int fd)
{
	int err;

	if ((err = fault(fd, CALL_SYNC, "fdatasync")) != 0) {
		errno = err;
		return -1;
	}
	return real_fdatasync != NULL ? real_fdatasync(fd) :
	    syscall(SYS_fdatasync, fd);
}

/*
 * The free bytes statvfs() is to say of path, or -1: the real ones.  A
 * directory is named with a '/' at its end, so that the prefix DIR/
 * stands for it too.
 */
static long long
fake_free(const char *path)
{
	char dir[PATH_MAX + 1];
	long long n = -1;

	if (control == NULL ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/", path) >= sizeof(dir))
		return -1;
	pthread_mutex_lock(&mu);
	reload();
	if (free_set)
		for (size_t i = 0; i < nprefix; i++)
			if (strncmp(dir, prefix[i], strlen(prefix[i])) == 0) {
				n = (long long)free_bytes;
				break;
			}
	pthread_mutex_unlock(&mu);
	return n;
}

int
statvfs(const char *path, struct statvfs *sb)
{
	long long n;
	int rc;

	if (real_statvfs == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((rc = real_statvfs(path, sb)) == 0 && (n = fake_free(path)) >= 0)
		sb->f_bavail = sb->f_bfree = (fsblkcnt_t)n /
		    (sb->f_frsize ? sb->f_frsize : 1);
	return rc;
}

int
statvfs64(const char *path, struct statvfs64 *sb)
{
	long long n;
	int rc;

	if (real_statvfs64 == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((rc = real_statvfs64(path, sb)) == 0 && (n = fake_free(path)) >= 0)
		sb->f_bavail = sb->f_bfree = (fsblkcnt64_t)n /
		    (sb->f_frsize ? sb->f_frsize : 1);
	return rc;
}
