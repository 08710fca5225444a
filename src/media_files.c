/*
 * The /media/ file server's memory of the mirror's files (media_files.h):
 * a hash table of the files looked up lately, least recently used first
 * to go, each with the identity it had on disk, its Content-Type and, for
 * a small file, its bytes.  A lookup lstat(2)s the file and forgets what
 * it kept when the file is not the same any more.  It reads the directory
 * and the database, never writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "media_files.h"
#include "media_writer.h"
#include "util.h"

#define MEDIA_FILES_MAGIC	0x4d46494cu
#define NBUCKETS		1024	/* a power of two */
#define TYPE_MAX		128
#define OCTET_STREAM		"application/octet-stream"

/* One file as it was on disk when it was read. */
struct entry {
	char			 name[MEDIA_SHA256_LEN + 1];
	uint32_t		 hash;
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime, ctime;
	char			 type[TYPE_MAX];
	int64_t			 type_at;	/* when read; 0: read again */
	unsigned char		*data;		/* owned: the bytes, or NULL */
	struct entry		*next;		/* in its bucket */
	TAILQ_ENTRY(entry)	 lru;		/* most recently used first */
};

struct media_files {
	unsigned		 magic;
	struct entry		*buckets[NBUCKETS];	/* owned */
	TAILQ_HEAD(entry_lru, entry) lru;
	size_t			 count;
	size_t			 bytes;		/* of the entries' data */
	size_t			 keep_bytes;	/* at most */
};

/* The name's first 32 bits: a SHA-256 in hex is as good as any hash. */
static uint32_t
hash_of(const char *name)
{
	uint32_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 4 | (uint32_t)(name[i] <= '9' ? name[i] - '0' :
		    name[i] - 'a' + 10);
	return h;
}

/* The link to name's entry (to unlink it), or NULL. */
static struct entry **
find(struct media_files *fs, const char *name, uint32_t hash)
{
	struct entry **link = &fs->buckets[hash & (NBUCKETS - 1)];

	for (; *link != NULL; link = &(*link)->next)
		if ((*link)->hash == hash && strcmp((*link)->name, name) == 0)
			return link;
	return NULL;
}

/* Forgets the entry at link. */
static void
drop(struct media_files *fs, struct entry **link)
{
	struct entry *e = *link;

	*link = e->next;
	TAILQ_REMOVE(&fs->lru, e, lru);
	fs->count--;
	if (e->data != NULL) {
		fs->bytes -= (size_t)e->size;
		free(e->data);
	}
	memset(e, 0, sizeof(*e));
	free(e);
}

/* Forgets the least recently used entry. */
static void
drop_oldest(struct media_files *fs)
{
	struct entry *e = TAILQ_LAST(&fs->lru, entry_lru);
	struct entry **link = find(fs, e->name, e->hash);

	assert(link != NULL);
	drop(fs, link);
}

/* Whether sb is the file e was read from, unchanged. */
static int
same_file(const struct entry *e, const struct stat *sb)
{
	return e->dev == sb->st_dev && e->ino == sb->st_ino &&
	    e->size == sb->st_size &&
	    e->mtime.tv_sec == sb->st_mtim.tv_sec &&
	    e->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	    e->ctime.tv_sec == sb->st_ctim.tv_sec &&
	    e->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

static void
identity(struct entry *e, const struct stat *sb)
{
	e->dev = sb->st_dev;
	e->ino = sb->st_ino;
	e->size = sb->st_size;
	e->mtime = sb->st_mtim;
	e->ctime = sb->st_ctim;
}

/* Reads the len bytes of fd; NULL when they are not all there. */
static unsigned char *
read_all(int fd, size_t len)
{
	unsigned char *buf;
	size_t off = 0;
	ssize_t n;

	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	while (off < len) {
		n = pread(fd, buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return NULL;
		}
		off += (size_t)n;
	}
	return buf;
}

/*
 * Reads path (name's file) into a new entry: its identity and, when it is
 * small, its bytes.  NULL when it is not a regular file or cannot be read.
 */
static struct entry *
load(struct media_files *fs, const char *path, const char *name,
    uint32_t hash)
{
	struct entry *e = NULL;
	struct stat sb, after;
	int fd;

	/* Not a link, and a FIFO put there must not block the loop. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0) {
		if (errno != ENOENT)
			log_warn("media: %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (e = calloc(1, sizeof(*e))) == NULL)
		goto done;
	memcpy(e->name, name, MEDIA_SHA256_LEN + 1);
	e->hash = hash;
	identity(e, &sb);
	if ((uint64_t)sb.st_size <= MEDIA_FILES_SMALL &&
	    (uint64_t)sb.st_size <= fs->keep_bytes) {
		while (fs->count > 0 &&
		    fs->bytes + (size_t)sb.st_size > fs->keep_bytes)
			drop_oldest(fs);
		e->data = read_all(fd, (size_t)sb.st_size);
		/* Changed while it was read: its bytes are not kept. */
		if (e->data != NULL && (fstat(fd, &after) != 0 ||
		    !same_file(e, &after))) {
			free(e->data);
			e->data = NULL;
			identity(e, &after);
		}
		if (e->data != NULL)
			fs->bytes += (size_t)e->size;
	}
done:
	close(fd);
	return e;
}

