/*
 * Unit tests of the media mirror's decisions: Range headers (RFC 9110
 * 14.2), file names, and the media rows of the cache: which URLs a job
 * record yields, the download queue and its back-off, counting, import,
 * link rewriting and the files purge may remove; and what the file server
 * keeps of the files (media_files.c), in a temporary directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>

#include "cache.h"
#include "media.h"
#include "media_files.h"
#include "media_serve.h"
#include "record.h"

/* ---------------------------------------------------------------- Range */

struct range_case {
	const char		*header;
	uint64_t		 size;
	enum media_range	 want;
	uint64_t		 first, last;
};

static const struct range_case range_cases[] = {
	{ NULL, 100, RANGE_NONE, 0, 0 },
	{ "bytes=0-9", 100, RANGE_OK, 0, 9 },
	{ "bytes=10-19", 100, RANGE_OK, 10, 19 },
	{ "bytes=90-", 100, RANGE_OK, 90, 99 },
	{ "bytes=90-1000", 100, RANGE_OK, 90, 99 },
	{ "bytes=99-99", 100, RANGE_OK, 99, 99 },
	{ "bytes=-10", 100, RANGE_OK, 90, 99 },
	{ "bytes=-100", 100, RANGE_OK, 0, 99 },
	{ "bytes=-1000", 100, RANGE_OK, 0, 99 },
	{ "BYTES=0-0", 100, RANGE_OK, 0, 0 },
	{ "bytes= 5-6", 100, RANGE_OK, 5, 6 },
	{ "bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=100-200", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-5", 0, RANGE_UNSATISFIABLE, 0, 0 },
	/* malformed, several ranges, other units: the whole file */
	{ "bytes=0-1,3-4", 100, RANGE_NONE, 0, 0 },
	{ "bytes=9-2", 100, RANGE_NONE, 0, 0 },
	{ "bytes=abc", 100, RANGE_NONE, 0, 0 },
	{ "bytes=", 100, RANGE_NONE, 0, 0 },
	{ "bytes=-", 100, RANGE_NONE, 0, 0 },
	{ "bytes=1-2-3", 100, RANGE_NONE, 0, 0 },
	{ "bytes=+1-2", 100, RANGE_NONE, 0, 0 },
	{ "bytes=0x10-20", 100, RANGE_NONE, 0, 0 },
	{ "bytes 0-9", 100, RANGE_NONE, 0, 0 },
	{ "items=0-9", 100, RANGE_NONE, 0, 0 },
	/* numbers past 64 bits: past the end of any file */
	{ "bytes=99999999999999999999-", 100, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-99999999999999999999", 100, RANGE_OK, 0, 99 },
	{ "bytes=0-18446744073709551615", 100, RANGE_OK, 0, 99 },
	{ "bytes=-99999999999999999999", 100, RANGE_OK, 0, 99 },
	{ "bytes=18446744073709551615-18446744073709551615", 100,
	    RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=1844674407370955161-", 100, RANGE_UNSATISFIABLE, 0, 0 },
};

START_TEST(test_range)
{
	const struct range_case *c = &range_cases[_i];
	uint64_t first = 12345, last = 12345;
	enum media_range r;

	r = media_serve_parse_range(c->header, c->size, &first, &last);
	ck_assert_msg(r == c->want, "'%s' on %llu bytes: %d, want %d",
	    c->header ? c->header : "(none)", (unsigned long long)c->size,
	    (int)r, (int)c->want);
	if (r == RANGE_OK) {
		ck_assert_uint_eq(first, c->first);
		ck_assert_uint_eq(last, c->last);
	}
}
END_TEST

START_TEST(test_name)
{
	char name[80];

	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert_int_eq(media_name_valid(name), 1);
	memcpy(name, "0123456789abcdef", 16);
	ck_assert_int_eq(media_name_valid(name), 1);
	name[0] = 'A';
	ck_assert_int_eq(media_name_valid(name), 0);
	name[0] = 'g';
	ck_assert_int_eq(media_name_valid(name), 0);
	name[0] = '.';
	ck_assert_int_eq(media_name_valid(name), 0);
	name[0] = '0';
	name[63] = '\0';
	ck_assert_int_eq(media_name_valid(name), 0);
	name[63] = 'a';
	name[64] = 'a';
	name[65] = '\0';
	ck_assert_int_eq(media_name_valid(name), 0);
	ck_assert_int_eq(media_name_valid(""), 0);
	ck_assert_int_eq(media_name_valid("../etc/passwd"), 0);
}
END_TEST

/* Retries: 2 s after the first failure, doubling; none after the sixth. */
START_TEST(test_next_attempt)
{
	static const int64_t wait[] = { 2000, 4000, 8000, 16000, 32000 };
	int64_t t = 1000000;

	for (int i = 1; i <= 5; i++)
		ck_assert_int_eq(media_next_attempt(i, t), t + wait[i - 1]);
	ck_assert_int_eq(media_next_attempt(MEDIA_ATTEMPTS, t), -1);
	ck_assert_int_eq(media_next_attempt(MEDIA_ATTEMPTS + 1, t), -1);
	ck_assert_int_eq(media_next_attempt(0, t), -1);
}
END_TEST

/* ---------------------------------------------------------------- rows */

#define T	1700000000000LL
#define TOK	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA1	"1111111111111111111111111111111111111111111111111111111111111111"
#define SHA2	"2222222222222222222222222222222222222222222222222222222222222222"
#define CDN	"https://storage.cdn-luma.com/"

static const char job_video[] =
	"{\"jobid\":\"j1\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":{\"video\":{\"media_type\":\"video\",\"url\":\"" CDN "v.mp4\","
	"\"duration\":5.04},\"video_hdr_exr\":null,"
	"\"thumbnail\":{\"url\":\"" CDN "t.jpg\"},"
	"\"last_frame\":{\"url\":\"" CDN "t.jpg\"}},\"credits\":{\"dm_usage\":20}}";
/* Only http(s) URLs of the known fields count; odd shapes are skipped. */
static const char job_odd[] =
	"{\"jobid\":\"j2\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":{\"video\":\"" CDN "v.mp4\","
	"\"thumbnail\":{\"url\":\"file:///etc/passwd\"},"
	"\"last_frame\":{\"url\":42},\"image\":{\"url\":\"" CDN "i.png\"},"
	"\"other\":{\"url\":\"" CDN "o.png\"}}}";
/* Fields or url keys given twice: parsers disagree on which counts. */
static const char job_dup[] =
	"{\"jobid\":\"j6\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":{\"video\":{\"url\":\"" CDN "a.mp4\"},"
	"\"video\":{\"url\":\"" CDN "b.mp4\"},"
	"\"thumbnail\":{\"url\":\"" CDN "a.jpg\",\"url\":\"" CDN "b.jpg\"},"
	"\"image\":{\"url\":\"" CDN "i.png\"}}}";
static const char job_failed[] =
	"{\"jobid\":\"j3\",\"type\":\"video\",\"status\":\"failed\","
	"\"response\":{\"video\":{\"url\":\"" CDN "f.mp4\"}}}";
static const char job_nothing[] =
	"{\"jobid\":\"j4\",\"type\":\"video\",\"status\":\"completed\","
	"\"response\":null}";

static struct cache *
open_mem(void)
{
	char err[256];
	struct cache *c = cache_open(":memory:", err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static void
store(struct cache *c, const char *jobid, const char *body)
{
	struct record rec;

	ck_assert_int_eq(cache_parse_record(c, body, strlen(body), &rec), 0);
	ck_assert_int_eq(cache_store_job(c, jobid, TOK, &rec, NULL, body,
	    strlen(body), T), 0);
}

/* Collects "field url state" lines. */
static int
collect(const struct cache_media *m, void *arg)
{
	char line[512];

	snprintf(line, sizeof(line), "%s %s %s%s%s\n", m->field ? m->field : "-",
	    m->url, m->state, m->sha256 ? " " : "", m->sha256 ? m->sha256 : "");
	strcat(arg, line);
	return 0;
}

START_TEST(test_scan)
{
	struct cache *c = open_mem();
	char got[4096] = "", after[64];
	int n;

	store(c, "j1", job_video);
	store(c, "j2", job_odd);
	store(c, "j3", job_failed);
	store(c, "j4", job_nothing);
	store(c, "j5", job_failed);
	/* Two jobs looked at per call; the failed ones are not scanned. */
	after[0] = '\0';
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 2, T,
	    &n), 2);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(after, "j2");
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 2, T,
	    &n), 2);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(after, "j4");
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 2, T,
	    &n), 1);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(after, "j5");
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 2, T,
	    &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(after, "j5");
	/* Walked again: every job looked at, none scanned twice. */
	after[0] = '\0';
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 10, T,
	    &n), 5);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(cache_media_job(c, "j1", collect, got), 0);
	ck_assert_str_eq(got,
	    "last_frame " CDN "t.jpg pending\n"
	    "thumbnail " CDN "t.jpg pending\n"
	    "video " CDN "v.mp4 pending\n");
	got[0] = '\0';
	ck_assert_int_eq(cache_media_job(c, "j2", collect, got), 0);
	ck_assert_str_eq(got, "image " CDN "i.png pending\n");
	got[0] = '\0';
	ck_assert_int_eq(cache_media_job(c, "j3", collect, got), 0);
	ck_assert_str_eq(got, "");
	store(c, "j6", job_dup);
	ck_assert_int_eq(cache_media_scan(c, "j6", T), 1);
	ck_assert_int_eq(cache_media_job(c, "j6", collect, got), 0);
	ck_assert_str_eq(got, "image " CDN "i.png pending\n");
	/* Scanning again finds the same and adds nothing. */
	ck_assert_int_eq(cache_media_scan(c, "j1", T + 5), 3);
	cache_close(c);
}
END_TEST

