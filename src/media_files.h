/*
 * What the /media/ file server knows of the mirror's files between
 * requests: each file's identity on disk (device, inode, size, change
 * times), its Content-Type from the database, and for small files their
 * bytes, so that a request costs one lstat(2) instead of an open, a stat,
 * a database query and a close.  Every lookup compares the file on disk
 * with what is kept: a file replaced, rewritten or removed is never
 * answered from what was kept of it.  No file descriptor is kept open.
 */
#ifndef MEDIA_FILES_H
#define MEDIA_FILES_H

#include <stddef.h>
#include <stdint.h>

struct cache;
struct media_files;

#define MEDIA_FILES_MAX		1024		/* files known at once */
#define MEDIA_FILES_SMALL	(64 * 1024)	/* files kept in memory up to */
#define MEDIA_FILES_TYPE_MS	1000		/* Content-Type read again after */

/* One file as a lookup found it; valid until the next call on the set. */
struct media_file {
	uint64_t		 size;
	const char		*type;	/* Content-Type, never NULL */
	const unsigned char	*data;	/* the whole file, or NULL: not kept */
};

/* Keeps at most keep_bytes of small files' bytes (0: none); NULL when out of memory. */
struct media_files	*media_files_new(size_t keep_bytes);
void			 media_files_free(struct media_files *);

/*
 * Looks name up in dir, with its Content-Type from the cache's media rows
 * (application/octet-stream when none is known).  1 with *out filled when
 * it is a regular file, 0 when there is none (a name not of 64 lowercase
 * hex digits, a link, a FIFO...), -1 when its path is too long.
 */
int	media_files_get(struct media_files *, const char *dir, struct cache *,
	    const char *name, int64_t now_ms, struct media_file *out);

/* How many files are known, and how many bytes of them are kept. */
void	media_files_stats(const struct media_files *, size_t *files,
	    size_t *bytes);

/* Whether name is 64 lowercase hex digits: a file name in the directory. */
int	media_name_valid(const char *name);

#endif
