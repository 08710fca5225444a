/*
 * The hot answers' table: chained buckets on a seeded hash of the jobid
 * (so that hot_forget() finds every token's entry in one chain), and a
 * list from the most to the least recently answered for the bound.  Each
 * entry is one allocation: the struct, the jobid, the head's fixed middle
 * and the body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>

#include "auth.h"
#include "cache.h"
#include "framer.h"
#include "gateway.h"
#include "head.h"
#include "hot.h"
#include "jobid.h"
#include "log.h"
#include "metrics.h"
#include "prefer.h"
#include "reply.h"
#include "proxy.h"
#include "route.h"
#include "team.h"
#include "util.h"

#define HOT_MAGIC	0x484f5421u
#define BUCKETS_MIN	1024
#define TOKENS_PER_JOB	64		/* entries of one jobid, at most */
#define MALLOC_OVERHEAD	16		/* what malloc takes per block */
#define PREFIX		ROUTE_JOBS_PREFIX "/"
#define PREFIX_LEN	(sizeof(PREFIX) - 1)
#define ACCEPT_MAX	512		/* longer Accept values go the usual way */
#define START_MAX	(sizeof("HTTP/1.1 404 Not Found\r\n" \
			"Content-Type: application/json; charset=utf-8\r\n" \
			"Age: "))
#define MID_MAX		(sizeof("\r\nETag: \r\nX-Cache: HIT\r\n" \
			"Cache-Status: lumaproxy; hit\r\n" \
			"Content-Length: 18446744073709551615\r\nDate: ") + ETAG_LEN)

struct entry {
	struct entry	*next;		/* in its bucket */
	struct entry	*newer;		/* in the list, NULL: the newest */
	struct entry	*older;		/* NULL: the oldest */
	uint32_t	 hash;
	int64_t		 fetched_at;	/* ms, for Age */
	int64_t		 from, until;	/* ms: answered in [from, until) */
	int		 retry_after;	/* Retry-After counts down to until */
	int		 status;
	size_t		 size;		/* counted against the bound */
	char		 token_id[TOKEN_ID_LEN + 1];
	char		 owner[TEAM_NAME_MAX + 1];	/* "": none known */
	const char	*start;		/* "HTTP/1.1 200 OK\r\n...Age: " */
	size_t		 startlen;
	const char	*jobid;		/* the rest: in the same allocation */
	const char	*mid;		/* "\r\nETag: ...\r\nDate: " */
	size_t		 midlen;
	const char	*body;
	size_t		 len;
};

struct hot {
	unsigned	 magic;
	struct proxy	*px;		/* borrowed */
	uint64_t	 max_bytes;
	struct entry	**buckets;	/* owned, with the entries */
	size_t		 nbuckets;	/* a power of two */
	size_t		 count;
	size_t		 bytes;
	struct entry	*newest, *oldest;
	uint32_t	 seed;
	struct cache_stamp stamp;	/* the database as seen last */
	int64_t		 version;	/* cache_data_version() seen last */
	uint64_t	 answers;
};