struct due {
	char	urls[1024];
	int	n;
};

static int
due_collect(const struct cache_media *m, void *arg)
{
	struct due *d = arg;
	char line[300];

	snprintf(line, sizeof(line), "%s/%d%s ", m->url, m->attempts,
	    m->sha256 ? "/known" : "");
	strcat(d->urls, line);
	d->n++;
	return 0;
}

START_TEST(test_queue)
{
	struct cache *c = open_mem();
	struct due d;
	int64_t m, p, f;

	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_counts(c, &m, &p, &f), 0);
	ck_assert_int_eq(m * 100 + p * 10 + f, 20);	/* two URLs pending */
	ck_assert_int_eq(cache_media_next_at(c, T - 1), T);
	ck_assert_int_eq(cache_media_next_at(c, T), -1);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T - 1, 10, due_collect, &d), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_int_eq(cache_media_due(c, T, 10, due_collect, &d), 0);
	ck_assert_str_eq(d.urls, CDN "t.jpg/0 " CDN "v.mp4/0 ");

	/* A failure waits for its back-off, and counts as failed. */
	ck_assert_int_eq(cache_media_failed(c, CDN "v.mp4", "HTTP 404", 1,
	    T + 2000, T), 0);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T + 1999, 10, due_collect, &d), 0);
	ck_assert_str_eq(d.urls, CDN "t.jpg/0 ");
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T + 2000, 10, due_collect, &d), 0);
	ck_assert_str_eq(d.urls, CDN "t.jpg/0 " CDN "v.mp4/1 ");
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T + 2000, 1, due_collect, &d), 0);
	ck_assert_int_eq(d.n, 1);
	ck_assert_int_eq(cache_media_counts(c, &m, &p, &f), 0);
	ck_assert_int_eq(m * 100 + p * 10 + f, 11);

	/* Mirrored: off the queue; a late failure does not undo it. */
	ck_assert_int_eq(cache_media_mirrored(c, CDN "t.jpg", SHA1, 16,
	    "image/jpeg", "/m", T + 10), 1);
	ck_assert_int_eq(cache_media_failed(c, CDN "t.jpg", "late", 1, T, T), 0);
	ck_assert_int_eq(cache_media_counts(c, &m, &p, &f), 0);
	ck_assert_int_eq(m * 100 + p * 10 + f, 101);
	ck_assert_int_eq(cache_media_next_at(c, T), T + 2000);

	/* Given up: never due again, until reset (the mirror command). */
	ck_assert_int_eq(cache_media_failed(c, CDN "v.mp4", "HTTP 404", 6, -1,
	    T), 0);
	ck_assert_int_eq(cache_media_next_at(c, 0), -1);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, INT64_MAX, 10, due_collect, &d), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_int_eq(cache_media_reset(c, CDN "v.mp4", T + 50), 0);
	ck_assert_int_eq(cache_media_due(c, T + 50, 10, due_collect, &d), 0);
	ck_assert_str_eq(d.urls, CDN "v.mp4/0 ");
	cache_close(c);
}
END_TEST

