/*
 * GET and HEAD /media/{sha256}: the files of the mirror's directory, with
 * the Content-Type recorded at download, a strong ETag (the name is the
 * content's hash), If-None-Match, and one byte range (If-Range honoured).
 * A small file comes from what media_files.c keeps of it, and a plain
 * GET or HEAD of one is answered before evhttp sees the request
 * (media_serve_fast()); a larger one is sent from the kernel (a file
 * segment, never read into memory).  It only reads: what is in the
 * directory is media.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "framer.h"
#include "head.h"
#include "log.h"
#include "media.h"
#include "media_files.h"
#include "media_serve.h"
#include "metrics.h"
#include "proxy.h"
#include "reply.h"
#include "route.h"
#include "util.h"

/* The headers media_serve() gives every file, up to its Content-Type. */
#define FILE_HEADERS \
	"Accept-Ranges: bytes\r\n" \
	"Cache-Control: public, max-age=31536000, immutable\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Content-Security-Policy: sandbox\r\n" \
	"Content-Type: "

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
	struct media_file file;
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
	    media_files_get(media_files(m), media_dir(m), media_cache(m), name,
	    util_mono_ms(), &file) != 1)
		goto done;
	size = file.size;
	/* A file not kept in memory is sent from the kernel. */
	if (file.data == NULL && (fd = open_file(m, name, &size)) < 0)
		goto done;
	snprintf(etag, sizeof(etag), "\"%s\"", name);
	snprintf(ct, sizeof(ct), "%s", file.type);
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
	if (size > 0 && file.data != NULL) {
		if (evbuffer_add(body, file.data + first, last - first + 1) != 0)
			goto done;
	} else if (size > 0) {
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

/* The fast answer's head, around its name and its Content-Type. */
#define HEAD_START	"HTTP/1.1 200 OK\r\nETag: \""
#define HEAD_MIDDLE	"\"\r\n" FILE_HEADERS

/* Copies len bytes to w; returns the end. */
static char *
put(char *w, const char *s, size_t len)
{
	memcpy(w, s, len);
	return w + len;
}

/*
 * Whether the head's header lines have one named name (len bytes); the
 * framer refused folded lines and blanks before the colon already.
 */
static int
has_header(const char *p, const struct head *h, const char *name, size_t len)
{
	const char *s = p + h->line, *end = p + h->len, *nl;

	/* The request line first, then a header a line. */
	while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		s = nl + 1;
		if ((size_t)(end - s) > len && s[len] == ':' &&
		    strncasecmp(s, name, len) == 0)
			return 1;
	}
	return 0;
}

/* Whether a header value can be written as it is (no control bytes). */
static int
clean_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

int
media_serve_fast(struct proxy *px, struct media *m, struct framer *f,
    const struct head *h, const char *p)
{
	static const char prefix[] = ROUTE_MEDIA_PREFIX;
	const size_t plen = sizeof(prefix) - 1;
	const char *target = p + h->target, *date;
	char name[MEDIA_SHA256_LEN + 1];
	char head[sizeof(HEAD_START) + MEDIA_SHA256_LEN + sizeof(HEAD_MIDDLE) +
	    128 + 64 + 24 + 64], *w;
	struct media_file file;
	struct reply_info ri;
	struct iovec iov[2];
	size_t dlen, tlen;
	int kind, is_head;

	if (m == NULL || h->target_len != plen + MEDIA_SHA256_LEN ||
	    memcmp(target, prefix, plen) != 0)
		return 0;
	/* What the route would answer otherwise than 200 goes to it. */
	if (reply_draining(px) || (kind = head_plain_read(p, h)) == 0)
		return 0;
	is_head = kind == 2;
	if (has_header(p, h, "Range", 5) || has_header(p, h, "If-Range", 8))
		return 0;
	memcpy(name, target + plen, MEDIA_SHA256_LEN);
	name[MEDIA_SHA256_LEN] = '\0';
	/* A name that is not a file's is not found (and left to the route). */
	if (media_files_get(media_files(m), media_dir(m), media_cache(m), name,
	    util_mono_ms(), &file) != 1 || file.data == NULL ||
	    strlen(file.type) >= 128 || !clean_value(file.type))
		return 0;
	date = util_http_date(util_now_ms(), &dlen);
	tlen = strlen(file.type);
	w = head;
	w = put(w, HEAD_START, sizeof(HEAD_START) - 1);
	w = put(w, name, MEDIA_SHA256_LEN);
	w = put(w, HEAD_MIDDLE, sizeof(HEAD_MIDDLE) - 1);
	w = put(w, file.type, tlen);
	w = put(w, "\r\nDate: ", 8);
	w = put(w, date, dlen);
	w = put(w, "\r\nContent-Length: ", 18);
	w += snprintf(w, 24, "%llu", (unsigned long long)file.size);
	w = put(w, "\r\n\r\n", 4);
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)(w - head);
	iov[1].iov_base = (void *)file.data;
	iov[1].iov_len = (size_t)file.size;
	framer_send(f, iov, is_head ? 1 : 2);

	memset(&ri, 0, sizeof(ri));
	reply_log_framed(px, f, is_head, target, h->target_len, 200, &ri);
	return 1;
}
