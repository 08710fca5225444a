/*
 * The team gateway at run time.  Members live in memory (team.c); a timer
 * reads the change counter the keys commands bump twice a second and
 * reloads them when it moved, so that no request waits on the database for
 * its key.  The same timer writes the usage counters out every 10 s, one
 * transaction for every member; counters that could not be written are
 * kept for the next time.  Ownership and credits are rows of job_owners,
 * written when a submission is answered and when a job is stored finished.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "cache.h"
#include "config.h"
#include "gateway.h"
#include "log.h"
#include "proxy.h"
#include "record.h"
#include "util.h"

#define GATEWAY_MAGIC		0x47415445u
#define TICK_MS			500		/* change check */
#define FLUSH_MS		10000		/* usage to the database */
#define HOUR_MS			3600000LL
#define ROUTE_SEGMENTS		3		/* /v1/luma/accounts */
#define PENDING_MAX		10000		/* owner rows waiting for the disk */
#define SHUTDOWN_BUSY_MS	2000		/* the last writes' wait */

/*
 * An owner row the database was too busy to take (another process held
 * it): kept here, and read as if written, until the tick writes it.
 */
struct pending {
	char			 jobid[JOBID_MAX + 1];
	char			 owner[TEAM_NAME_MAX + 1];
	int64_t			 submitted;
	int			 finished;	/* its end is known too */
	char			 status[16];	/* completed or failed */
	double			 credits;
	int64_t			 finished_at;
	TAILQ_ENTRY(pending)	 entry;
};

struct gateway {
	unsigned		 magic;
	struct proxy		*px;		/* borrowed */
	struct team		*team;		/* owned */
	char			 token[AUTH_TOKEN_MAX + 1];
	size_t			 token_len;
	char			 token_id[TOKEN_ID_LEN + 1];
	int64_t			 version;	/* members_version last loaded */
	int64_t			 flushed_at;	/* ms */
	struct event		*tick;		/* owned */
	TAILQ_HEAD(, pending)	 pending;	/* owned */
	size_t			 npending;
};