START_TEST(test_type)
{
	struct cache *c = open_mem();
	char ct[64];

	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_type(c, SHA1, ct, sizeof(ct)), 0);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "v.mp4", SHA1, 10, NULL,
	    "/m", T), 1);
	ck_assert_int_eq(cache_media_type(c, SHA1, ct, sizeof(ct)), 1);
	ck_assert_str_eq(ct, "");
	ck_assert_int_eq(cache_media_mirrored(c, CDN "t.jpg", SHA1, 10,
	    "video/mp4", "/m", T), 1);
	ck_assert_int_eq(cache_media_type(c, SHA1, ct, sizeof(ct)), 1);
	ck_assert_str_eq(ct, "video/mp4");
	cache_close(c);
}
END_TEST

START_TEST(test_import)
{
	struct cache *c = open_mem();
	char got[2048] = "";
	struct due d;

	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_import(c, "j1", CDN "v.mp4", SHA2, 99,
	    "video/mp4", T), 0);
	ck_assert_int_eq(cache_media_import(c, "j1", CDN "t.jpg", NULL, 0,
	    NULL, T), 0);
	/* A URL the record does not have is not recorded. */
	ck_assert_int_eq(cache_media_import(c, "j1", CDN "x.mp4", SHA2, 1,
	    NULL, T), 1);
	ck_assert_int_eq(cache_media_job(c, "j1", collect, got), 0);
	/* Known bytes, not here yet: pending, due at once. */
	ck_assert_str_eq(got,
	    "last_frame " CDN "t.jpg pending\n"
	    "thumbnail " CDN "t.jpg pending\n"
	    "video " CDN "v.mp4 pending " SHA2 "\n");
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T, 10, due_collect, &d), 0);
	ck_assert_str_eq(d.urls, CDN "t.jpg/0 " CDN "v.mp4/0/known ");
	/* What is mirrored here stays so. */
	ck_assert_int_eq(cache_media_mirrored(c, CDN "t.jpg", SHA1, 5, NULL,
	    "/m", T), 1);
	ck_assert_int_eq(cache_media_import(c, "j1", CDN "t.jpg", SHA2, 99,
	    NULL, T), 0);
	got[0] = '\0';
	ck_assert_int_eq(cache_media_job(c, "j1", collect, got), 0);
	ck_assert_ptr_nonnull(strstr(got, "thumbnail " CDN "t.jpg mirrored " SHA1));
	cache_close(c);
}
END_TEST

