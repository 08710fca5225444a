/*
 * GET and HEAD /media/{sha256}: the files of the mirror's directory, sent
 * from the kernel (a file segment, never read into memory), with the
 * Content-Type recorded at download, a strong ETag (the name is the
 * content's hash), If-None-Match, and one byte range (If-Range honoured).
 * It only reads: what is in the directory is media.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cache.h"
#include "log.h"
#include "media.h"
#include "media_serve.h"
#include "reply.h"
#include "util.h"

/*
 * A decimal number at *p, advancing p; one too large for 64 bits is
 * UINT64_MAX (past the end of any file).  -1 when there is none.
 */
static int
range_num(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
		    n * 10 + (uint64_t)(*s - '0');
	*p = s;
	*out = n;
	return 0;
}

enum media_range
media_serve_parse_range(const char *h, uint64_t size, uint64_t *first,
    uint64_t *last)
{
	uint64_t a, b;
	const char *p;

	if (h == NULL || strncasecmp(h, "bytes=", 6) != 0)
		return RANGE_NONE;
	p = h + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '-') {			/* suffix: the last b bytes */
		p++;
		if (range_num(&p, &b) != 0)
			return RANGE_NONE;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return RANGE_NONE;
		if (b == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_OK;
	}
	if (range_num(&p, &a) != 0 || *p++ != '-')
		return RANGE_NONE;
	b = UINT64_MAX;
	if (*p >= '0' && *p <= '9' && range_num(&p, &b) != 0)
		return RANGE_NONE;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || b < a)		/* several ranges, or invalid */
		return RANGE_NONE;
	if (a >= size)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return RANGE_OK;
}

/* Opens DIR/name if it is a regular file (its size into *size); else -1. */
static int
open_file(struct media *m, const char *name, uint64_t *size)
{
	char path[MEDIA_PATH_MAX];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", media_dir(m), name);
	/* Not a link, and a FIFO put there must not block the loop. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0) {
		if (errno != ENOENT)
			log_warn("media: %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return fd;
}

void
media_serve(struct proxy *px, struct media *m, struct evhttp_request *req,
    const char *name, const struct reply_info *ri)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	enum media_range r = RANGE_NONE;
	struct evbuffer *body = NULL;			/* owned */
	struct evbuffer_file_segment *seg;
	const char *v, *error = "Not found";
	char ct[128], etag[MEDIA_SHA256_LEN + 3], cr[80];
	uint64_t first = 0, last = 0, size = 0;
	int fd = -1, rc, status = 404;			/* fd owned */

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		status = 405;
		goto done;
	}
	/* The name is all a request chooses, and it cannot leave the directory. */
	if (m == NULL || !media_name_valid(name) ||
	    (fd = open_file(m, name, &size)) < 0)
		goto done;
	snprintf(etag, sizeof(etag), "\"%s\"", name);
	if (cache_media_type(media_cache(m), name, ct, sizeof(ct)) != 1 ||
	    ct[0] == '\0')
		snprintf(ct, sizeof(ct), "application/octet-stream");
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Accept-Ranges", "bytes");
	/* The name is the content's hash: it never changes. */
	evhttp_add_header(h, "Cache-Control", "public, max-age=31536000, immutable");
	/* Whatever the CDN called it, it is never a page of this origin. */
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "sandbox");
	/* If-None-Match comes before Range (RFC 9110 13.2.2). */
	if ((v = evhttp_find_header(in, "If-None-Match")) != NULL &&
	    util_etag_listed(v, etag)) {
		evhttp_add_header(h, "Content-Type", ct);
		status = 304;
		error = NULL;
		goto done;
	}
	/* If-Range with another validator: the whole file (RFC 9110 13.1.5). */
	v = evhttp_find_header(in, "If-Range");
	if (v == NULL || strcmp(v, etag) == 0)
		r = media_serve_parse_range(evhttp_find_header(in, "Range"),
		    size, &first, &last);
	if (r == RANGE_UNSATISFIABLE) {
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		evhttp_add_header(h, "Content-Range", cr);
		status = 416;
		error = "Range not satisfiable";
		goto done;
	}
	evhttp_add_header(h, "Content-Type", ct);
	if (r == RANGE_OK) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
		    (unsigned long long)first, (unsigned long long)last,
		    (unsigned long long)size);
		evhttp_add_header(h, "Content-Range", cr);
	} else {
		first = 0;
		last = size > 0 ? size - 1 : 0;
	}
	/*
	 * A buffer that drains to a socket keeps the file as a sendfile
	 * segment; any other would map the file into memory whole.
	 */
	status = 503;
	error = "Out of memory";
	if ((body = evbuffer_new()) == NULL ||
	    evbuffer_set_flags(body, EVBUFFER_FLAG_DRAINS_TO_FD) != 0)
		goto done;
	if (size > 0) {
		error = "Cannot read the file";
		if ((seg = evbuffer_file_segment_new(fd, (ev_off_t)first,
		    (ev_off_t)(last - first + 1), EVBUF_FS_CLOSE_ON_FREE)) == NULL)
			goto done;
		fd = -1;		/* the segment closes it */
		/* The segment's offset is first already. */
		rc = evbuffer_add_file_segment(body, seg, 0,
		    (ev_off_t)(last - first + 1));
		evbuffer_file_segment_free(seg);	/* the buffer holds it */
		if (rc != 0)
			goto done;
	}
	status = r == RANGE_OK ? 206 : 200;
	error = NULL;
done:
	if (fd >= 0)
		close(fd);
	/* An error is no file: not the file's type, not cached for a year. */
	if (error != NULL) {
		evhttp_remove_header(h, "Content-Type");
		evhttp_remove_header(h, "Cache-Control");
	}
	if (status == 405)
		reply_not_allowed(px, req, "GET, HEAD", ri);
	else if (error != NULL)
		reply_error(px, req, status, error, ri);
	else
		reply_send(px, req, status, body, ri);
	if (body != NULL)
		evbuffer_free(body);
}