static void
unlink_lru(struct hot *t, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
push_newest(struct hot *t, struct entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

/* Removes e, found at *link in its bucket. */
static void
drop(struct hot *t, struct entry **link)
{
	struct entry *e = *link;

	*link = e->next;
	unlink_lru(t, e);
	t->count--;
	t->bytes -= e->size;
	free(e);
}

/* Where the entry of (jobid, token_id) is linked, or NULL. */
static struct entry **
find(struct hot *t, uint32_t hash, const char *jobid, const char *token_id)
{
	struct entry **link = &t->buckets[hash & (t->nbuckets - 1)];

	for (; *link != NULL; link = &(*link)->next)
		if ((*link)->hash == hash &&
		    memcmp((*link)->token_id, token_id, TOKEN_ID_LEN) == 0 &&
		    strcmp((*link)->jobid, jobid) == 0)
			return link;
	return NULL;
}

/* How many entries jobid has (all are in one bucket). */
static size_t
tokens_of(struct hot *t, uint32_t hash, const char *jobid)
{
	struct entry *e;
	size_t n = 0;

	for (e = t->buckets[hash & (t->nbuckets - 1)]; e != NULL; e = e->next)
		if (e->hash == hash && strcmp(e->jobid, jobid) == 0)
			n++;
	return n;
}

/* Twice the buckets; nothing happens when out of memory. */
static void
grow(struct hot *t)
{
	size_t n = t->nbuckets * 2, i;
	struct entry **b, *e, *next;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

void
hot_check(struct hot *t)
{
	int64_t v;

	CHECK_OBJ(t, HOT_MAGIC);
	/* First the stamp, then the version: a commit between is seen. */
	if (cache_stamp_moved(t->px->cache, &t->stamp) == 0)
		return;
	if ((v = cache_data_version(t->px->cache)) != t->version || v < 0) {
		if (t->count > 0)
			log_debug("hot: the database changed; %zu answers"
			    " forgotten", t->count);
		hot_clear(t);
		t->version = v;
	}
}

struct hot *
hot_new(struct proxy *px, uint64_t max_bytes)
{
	struct hot *t;

	CHECK_OBJ(px, PROXY_MAGIC);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->magic = HOT_MAGIC;
	t->px = px;
	t->max_bytes = max_bytes;
	t->nbuckets = BUCKETS_MIN;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    sizeof(t->seed))
		t->seed = (uint32_t)time(NULL);
	t->version = cache_data_version(px->cache);
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL) {
		hot_free(t);
		return NULL;
	}
	return t;
}

void
hot_free(struct hot *t)
{
	if (t == NULL)
		return;
	CHECK_OBJ(t, HOT_MAGIC);
	if (t->buckets != NULL)
		hot_clear(t);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
	free(t);
}

/* The status line, Content-Type and "Age: " of an answer with status. */
static const char *
start_of(int status, size_t *len)
{
#define CT	"\r\nContent-Type: application/json; charset=utf-8\r\nAge: "
	static const char ok[] = "HTTP/1.1 200 OK" CT;
	static const char bad[] = "HTTP/1.1 400 Bad Request" CT;
	static const char forbidden[] = "HTTP/1.1 403 Forbidden" CT;
	static const char not_found[] = "HTTP/1.1 404 Not Found" CT;
#undef CT

	switch (status) {
	case 200:	*len = sizeof(ok) - 1;		return ok;
	case 400:	*len = sizeof(bad) - 1;		return bad;
	case 403:	*len = sizeof(forbidden) - 1;	return forbidden;
	case 404:	*len = sizeof(not_found) - 1;	return not_found;
	}
	return NULL;
}

void
hot_put(struct hot *t, const char *jobid, const char *token_id,
    const struct hot_item *it)
{
	char mid[MID_MAX];
	size_t jlen = strlen(jobid), midlen, size, startlen;
	uint32_t hash = util_fnv1a(UTIL_FNV_BASIS ^ t->seed, jobid);
	struct entry **link, *e;
	const char *start;
	char *p;

	CHECK_OBJ(t, HOT_MAGIC);
	if ((start = start_of(it->status, &startlen)) == NULL)
		return;
	midlen = (size_t)snprintf(mid, sizeof(mid), "%s%s\r\n"
	    "X-Cache: HIT\r\nCache-Status: lumaproxy; hit\r\n"
	    "Content-Length: %zu\r\nDate: ", it->etag != NULL ?
	    "\r\nETag: " : "", it->etag != NULL ? it->etag : "", it->len);
	size = sizeof(*e) + jlen + 1 + midlen + it->len + MALLOC_OVERHEAD;
	if (size > t->max_bytes / 4 || midlen >= sizeof(mid))
		return;		/* a few at least must fit */
	if ((link = find(t, hash, jobid, token_id)) != NULL)
		drop(t, link);
	/* Lookups walk a job's tokens: only so many are kept per job. */
	if (tokens_of(t, hash, jobid) >= TOKENS_PER_JOB)
		return;
	/* The bound covers the entries, malloc's share and the buckets. */
	while (t->bytes + size + t->nbuckets * sizeof(*t->buckets) >
	    t->max_bytes && t->oldest != NULL)
		drop(t, find(t, t->oldest->hash, t->oldest->jobid,
		    t->oldest->token_id));
	if (t->bytes + size + t->nbuckets * sizeof(*t->buckets) > t->max_bytes)
		return;
	if ((e = malloc(size)) == NULL)
		return;
	memset(e, 0, sizeof(*e));
	e->hash = hash;
	e->fetched_at = it->fetched_at;
	e->from = it->from;
	e->until = it->until;
	e->retry_after = it->retry_after;
	e->status = it->status;
	e->size = size;
	e->start = start;
	e->startlen = startlen;
	memcpy(e->token_id, token_id, TOKEN_ID_LEN + 1);
	if (it->owner != NULL)
		snprintf(e->owner, sizeof(e->owner), "%s", it->owner);
	p = (char *)(e + 1);
	memcpy(p, jobid, jlen + 1);
	e->jobid = p;
	p += jlen + 1;
	memcpy(p, mid, midlen);
	e->mid = p;
	e->midlen = midlen;
	p += midlen;
	memcpy(p, it->body, it->len);
	e->body = p;
	e->len = it->len;
	if (t->count >= t->nbuckets && t->bytes + size +
	    2 * t->nbuckets * sizeof(*t->buckets) <= t->max_bytes)
		grow(t);
	link = &t->buckets[hash & (t->nbuckets - 1)];
	e->next = *link;
	*link = e;
	push_newest(t, e);
	t->count++;
	t->bytes += size;
}

void
hot_forget(struct hot *t, const char *jobid)
{
	uint32_t hash;
	struct entry **link;

	CHECK_OBJ(t, HOT_MAGIC);
	if (t->count == 0)
		return;
	hash = util_fnv1a(UTIL_FNV_BASIS ^ t->seed, jobid);
	link = &t->buckets[hash & (t->nbuckets - 1)];
	while (*link != NULL)
		if ((*link)->hash == hash && strcmp((*link)->jobid, jobid) == 0)
			drop(t, link);
		else
			link = &(*link)->next;
}

void
hot_clear(struct hot *t)
{
	size_t i;

	CHECK_OBJ(t, HOT_MAGIC);
	for (i = 0; i < t->nbuckets && t->count > 0; i++)
		while (t->buckets[i] != NULL)
			drop(t, &t->buckets[i]);
}

/* Appends the decimal digits of v (>= 0) at p; returns the end. */
static char *
put_int(char *p, int64_t v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

int
hot_answer(struct hot *t, struct framer *f, const struct head *h,
    const char *p)
{
	struct proxy *px;
	struct entry **link, *e;
	struct member *m = NULL;
	struct reply_info ri;
	struct iovec iov[2];
	char jobid[JOBID_MAX + 1], token_id[TOKEN_ID_LEN + 1];
	char fp[FINGERPRINT_LEN + 1];
	char auth[AUTH_TOKEN_MAX + 64], accept[ACCEPT_MAX + 1];
	char head[START_MAX + 24 + 15 + 24 + MID_MAX + 64 + 4], *w;
	const char *target = p + h->target, *tok, *date;
	size_t tok_len, dlen;
	int64_t now;
	uint32_t hash;
	int kind, is_head;

	CHECK_OBJ(t, HOT_MAGIC);
	px = t->px;
	if (t->count == 0 || px->draining ||
	    (kind = head_plain_read(p, h)) == 0)
		return 0;
	is_head = kind == 2;
	/* jobid_decode() refuses a query, a fragment and further segments. */
	if (h->target_len <= PREFIX_LEN ||
	    memcmp(target, PREFIX, PREFIX_LEN) != 0 ||
	    jobid_decode(target + PREFIX_LEN, h->target_len - PREFIX_LEN,
	    jobid) != 0)
		return 0;
	if (h->auth_len == 0 || h->auth_len >= sizeof(auth) ||
	    h->accept_len >= sizeof(accept))
		return 0;
	memcpy(auth, p + h->auth, h->auth_len);
	auth[h->auth_len] = '\0';
	if (auth_parse(auth, &tok, &tok_len) != 0)
		return 0;
	if (h->accept_len > 0) {
		memcpy(accept, p + h->accept, h->accept_len);
		accept[h->accept_len] = '\0';
		if (prefer_event_stream(accept))
			return 0;
	}
	auth_token_id(tok, tok_len, token_id);
	now = util_now_ms();
	/* Team gateway: a member's key; the cache knows the held token. */
	if (px->gateway != NULL) {
		if ((m = gateway_member_by_id(px->gateway, token_id, now)) ==
		    NULL)
			return 0;
		memcpy(token_id, gateway_token_id(px->gateway),
		    TOKEN_ID_LEN + 1);
	}
	/* Another process's purge or import is seen by the next request. */
	hot_check(t);
	hash = util_fnv1a(UTIL_FNV_BASIS ^ t->seed, jobid);
	if ((link = find(t, hash, jobid, token_id)) == NULL)
		return 0;
	e = *link;
	/* One who sees only their own jobs: by the owner kept, or the route. */
	if (m != NULL && !team_may_see(m, NULL, gateway_shared(px->gateway)) &&
	    (e->owner[0] == '\0' || !team_may_see(m, e->owner, 0)))
		return 0;
	/* Its time is up (or the clock went back): the route decides. */
	if (now < e->from || (e->until != 0 && now >= e->until)) {
		drop(t, link);
		return 0;
	}

	w = head;
	memcpy(w, e->start, e->startlen);
	w += e->startlen;
	w = put_int(w, now > e->fetched_at ? (now - e->fetched_at) / 1000 : 0);
	if (e->retry_after) {
		memcpy(w, "\r\nRetry-After: ", 15);
		w = put_int(w + 15, (e->until - now + 999) / 1000);
	}
	memcpy(w, e->mid, e->midlen);
	w += e->midlen;
	date = util_http_date(now, &dlen);
	memcpy(w, date, dlen);
	w += dlen;
	memcpy(w, "\r\n\r\n", 4);
	w += 4;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)(w - head);
	iov[1].iov_base = (void *)e->body;
	iov[1].iov_len = e->len;
	framer_send(f, iov, is_head ? 1 : 2);
	t->answers++;
	unlink_lru(t, e);
	push_newest(t, e);

	memcpy(fp, token_id, FINGERPRINT_LEN);
	fp[FINGERPRINT_LEN] = '\0';
	memset(&ri, 0, sizeof(ri));
	ri.cache = "HIT";
	ri.token = m != NULL ? m->tag : fp;
	ri.member = m;
	reply_log_framed(px, f, is_head, target, h->target_len, e->status, &ri);
	return 1;
}

void
hot_get_stats(const struct hot *t, struct hot_stats *out)
{
	CHECK_OBJ(t, HOT_MAGIC);
	out->answers = t->answers;
	out->entries = t->count;
	out->bytes = t->bytes;
}