/* A refetch renews a URL: the new one takes over the mirrored file. */
START_TEST(test_renewed_url)
{
	static const char renewed[] =
		"{\"jobid\":\"j1\",\"type\":\"video\",\"status\":\"completed\","
		"\"response\":{\"video\":{\"url\":\"" CDN "v.mp4?sig=2\"}}}";
	struct cache *c = open_mem();
	char got[2048] = "";
	struct due d;

	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "v.mp4", SHA1, 7,
	    "video/mp4", "/m", T), 1);
	store(c, "j1", renewed);
	ck_assert_int_eq(cache_media_scan(c, "j1", T + 1), 1);
	ck_assert_int_eq(cache_media_job(c, "j1", collect, got), 0);
	ck_assert_str_eq(got, "video " CDN "v.mp4?sig=2 mirrored " SHA1 "\n");
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_media_due(c, T + 1, 10, due_collect, &d), 0);
	ck_assert_int_eq(d.n, 0);
	cache_close(c);
}
END_TEST

/* export --media of a job never scanned: its URLs, nothing known. */
START_TEST(test_listed)
{
	struct cache *c = open_mem();
	char got[2048] = "";

	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_job(c, "j1", collect, got), 0);
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(cache_media_listed(c, "j1", collect, got), 0);
	ck_assert_str_eq(got,
	    "last_frame " CDN "t.jpg pending\n"
	    "thumbnail " CDN "t.jpg pending\n"
	    "video " CDN "v.mp4 pending\n");
	got[0] = '\0';
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "v.mp4", SHA1, 7, NULL,
	    "/m", T), 1);
	ck_assert_int_eq(cache_media_listed(c, "j1", collect, got), 0);
	ck_assert_str_eq(got,
	    "last_frame " CDN "t.jpg pending\n"
	    "thumbnail " CDN "t.jpg pending\n"
	    "video " CDN "v.mp4 mirrored " SHA1 "\n");
	cache_close(c);
}
END_TEST