struct media_files *
media_files_new(size_t keep_bytes)
{
	struct media_files *fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->magic = MEDIA_FILES_MAGIC;
	fs->keep_bytes = keep_bytes;
	TAILQ_INIT(&fs->lru);
	return fs;
}

void
media_files_free(struct media_files *fs)
{
	if (fs == NULL)
		return;
	CHECK_OBJ(fs, MEDIA_FILES_MAGIC);
	while (fs->count > 0)
		drop_oldest(fs);
	memset(fs, 0, sizeof(*fs));
	free(fs);
}

int
media_files_get(struct media_files *fs, const char *dir, struct cache *cache,
    const char *name, int64_t now_ms, struct media_file *out)
{
	char path[MEDIA_PATH_MAX];
	struct entry **link, *e;
	struct stat sb;
	uint32_t hash;
	int n;

	CHECK_OBJ(fs, MEDIA_FILES_MAGIC);
	/* The name is all a request chooses: it cannot leave the directory. */
	if (!media_name_valid(name))
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	hash = hash_of(name);
	link = find(fs, name, hash);
	if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (link != NULL)
			drop(fs, link);
		return 0;
	}
	if (link != NULL && !same_file(*link, &sb)) {
		drop(fs, link);
		link = NULL;
	}
	if (link != NULL) {
		e = *link;
		TAILQ_REMOVE(&fs->lru, e, lru);
	} else {
		if ((e = load(fs, path, name, hash)) == NULL)
			return 0;
		while (fs->count >= MEDIA_FILES_MAX)
			drop_oldest(fs);
		e->next = fs->buckets[hash & (NBUCKETS - 1)];
		fs->buckets[hash & (NBUCKETS - 1)] = e;
		fs->count++;
	}
	TAILQ_INSERT_HEAD(&fs->lru, e, lru);
	/* Rows come and go with jobs: the type is read again now and then. */
	if (e->type_at == 0 || now_ms - e->type_at >= MEDIA_FILES_TYPE_MS ||
	    now_ms < e->type_at) {
		switch (cache_media_type(cache, name, e->type, sizeof(e->type))) {
		case 1:
			e->type_at = now_ms;
			break;
		case 0:
			e->type[0] = '\0';
			e->type_at = now_ms;
			break;
		default:	/* the database failed: ask again next time */
			e->type[0] = '\0';
			e->type_at = 0;
			break;
		}
		if (e->type[0] == '\0')
			snprintf(e->type, sizeof(e->type), OCTET_STREAM);
	}
	out->size = (uint64_t)e->size;
	out->type = e->type;
	out->data = e->data;
	return 1;
}

void
media_files_stats(const struct media_files *fs, size_t *files, size_t *bytes)
{
	CHECK_OBJ(fs, MEDIA_FILES_MAGIC);
	*files = fs->count;
	*bytes = fs->bytes;
}

int
media_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return i == MEDIA_SHA256_LEN;
}