int
gateway_read_token(const char *path, char *tok, size_t cap, char *err,
    size_t errlen)
{
	char buf[2 * AUTH_TOKEN_MAX];
	struct stat sb;
	ssize_t n;
	size_t len, i;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "upstream token file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "upstream token file %s: not a regular"
		    " file", path);
		close(fd);
		return -1;
	}
	if (sb.st_mode & 077) {
		snprintf(err, errlen, "upstream token file %s: permissions %04o"
		    " are too open: group and others must not have any (chmod"
		    " 600 %s)", path, (unsigned)(sb.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "upstream token file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	for (i = 0; i < len && buf[i] > 0x20 && buf[i] < 0x7f; i++)
		;
	if (len == 0)
		snprintf(err, errlen, "upstream token file %s: empty (its first"
		    " line must be the token)", path);
	else if (i < len || len > AUTH_TOKEN_MAX || len >= cap)
		snprintf(err, errlen, "upstream token file %s: its first line"
		    " is not a token (1-%d visible characters)", path,
		    AUTH_TOKEN_MAX);
	else {
		memcpy(tok, buf, len);
		tok[len] = '\0';
		rc = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* The member rows of a reload, read whole before any is applied. */
struct rows {
	struct team_key	*k;
	size_t		 n, cap;
};

static int
read_member(const struct team_key *k, void *arg)
{
	struct rows *r = arg;
	struct team_key *p;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;

		if ((p = realloc(r->k, cap * sizeof(*p))) == NULL)
			return -1;
		r->k = p;
		r->cap = cap;
	}
	r->k[r->n++] = *k;
	return 0;
}

/*
 * Loads the members anew when the keys commands changed them: 0, or -1
 * with the old keys still in force (a database error).  Out of memory
 * half way, the members not loaded yet are locked out until the next
 * reload: never a key that should not work.
 */
static int
reload(struct gateway *g)
{
	struct rows r = { NULL, 0, 0 };
	int64_t version;
	int rc = 0;

	if (cache_team_version(g->px->cache, &version) != 0)
		return -1;
	if (version == g->version && g->version != -1)
		return 0;
	if (cache_team_members(g->px->cache, read_member, &r) != 0) {
		free(r.k);
		return -1;
	}
	team_load_begin(g->team);
	for (size_t i = 0; i < r.n && rc == 0; i++)
		rc = team_load(g->team, &r.k[i]);
	if (team_load_end(g->team) != 0)
		rc = -1;
	if (r.k != NULL)
		explicit_bzero(r.k, r.cap * sizeof(*r.k));
	free(r.k);
	if (rc != 0)
		return -1;
	if (g->version != -1)
		log_info("gateway: member keys reloaded (%zu members)",
		    team_count(g->team));
	g->version = version;
	return 0;
}

static int
load_running(const char *jobid, const char *owner, int64_t submitted,
    void *arg)
{
	struct member *m = team_find_name(arg, owner);

	return m != NULL ? team_add_running(m, jobid, submitted) : 0;
}

static int
load_spent(const char *owner, int64_t at, double credits, void *arg)
{
	struct member *m = team_find_name(arg, owner);

	return m != NULL ? team_add_spend(m, at, credits) : 0;
}

/*
 * Writes every member's unflushed counters in one transaction: 0, or -1
 * with them kept for the next try (the database was busy, or its disk
 * failed).
 */
static int
flush(struct gateway *g, int64_t now)
{
	static const struct team_usage zero;
	struct cache *c = g->px->cache;
	struct member *m;
	size_t i, n = team_count(g->team);
	int dirty = 0, ok = 1;

	for (i = 0; i < n && !dirty; i++) {
		m = team_at(g->team, i);
		dirty = m->used || memcmp(&m->unflushed, &zero,
		    sizeof(zero)) != 0;
	}
	g->flushed_at = now;
	if (!dirty)
		return 0;
	if (cache_begin(c) != 0)
		ok = 0;
	for (i = 0; i < n && ok; i++) {
		m = team_at(g->team, i);
		if (memcmp(&m->unflushed, &zero, sizeof(zero)) != 0 &&
		    cache_team_usage(c, m->key.name, now / HOUR_MS,
		    &m->unflushed) != 0)
			ok = 0;
		if (ok && m->used && cache_team_last_used(c, m->key.name,
		    m->key.last_used) != 0)
			ok = 0;
	}
	if (!ok || cache_commit(c) != 0) {
		cache_rollback(c);
		/* Debug while the disk's failure is logged (cache.c). */
		log_at(cache_failure_level(c) == LOG_DEBUG ? LOG_DEBUG :
		    LOG_WARN, "gateway: usage not written (%s), kept for the"
		    " next try", cache_last_error(c));
		return -1;
	}
	for (i = 0; i < n; i++) {
		m = team_at(g->team, i);
		m->unflushed = zero;
		m->used = 0;
	}
	return 0;
}

static struct pending *
pending_find(struct gateway *g, const char *jobid)
{
	struct pending *p;

	TAILQ_FOREACH(p, &g->pending, entry)
		if (strcmp(p->jobid, jobid) == 0)
			return p;
	return NULL;
}

/* Writes the owner rows kept back, oldest first, until one fails. */
static void
write_pending(struct gateway *g)
{
	struct cache *c = g->px->cache;
	struct pending *p;
	char owner[TEAM_NAME_MAX + 1];

	while ((p = TAILQ_FIRST(&g->pending)) != NULL) {
		if (cache_team_own(c, p->jobid, p->owner, p->submitted) != 0 ||
		    (p->finished && cache_team_finish(c, p->jobid, p->status,
		    p->credits, p->finished_at, owner, sizeof(owner)) < 0))
			return;
		TAILQ_REMOVE(&g->pending, p, entry);
		g->npending--;
		free(p);
	}
}

/* jobid's owner, written or kept back: 1, 0 when none, -1 on error. */
static int
owner_of(struct gateway *g, const char *jobid, char *owner, size_t len)
{
	struct pending *p;
	int rc = cache_team_owner(g->px->cache, jobid, owner, len);

	if (rc == 0 && (p = pending_find(g, jobid)) != NULL) {
		snprintf(owner, len, "%s", p->owner);
		rc = 1;
	}
	return rc;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *g = arg;
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	CHECK_OBJ(g, GATEWAY_MAGIC);
	if (reload(g) != 0)
		log_warn("gateway: cannot read the member keys; trying again");
	if (!TAILQ_EMPTY(&g->pending))
		write_pending(g);
	if (now - g->flushed_at >= FLUSH_MS || now < g->flushed_at)
		(void)flush(g, now);
}

struct gateway *
gateway_new(struct proxy *px, char *err, size_t errlen)
{
	struct timeval tv = { 0, TICK_MS * 1000 };
	const struct config *cfg = px->cfg;
	struct gateway *g;
	int64_t now = util_now_ms();

	CHECK_OBJ(px, PROXY_MAGIC);
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->magic = GATEWAY_MAGIC;
	g->px = px;
	g->version = -1;
	g->flushed_at = now;
	TAILQ_INIT(&g->pending);
	if (gateway_read_token(cfg->upstream_token_file, g->token,
	    sizeof(g->token), err, errlen) != 0)
		goto fail;
	g->token_len = strlen(g->token);
	auth_token_id(g->token, g->token_len, g->token_id);
	if ((g->team = team_new(cfg->watch_max_age * 1000)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (reload(g) != 0 ||
	    cache_team_running(px->cache, now - cfg->watch_max_age * 1000,
	    load_running, g->team) != 0 ||
	    cache_team_spent(px->cache, now - TEAM_DAY_MS, load_spent,
	    g->team) != 0) {
		snprintf(err, errlen, "%s: cannot read the member keys", cfg->db);
		goto fail;
	}
	if ((g->tick = event_new(px->base, -1, EV_PERSIST, tick_cb, g)) == NULL ||
	    event_add(g->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot set up the event loop");
		goto fail;
	}
	return g;
fail:
	gateway_free(g);
	return NULL;
}

void
gateway_free(struct gateway *g)
{
	struct pending *p;

	if (g == NULL)
		return;
	CHECK_OBJ(g, GATEWAY_MAGIC);
	if (g->tick != NULL)
		event_free(g->tick);
	if (g->team != NULL) {
		/* The last chance: wait for another writer a little longer. */
		cache_set_busy_timeout(g->px->cache, SHUTDOWN_BUSY_MS);
		write_pending(g);
		if (g->npending > 0)
			log_error("gateway: the owners of %zu jobs could not be"
			    " written", g->npending);
		if (flush(g, util_now_ms()) != 0)
			log_error("gateway: usage since the last write is lost"
			    " (database busy)");
		team_free(g->team);
	}
	while ((p = TAILQ_FIRST(&g->pending)) != NULL) {
		TAILQ_REMOVE(&g->pending, p, entry);
		free(p);
	}
	explicit_bzero(g, sizeof(*g));
	free(g);
}

const char *
gateway_token(const struct gateway *g, size_t *len)
{
	CHECK_OBJ(g, GATEWAY_MAGIC);
	*len = g->token_len;
	return g->token;
}

const char *
gateway_token_id(const struct gateway *g)
{
	CHECK_OBJ(g, GATEWAY_MAGIC);
	return g->token_id;
}

struct member *
gateway_member(struct gateway *g, const struct evkeyvalq *headers,
    int64_t now)
{
	const struct evkeyval *h;
	const char *authorization = NULL, *tok;
	char id[TOKEN_ID_LEN + 1];
	size_t len;

	CHECK_OBJ(g, GATEWAY_MAGIC);
	TAILQ_FOREACH(h, headers, next)
		if (strcasecmp(h->key, "Authorization") == 0) {
			if (authorization != NULL)
				return NULL;
			authorization = h->value;
		}
	if (auth_parse(authorization, &tok, &len) != 0)
		return NULL;
	auth_token_id(tok, len, id);
	return gateway_member_by_id(g, id, now);
}

struct member *
gateway_member_by_id(struct gateway *g, const char *token_id, int64_t now)
{
	CHECK_OBJ(g, GATEWAY_MAGIC);
	return team_find_key(g->team, token_id, now);
}

int
gateway_shared(const struct gateway *g)
{
	CHECK_OBJ(g, GATEWAY_MAGIC);
	return g->px->cfg->team_shared;
}

int
gateway_may_see(struct gateway *g, const struct member *m, const char *jobid)
{
	char owner[TEAM_NAME_MAX + 1];
	int rc;

	CHECK_OBJ(g, GATEWAY_MAGIC);
	if (team_may_see(m, NULL, g->px->cfg->team_shared))
		return 1;
	if ((rc = owner_of(g, jobid, owner, sizeof(owner))) < 0)
		return -1;
	return team_may_see(m, rc == 1 ? owner : NULL, 0);
}

/* An RFC 3986 unreserved character: never percent-encoded by a client. */
static int
unreserved(int ch)
{
	return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/*
 * The segments of path as a server behind us might read it: percent-
 * decoded, '\\' taken as '/', lower case, empty segments skipped, "." and
 * ".." resolved.  At most max segments go into seg (pointing into buf);
 * returns how many there are, or -1 when path is spelt otherwise than a
 * client spells a route, which no server may then be trusted to read as we
 * do: an encoded unreserved character, '/' or '\\', a '\\', an empty or dot
 * segment, no leading '/', or anything but letters, digits, '-' and '_' in
 * the first ROUTE_SEGMENTS segments (where the routes are told apart; some
 * servers drop a trailing '.' or space, or read ';' as a parameter).
 */
static int
path_segments(const char *path, char *buf, size_t cap, char **seg, int max)
{
	size_t n = 0, len = strlen(path);
	int nseg = 0, plain = path[0] == '/';
	char *p, *end;

	if (len >= cap)
		return -1;
	for (const char *q = path; *q != '\0'; q++) {
		int ch = (unsigned char)*q;

		if (ch == '%' && isxdigit((unsigned char)q[1]) &&
		    isxdigit((unsigned char)q[2])) {
			char hex[3] = { q[1], q[2], '\0' };

			ch = (int)strtol(hex, NULL, 16);
			q += 2;
			if (unreserved(ch) || ch == '/' || ch == '\\')
				plain = 0;
		}
		if (ch == '\\') {
			plain = 0;
			ch = '/';
		}
		if (ch == '\0')
			return -1;
		buf[n++] = (char)tolower(ch);
	}
	buf[n] = '\0';
	for (p = buf[0] == '/' ? buf + 1 : buf; *p != '\0'; p = end) {
		end = p + strcspn(p, "/");
		if (*end != '\0')
			*end++ = '\0';	/* a trailing '/' ends the loop */
		if (nseg < ROUTE_SEGMENTS && strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789-_") != strlen(p))
			plain = 0;
		if (*p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			plain = 0;
			if (strcmp(p, "..") == 0 && nseg > 0)
				nseg--;
			continue;
		}
		if (nseg < max)
			seg[nseg] = p;
		nseg++;
	}
	return plain ? nseg : -1;
}

enum gateway_path
gateway_path_kind(const char *path, int post)
{
	char buf[4096], *seg[ROUTE_SEGMENTS + 1];
	int n;

	if ((n = path_segments(path, buf, sizeof(buf), seg, nitems(seg))) < 0)
		return GATEWAY_ODD;
	if (n < 3 || strcmp(seg[0], "v1") != 0 || strcmp(seg[1], "luma") != 0)
		return GATEWAY_OPEN;
	if (strcmp(seg[2], "jobs") == 0)
		return GATEWAY_JOBS;
	if (strcmp(seg[2], "accounts") == 0)
		return GATEWAY_ADMIN;
	if (post && n == 3 && strcmp(seg[2], "videos") == 0)
		return GATEWAY_SUBMIT_VIDEO;
	if (post && n == 3 && strcmp(seg[2], "images") == 0)
		return GATEWAY_SUBMIT_IMAGE;
	return GATEWAY_OPEN;
}

void
gateway_submitted(struct gateway *g, struct member *m, const char *jobid,
    int64_t now)
{
	struct pending *p;

	CHECK_OBJ(g, GATEWAY_MAGIC);
	team_submit_done(m, jobid, now);
	if (jobid == NULL || (TAILQ_EMPTY(&g->pending) &&
	    cache_team_own(g->px->cache, jobid, m->key.name, now) == 0))
		return;
	/* Kept in order behind the others, and read as if written. */
	if (g->npending >= PENDING_MAX || (p = calloc(1, sizeof(*p))) == NULL) {
		log_error("gateway: cannot record %s as the owner of %s",
		    m->tag, jobid);
		return;
	}
	snprintf(p->jobid, sizeof(p->jobid), "%s", jobid);
	snprintf(p->owner, sizeof(p->owner), "%s", m->key.name);
	p->submitted = now;
	TAILQ_INSERT_TAIL(&g->pending, p, entry);
	g->npending++;
	log_warn("gateway: the owner of %s (%s) is written later: database"
	    " busy", jobid, m->tag);
}

int
gateway_credits(const void *body, size_t len, double *credits)
{
	json_t *o, *v;
	int rc = 0;

	*credits = 0;
	if ((o = json_loadb(body, len, 0, NULL)) == NULL)
		return -1;
	v = json_object_get(json_object_get(o, "credits"), "dm_usage");
	if (v != NULL && !json_is_null(v)) {
		if (json_is_number(v) && json_number_value(v) >= 0)
			*credits = json_number_value(v);
		else
			rc = -1;
	}
	json_decref(o);
	return rc;
}

void
gateway_job_fetched(struct gateway *g, const char *jobid,
    const struct record *rec, const void *body, size_t len, int polled,
    int stored, int64_t now)
{
	char owner[TEAM_NAME_MAX + 1];
	struct pending *p;
	struct member *m;
	double credits = 0;
	int completed, odd, rc;

	CHECK_OBJ(g, GATEWAY_MAGIC);
	if (!rec->terminal) {
		if (polled && owner_of(g, jobid, owner, sizeof(owner)) == 1 &&
		    (m = team_find_name(g->team, owner)) != NULL)
			team_job_seen(m, jobid, now);
		return;
	}
	/*
	 * Finished, but not stored: it no longer counts toward max-running
	 * (SPEC 10: jobs not yet finished); its outcome and credits count
	 * when it is stored finished ("stored as completed"), which the
	 * watch or the next poll does once the database can be written.
	 */
	if (!stored) {
		if (owner_of(g, jobid, owner, sizeof(owner)) == 1 &&
		    (m = team_find_name(g->team, owner)) != NULL)
			team_job_ended(m, jobid);
		return;
	}
	completed = strcmp(rec->status, "completed") == 0;
	odd = completed && gateway_credits(body, len, &credits) != 0;
	rc = cache_team_finish(g->px->cache, jobid, rec->status, credits, now,
	    owner, sizeof(owner));
	if (rc < 0) {
		log_at(cache_failure_level(g->px->cache),
		    "cache: cannot record the end of job %s", jobid);
		/* Finished all the same: no longer running (SPEC 10). */
		if (owner_of(g, jobid, owner, sizeof(owner)) == 1 &&
		    (m = team_find_name(g->team, owner)) != NULL)
			team_job_ended(m, jobid);
	}
	if (rc == 0 && (p = pending_find(g, jobid)) != NULL && !p->finished) {
		p->finished = 1;	/* written with its owner row */
		snprintf(p->status, sizeof(p->status), "%s", completed ?
		    "completed" : "failed");
		p->credits = credits;
		p->finished_at = now;
		snprintf(owner, sizeof(owner), "%s", p->owner);
		rc = 1;
	}
	if (rc != 1)
		return;		/* not owned, or counted already */
	if (odd)
		log_warn("gateway: job %s: credits.dm_usage is neither a number"
		    " nor null; counted as 0", jobid);
	if ((m = team_find_name(g->team, owner)) != NULL)
		team_job_finished(m, jobid, completed, credits, now);
}

void
gateway_each_running(struct gateway *g,
    void (*fn)(const char *jobid, int64_t submitted, void *), void *arg)
{
	size_t i, k;

	CHECK_OBJ(g, GATEWAY_MAGIC);
	for (i = 0; i < team_count(g->team); i++) {
		struct member *m = team_at(g->team, i);

		for (k = 0; k < m->nrunning; k++)
			fn(m->running[k].jobid, m->running[k].seen, arg);
	}
}

/* One counter per member: name, help, and where it is in a member. */
static int
series(struct evbuffer *b, struct team *t, const char *name, const char *help,
    size_t off)
{
	size_t i, n = team_count(t);

	if (evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name,
	    help, name) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct member *m = team_at(t, i);
		uint64_t v;

		memcpy(&v, (const char *)&m->total + off, sizeof(v));
		if (evbuffer_add_printf(b, "%s{member=\"%s\"} %llu\n", name,
		    m->key.name, (unsigned long long)v) < 0)
			return -1;
	}
	return 0;
}

int
gateway_metrics(struct gateway *g, struct evbuffer *b)
{
	static const struct {
		const char	*name;
		const char	*help;
		size_t		 off;
	} counters[] = {
		{ "lumaproxy_member_requests_total", "Requests by member.",
		    offsetof(struct team_usage, requests) },
		{ "lumaproxy_member_hits_total", "Answers from the cache by"
		    " member.", offsetof(struct team_usage, hits) },
		{ "lumaproxy_member_upstream_calls_total", "Upstream calls made"
		    " for a member.", offsetof(struct team_usage, upstream_calls) },
		{ "lumaproxy_member_submissions_total", "Jobs submitted by"
		    " member.", offsetof(struct team_usage, submissions) },
		{ "lumaproxy_member_completed_total", "Jobs of a member stored"
		    " as completed.", offsetof(struct team_usage, completed) },
		{ "lumaproxy_member_failed_total", "Jobs of a member stored as"
		    " failed.", offsetof(struct team_usage, failed) },
	};
	struct team *t;
	size_t i, n;
	int64_t now = util_now_ms();

	CHECK_OBJ(g, GATEWAY_MAGIC);
	t = g->team;
	n = team_count(t);
	for (i = 0; i < nitems(counters); i++)
		if (series(b, t, counters[i].name, counters[i].help,
		    counters[i].off) != 0)
			return -1;
	if (evbuffer_add_printf(b, "# HELP lumaproxy_member_credits_total"
	    " Credits used by the completed jobs of a member.\n"
	    "# TYPE lumaproxy_member_credits_total counter\n") < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (evbuffer_add_printf(b, "lumaproxy_member_credits_total"
		    "{member=\"%s\"} %.17g\n", team_at(t, i)->key.name,
		    team_at(t, i)->total.credits) < 0)
			return -1;
	if (evbuffer_add_printf(b, "# HELP lumaproxy_member_refused_total"
	    " Submissions refused by a limit, by member.\n"
	    "# TYPE lumaproxy_member_refused_total counter\n") < 0)
		return -1;
	for (i = 0; i < n; i++)
		for (int l = 0; l < TEAM_LIMIT__MAX; l++)
			if (evbuffer_add_printf(b, "lumaproxy_member_refused_total"
			    "{member=\"%s\",limit=\"%s\"} %llu\n",
			    team_at(t, i)->key.name,
			    team_limit_label((enum team_limit)l),
			    (unsigned long long)team_at(t, i)->total.refused[l]) < 0)
				return -1;
	if (evbuffer_add_printf(b, "# HELP lumaproxy_member_running_jobs"
	    " Submitted jobs of a member not known to be finished.\n"
	    "# TYPE lumaproxy_member_running_jobs gauge\n") < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (evbuffer_add_printf(b, "lumaproxy_member_running_jobs"
		    "{member=\"%s\"} %zu\n", team_at(t, i)->key.name,
		    team_running_count(team_at(t, i), now)) < 0)
			return -1;
	return 0;
}