static int
gc_collect(const char *dir, const char *sha, void *arg)
{
	char line[300];

	snprintf(line, sizeof(line), "%s/%s\n", dir, sha);
	strcat(arg, line);
	return 0;
}

START_TEST(test_gc)
{
	static const char other[] =
		"{\"jobid\":\"j5\",\"type\":\"video\",\"status\":\"completed\","
		"\"response\":{\"video\":{\"url\":\"" CDN "v.mp4\"},"
		"\"thumbnail\":{\"url\":\"" CDN "t5.jpg\"}}}";
	struct cache *c = open_mem();
	char got[2048] = "", after[64] = "";
	int64_t m, p, f;
	int n;

	store(c, "j1", job_video);
	store(c, "j5", other);
	ck_assert_int_eq(cache_media_scan_some(c, after, sizeof(after), 10, T,
	    &n), 2);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "v.mp4", SHA1, 1, NULL,
	    "/m", T), 1);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "t.jpg", SHA2, 1, NULL,
	    "/m", T), 1);
	/* t5.jpg has the same bytes as j1's thumbnail. */
	ck_assert_int_eq(cache_media_mirrored(c, CDN "t5.jpg", SHA2, 1, NULL,
	    "/m2", T), 1);

	ck_assert_int_eq(cache_begin(c), 0);
	ck_assert_int_eq(cache_purge_job(c, "j1"), 1);
	ck_assert_int_eq(cache_media_gc(c, gc_collect, got), 0);
	ck_assert_int_eq(cache_commit(c), 0);
	ck_assert_str_eq(got, "");	/* v.mp4 is j5's too; SHA2 is t5's */
	ck_assert_int_eq(cache_media_counts(c, &m, &p, &f), 0);
	ck_assert_int_eq(m, 2);

	ck_assert_int_eq(cache_begin(c), 0);
	ck_assert_int_eq(cache_purge_job(c, "j5"), 1);
	ck_assert_int_eq(cache_media_gc(c, gc_collect, got), 0);
	ck_assert_int_eq(cache_commit(c), 0);
	ck_assert_str_eq(got, "/m/" SHA1 "\n/m2/" SHA2 "\n");
	ck_assert_int_eq(cache_media_counts(c, &m, &p, &f), 0);
	ck_assert_int_eq(m + p + f, 0);
	cache_close(c);
}
END_TEST

/* Rewriting reads the stored body by key, and only the version answered. */
START_TEST(test_rewrite)
{
	static const char want[] =
		"{\"jobid\":\"j1\",\"type\":\"video\",\"status\":\"completed\","
		"\"response\":{\"video\":{\"media_type\":\"video\",\"url\":"
		"\"http://h/media/" SHA1 "\",\"duration\":5.04},"
		"\"video_hdr_exr\":null,"
		"\"thumbnail\":{\"url\":\"http://h/media/" SHA2 "\"},"
		"\"last_frame\":{\"url\":\"" CDN "t.jpg\"}},"
		"\"credits\":{\"dm_usage\":20}}";
	struct cache *c = open_mem();
	struct evbuffer *out = evbuffer_new();
	const char *paths[] = { "$.response.video.url", "$.response.thumbnail.url" };
	const char *values[] = { "http://h/media/" SHA1, "http://h/media/" SHA2 };
	struct cache_row row;
	char etag[ETAG_LEN + 1];
	const char *got;

	ck_assert_ptr_nonnull(out);
	store(c, "j1", job_video);
	record_etag(job_video, strlen(job_video), etag);
	ck_assert_int_eq(cache_media_rewrite(c, "j1", etag, paths, values, 2,
	    out), 1);
	evbuffer_add(out, "", 1);
	got = (const char *)evbuffer_pullup(out, -1);
	ck_assert_ptr_nonnull(strstr(got, "\"video\":{\"media_type\":\"video\","
	    "\"url\":\"http://h/media/" SHA1 "\",\"duration\":5.04}"));
	ck_assert_ptr_nonnull(strstr(got, "\"thumbnail\":{\"url\":\"http://h/media/"
	    SHA2 "\"}"));
	/* The last frame had the same URL but was not asked for. */
	ck_assert_ptr_nonnull(strstr(got, "\"last_frame\":{\"url\":\"" CDN "t.jpg\"}"));
	ck_assert_ptr_nonnull(strstr(got, "\"credits\":{\"dm_usage\":20}"));
	ck_assert_str_eq(got, want);
	evbuffer_drain(out, evbuffer_get_length(out));
	ck_assert_int_eq(cache_media_rewrite(c, "j1", etag, paths, values, 0,
	    out), -1);
	/* Another version of the row, or no row: nothing, out untouched. */
	ck_assert_int_eq(cache_media_rewrite(c, "j1", "\"other\"", paths,
	    values, 2, out), 0);
	ck_assert_int_eq(cache_media_rewrite(c, "j9", etag, paths, values, 2,
	    out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	/* A stored body that is not JSON. */
	memset(&row, 0, sizeof(row));
	row.jobid = "j7";
	row.status = "completed";
	row.fetched_at = T;
	row.body = "not json";
	row.len = 8;
	ck_assert_int_eq(cache_import_job(c, &row, "\"x\"", NULL, 0), 0);
	ck_assert_int_eq(cache_media_rewrite(c, "j7", "\"x\"", paths, values, 1,
	    out), -1);
	evbuffer_free(out);
	cache_close(c);
}
END_TEST

/* --------------------------------------------------------------- files */

/*
 * Writes len bytes to dir/name: in place, or through another file renamed
 * over it.
 */
static void
put_file(const char *dir, const char *name, const void *data, size_t len,
    int rename_over)
{
	char path[512], tmp[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.part-test", dir);
	ck_assert_ptr_nonnull(fp = fopen(rename_over ? tmp : path, "w"));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	if (rename_over)
		ck_assert_int_eq(rename(tmp, path), 0);
}

static void
rm_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(unlink(path), 0);
}

/* A file name for n: 64 hex digits. */
static const char *
nth_name(unsigned n, char *buf)
{
	snprintf(buf, MEDIA_SHA256_LEN + 1, "%064x", n);
	return buf;
}

START_TEST(test_files)
{
	struct cache *c = open_mem();
	struct media_files *fs = media_files_new(8 << 20);
	struct media_file f;
	char dir[] = "/tmp/check_media.XXXXXX", path[512];
	const unsigned char *kept;
	unsigned char *big;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(fs);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, "..", T, &f), 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1 "0", T, &f), 0);

	put_file(dir, SHA1, "hello", 5, 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 1);
	ck_assert_uint_eq(f.size, 5);
	ck_assert_ptr_nonnull(f.data);
	ck_assert_mem_eq(f.data, "hello", 5);
	ck_assert_str_eq(f.type, "application/octet-stream");
	kept = f.data;
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 1);
	ck_assert_ptr_eq(f.data, kept);

	/* Its row comes: the type is read again after a while. */
	store(c, "j1", job_video);
	ck_assert_int_eq(cache_media_scan(c, "j1", T), 3);
	ck_assert_int_eq(cache_media_mirrored(c, CDN "v.mp4", SHA1, 5,
	    "video/mp4", dir, T), 1);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T + 1, &f), 1);
	ck_assert_str_eq(f.type, "application/octet-stream");
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1,
	    T + MEDIA_FILES_TYPE_MS, &f), 1);
	ck_assert_str_eq(f.type, "video/mp4");

	/* Replaced, rewritten where it is, removed: never the old bytes. */
	put_file(dir, SHA1, "bye", 3, 1);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 1);
	ck_assert_uint_eq(f.size, 3);
	ck_assert_mem_eq(f.data, "bye", 3);
	put_file(dir, SHA1, "in place!", 9, 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 1);
	ck_assert_uint_eq(f.size, 9);
	ck_assert_mem_eq(f.data, "in place!", 9);
	rm_file(dir, SHA1);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA1, T, &f), 0);

	/* Only regular files. */
	snprintf(path, sizeof(path), "%s/%s", dir, SHA2);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA2, T, &f), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA2, T, &f), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA2, T, &f), 0);
	ck_assert_int_eq(rmdir(path), 0);

	/* A larger file is known, its bytes are not kept. */
	ck_assert_ptr_nonnull(big = calloc(1, MEDIA_FILES_SMALL + 1));
	put_file(dir, SHA2, big, MEDIA_FILES_SMALL + 1, 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, SHA2, T, &f), 1);
	ck_assert_uint_eq(f.size, MEDIA_FILES_SMALL + 1);
	ck_assert_ptr_null(f.data);
	rm_file(dir, SHA2);
	free(big);

	media_files_free(fs);
	cache_close(c);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* With no bytes to keep, files are known but read from disk each time. */
START_TEST(test_files_keep_none)
{
	struct media_files *fs = media_files_new(0);
	struct cache *c = open_mem();
	struct media_file f;
	char dir[] = "/tmp/check_media.XXXXXX", name[MEDIA_SHA256_LEN + 1];
	size_t files, bytes;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	put_file(dir, nth_name(0, name), "abc", 3, 0);
	ck_assert_int_eq(media_files_get(fs, dir, c, name, T, &f), 1);
	ck_assert_uint_eq(f.size, 3);
	ck_assert_ptr_null(f.data);
	media_files_stats(fs, &files, &bytes);
	ck_assert_uint_eq(files, 1);
	ck_assert_uint_eq(bytes, 0);
	rm_file(dir, name);
	ck_assert_int_eq(rmdir(dir), 0);
	media_files_free(fs);
	cache_close(c);
}
END_TEST

/* What is kept stays within its bytes (KEEP here) and MEDIA_FILES_MAX. */
#define KEEP	(8 << 20)
START_TEST(test_files_bounds)
{
	struct media_files *fs = media_files_new(KEEP);
	struct cache *c = open_mem();
	struct media_file f;
	char dir[] = "/tmp/check_media.XXXXXX", name[MEDIA_SHA256_LEN + 1];
	unsigned char *buf;
	unsigned n, nbig = KEEP / MEDIA_FILES_SMALL + 4;
	size_t files, bytes;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(buf = calloc(1, MEDIA_FILES_SMALL));
	for (n = 0; n < nbig; n++) {
		put_file(dir, nth_name(n, name), buf, MEDIA_FILES_SMALL, 0);
		ck_assert_int_eq(media_files_get(fs, dir, c, name, T, &f), 1);
		ck_assert_ptr_nonnull(f.data);
		media_files_stats(fs, &files, &bytes);
		ck_assert_uint_le(bytes, KEEP);
	}
	ck_assert_uint_eq(bytes, KEEP);
	/* The least recently used went first. */
	ck_assert_uint_eq(files, KEEP / MEDIA_FILES_SMALL);
	for (n = 0; n < nbig; n++)
		rm_file(dir, nth_name(n, name));
	for (n = 0; n < MEDIA_FILES_MAX + 10; n++) {
		put_file(dir, nth_name(n, name), "x", 1, 0);
		ck_assert_int_eq(media_files_get(fs, dir, c, name, T, &f), 1);
	}
	media_files_stats(fs, &files, &bytes);
	ck_assert_uint_eq(files, MEDIA_FILES_MAX);
	for (n = 0; n < MEDIA_FILES_MAX + 10; n++)
		rm_file(dir, nth_name(n, name));
	free(buf);
	media_files_free(fs);
	cache_close(c);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
media_suite(void)
{
	Suite *s = suite_create("media");
	TCase *tc;

	tc = tcase_create("http");
	tcase_add_loop_test(tc, test_range, 0,
	    (int)(sizeof(range_cases) / sizeof(range_cases[0])));
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_next_attempt);
	suite_add_tcase(s, tc);

	tc = tcase_create("rows");
	tcase_add_test(tc, test_scan);
	tcase_add_test(tc, test_queue);
	tcase_add_test(tc, test_type);
	tcase_add_test(tc, test_import);
	tcase_add_test(tc, test_renewed_url);
	tcase_add_test(tc, test_listed);
	tcase_add_test(tc, test_gc);
	tcase_add_test(tc, test_rewrite);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_files_bounds);
	tcase_add_test(tc, test_files_keep_none);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(media_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
