/*
 * export, import, stats, purge and mirror, once config.c has read and
 * checked their command lines.  They open the cache as the server does
 * (refusing foreign or newer files, migrating), wait for a running
 * server's locks rather than failing, and never print a token: grants are
 * token_ids, the SHA-256 of tokens.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "admin.h"
#include "auth.h"
#include "cache.h"
#include "config.h"
#include "jobid.h"
#include "log.h"
#include "media.h"
#include "media_files.h"
#include "media_mirror.h"
#include "record.h"
#include "team.h"
#include "upstream.h"
#include "util.h"

#define BUSY_TIMEOUT_MS		10000
#define IMPORT_LINE_MAX		(64u << 20)
#define GRANTS_MAX		10000	/* on one import line */
#define PROGRESS_EVERY		1000

static struct cache *
open_cache(const char *cmd, const char *path)
{
	struct cache *c;
	char err[1024];

	/* A missing file is not created by commands that only read it. */
	if (strcmp(cmd, "import") != 0 && access(path, F_OK) != 0) {
		fprintf(stderr, "lumaproxy %s: %s: no such database\n", cmd, path);
		return NULL;
	}
	if ((c = cache_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lumaproxy %s: %s\n", cmd, err);
		return NULL;
	}
	cache_set_busy_timeout(c, BUSY_TIMEOUT_MS);
	return c;
}

struct export_acc {
	struct cache	*c;
	int		 media;		/* add each job's media list */
	int		 failed;	/* a job was left out */
};

/* export --media: one entry of a job's media list. */
static int
export_media(const struct cache_media *m, void *arg)
{
	json_t *list = arg, *e;

	e = json_pack("{s:s, s:o, s:o, s:o}", "url", m->url,
	    "sha256", m->sha256 ? json_string(m->sha256) : json_null(),
	    "size", m->size >= 0 ? json_integer((json_int_t)m->size) :
	    json_null(),
	    "content_type", m->content_type ? json_string(m->content_type) :
	    json_null());
	return e != NULL && json_array_append_new(list, e) == 0 ? 0 : -1;
}

/* export: one line per finished job. */
static int
export_row(const struct cache_row *row, void *arg)
{
	struct export_acc *acc = arg;
	json_t *o, *g, *body, *media;
	char when[32], *line;
	int *failed = &acc->failed;

	util_iso8601_ms(row->fetched_at, when, sizeof(when));
	if ((body = json_stringn(row->body, row->len)) == NULL) {
		fprintf(stderr, "lumaproxy export: %s: body is not UTF-8 text,"
		    " left out\n", row->jobid);
		*failed = 1;
		return 0;
	}
	g = json_array();
	for (size_t i = 0; i < row->ngrants; i++)
		json_array_append_new(g, json_string(row->grants[i]));
	o = json_object();
	json_object_set_new(o, "jobid", json_string(row->jobid));
	json_object_set_new(o, "type", row->type ? json_string(row->type) :
	    json_null());
	json_object_set_new(o, "status", json_string(row->status));
	json_object_set_new(o, "fetched_at", json_string(when));
	json_object_set_new(o, "grants", g);
	if (row->owner != NULL)
		json_object_set_new(o, "owner", json_string(row->owner));
	json_object_set_new(o, "body", body);
	if (acc->media) {
		if ((media = json_array()) == NULL ||
		    cache_media_listed(acc->c, row->jobid, export_media, media) != 0) {
			json_decref(media);
			json_decref(o);
			return -1;
		}
		json_object_set_new(o, "media", media);
	}
	if (o == NULL || (line = json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		json_decref(o);
		return -1;
	}
	json_decref(o);
	if (puts(line) == EOF) {
		free(line);
		return -1;
	}
	free(line);
	return 0;
}

int
admin_export(const struct config *cfg)
{
	struct export_acc acc;
	struct cache *c;
	int rc;

	if ((c = open_cache("export", cfg->db)) == NULL)
		return 1;
	memset(&acc, 0, sizeof(acc));
	acc.c = c;
	acc.media = cfg->export_media;
	rc = cache_export(c, cfg->status, cfg->since, export_row, &acc);
	cache_close(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("lumaproxy export: stdout");
		return 1;
	}
	if (rc != 0)
		fprintf(stderr, "lumaproxy export: reading %s failed\n", cfg->db);
	return rc != 0 || acc.failed ? 1 : 0;
}

/* Whether v is an export --media list. */
static int
media_list_ok(json_t *v)
{
	json_t *e, *sha, *size, *ct;
	size_t i;

	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, e) {
		sha = json_object_get(e, "sha256");
		size = json_object_get(e, "size");
		ct = json_object_get(e, "content_type");
		if (!json_is_object(e) ||
		    !json_is_string(json_object_get(e, "url")) ||
		    !(json_is_null(sha) || (json_is_string(sha) &&
		    media_name_valid(json_string_value(sha)))) ||
		    !(json_is_null(size) || (json_is_integer(size) &&
		    json_integer_value(size) >= 0)) ||
		    json_is_null(sha) != json_is_null(size) ||
		    !(ct == NULL || json_is_null(ct) || json_is_string(ct)))
			return 0;
		/* A Content-Type goes into headers: printable ASCII only. */
		if (json_is_string(ct) && (json_string_length(ct) >= 128 ||
		    !util_field_value(json_string_value(ct),
		    json_string_length(ct))))
			return 0;
	}
	return 1;
}

/* The fields of one import line, checked; why is set when it is refused. */
static int
import_line(struct cache *c, const char *line, size_t len,
    struct cache_row *row, const char **grants, char *etag, json_t **keep,
    const char **why)
{
	json_error_t jerr;
	json_t *o, *v, *g;
	struct record rec;
	const char *when;
	size_t i;

	*keep = NULL;
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		*why = "not JSON";
		return -1;
	}
	*keep = o;
	memset(row, 0, sizeof(*row));
	*why = "not an object with jobid, type, status, fetched_at, grants"
	    " and body";
	if (!json_is_object(o) ||
	    (row->jobid = json_string_value(json_object_get(o, "jobid"))) == NULL ||
	    (row->status = json_string_value(json_object_get(o, "status"))) == NULL ||
	    (when = json_string_value(json_object_get(o, "fetched_at"))) == NULL ||
	    !json_is_array(g = json_object_get(o, "grants")) ||
	    !json_is_string(v = json_object_get(o, "body")) ||
	    (json_object_get(o, "type") == NULL) ||
	    (!json_is_null(json_object_get(o, "type")) &&
	    !json_is_string(json_object_get(o, "type"))))
		return -1;
	row->type = json_string_value(json_object_get(o, "type"));
	row->body = json_string_value(v);
	row->len = json_string_length(v);
	if (!jobid_valid(row->jobid)) {
		*why = "invalid jobid";
		return -1;
	}
	if (util_parse_iso8601(when, &row->fetched_at) != 0) {
		*why = "fetched_at is not an ISO 8601 UTC date-time";
		return -1;
	}
	if (json_array_size(g) > GRANTS_MAX) {
		*why = "too many grants";
		return -1;
	}
	for (i = 0; i < json_array_size(g); i++) {
		const char *t = json_string_value(json_array_get(g, i));

		if (t == NULL || strlen(t) != TOKEN_ID_LEN ||
		    strspn(t, "0123456789abcdef") != TOKEN_ID_LEN) {
			*why = "a grant is not a token_id (64 lowercase hex digits)";
			return -1;
		}
		grants[i] = t;
	}
	row->grants = grants;
	row->ngrants = i;
	/* The body must be the finished job record the line says it is. */
	if (cache_parse_record(c, row->body, row->len, &rec) != 0 ||
	    !rec.terminal) {
		*why = "body is not a finished job record";
		return -1;
	}
	if (strcmp(rec.status, row->status) != 0 ||
	    strcmp(rec.type, row->type ? row->type : "") != 0) {
		*why = "type or status does not match the body";
		return -1;
	}
	if ((v = json_object_get(o, "owner")) != NULL &&
	    (!json_is_string(v) || !team_name_valid(json_string_value(v)))) {
		*why = "owner is not a member name";
		return -1;
	}
	row->owner = json_string_value(v);
	if ((v = json_object_get(o, "media")) != NULL && !media_list_ok(v)) {
		*why = "media is not a list of {url, sha256, size, content_type}";
		return -1;
	}
	record_etag(row->body, row->len, etag);
	return 0;
}

/* import: records the media list of the job just imported. */
static int
import_media(struct cache *c, const char *jobid, json_t *list, int64_t now)
{
	json_t *e;
	size_t i;

	if (cache_media_scan(c, jobid, now) < 0)
		return -1;
	json_array_foreach(list, i, e) {
		json_t *size = json_object_get(e, "size");

		/* A URL the stored record does not have (older line): skipped. */
		if (cache_media_import(c, jobid,
		    json_string_value(json_object_get(e, "url")),
		    json_string_value(json_object_get(e, "sha256")),
		    json_is_integer(size) ? (int64_t)json_integer_value(size) : 0,
		    json_string_value(json_object_get(e, "content_type")),
		    now) < 0)
			return -1;
	}
	return 0;
}

/* Import's progress: every PROGRESS_EVERY lines on a terminal, else fewer. */
static void
progress(const char *what, uint64_t n, int done)
{
	if (done || log_is_tty() || n % (PROGRESS_EVERY * 10) == 0)
		log_progress(done, "%s %llu", what, (unsigned long long)n);
}

int
admin_import(const struct config *cfg)
{
	struct cache *c = NULL;
	struct cache_row row;
	const char **grants = NULL, **extra = NULL, *why;
	char etag[ETAG_LEN + 1], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0, jobs = 0;
	int64_t now = util_now_ms();
	json_t *keep;
	int rc = 1, in_tx = 0;

	if ((grants = calloc(GRANTS_MAX, sizeof(*grants))) == NULL ||
	    (extra = calloc(cfg->ngrants + 1, sizeof(*extra))) == NULL) {
		fprintf(stderr, "lumaproxy import: out of memory\n");
		goto done;
	}
	for (size_t i = 0; i < cfg->ngrants; i++)
		extra[i] = cfg->grants[i];
	if ((c = open_cache("import", cfg->db)) == NULL)
		goto done;
	/* One transaction: a bad line leaves the database as it was. */
	if (cache_begin(c) != 0) {
		fprintf(stderr, "lumaproxy import: %s: cannot start a transaction"
		    " (database busy?)\n", cfg->db);
		goto done;
	}
	in_tx = 1;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		if ((size_t)n > IMPORT_LINE_MAX) {
			fprintf(stderr, "lumaproxy import: line %llu: too long;"
			    " nothing imported\n", (unsigned long long)lineno);
			goto done;
		}
		if (import_line(c, line, (size_t)n, &row, grants, etag, &keep,
		    &why) != 0) {
			fprintf(stderr, "lumaproxy import: line %llu: %s;"
			    " nothing imported\n", (unsigned long long)lineno, why);
			json_decref(keep);
			goto done;
		}
		if (cache_import_job(c, &row, etag, extra, cfg->ngrants) != 0 ||
		    import_media(c, row.jobid, json_object_get(keep, "media"),
		    now) != 0) {
			fprintf(stderr, "lumaproxy import: line %llu: cannot store"
			    " job %s; nothing imported\n",
			    (unsigned long long)lineno, row.jobid);
			json_decref(keep);
			goto done;
		}
		json_decref(keep);
		if (++jobs % PROGRESS_EVERY == 0)
			progress("import: lines read", jobs, 0);
	}
	if (ferror(stdin)) {
		perror("lumaproxy import: stdin");
		goto done;
	}
	if (cache_commit(c) != 0) {
		fprintf(stderr, "lumaproxy import: commit failed; nothing imported\n");
		goto done;
	}
	in_tx = 0;
	if (jobs >= PROGRESS_EVERY)
		progress("import: lines read", jobs, 1);
	fprintf(stderr, "lumaproxy import: %llu jobs read into %s\n",
	    (unsigned long long)jobs, cfg->db);
	rc = 0;
done:
	if (in_tx)
		cache_rollback(c);
	cache_close(c);
	free(line);
	free(grants);
	free(extra);
	return rc;
}

struct stats_acc {
	json_t		*jobs;
	int64_t		 total;
};

static void
stats_row(const char *type, const char *status, int64_t count, void *arg)
{
	struct stats_acc *a = arg;

	json_t *o = json_object();

	json_object_set_new(o, "type", type ? json_string(type) : json_null());
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "count", json_integer((json_int_t)count));
	json_array_append_new(a->jobs, o);
	a->total += count;
}

int
admin_stats(const struct config *cfg)
{
	struct stats_acc a;
	struct cache *c;
	json_t *out, *j;
	int64_t mirrored = 0, pending = 0, failed = 0;
	size_t i;
	char *s;
	int rc;

	if ((c = open_cache("stats", cfg->db)) == NULL)
		return 1;
	a.jobs = json_array();
	a.total = 0;
	rc = cache_stats(c, stats_row, &a);
	if (rc == 0)
		rc = cache_media_counts(c, &mirrored, &pending, &failed);
	out = json_pack("{s:o, s:{s:I, s:I, s:I}, s:I}", "jobs", a.jobs,
	    "media", "mirrored", (json_int_t)mirrored, "pending",
	    (json_int_t)pending, "failed", (json_int_t)failed,
	    "db_bytes", (json_int_t)cache_size(c));
	cache_close(c);
	if (rc != 0 || out == NULL) {
		fprintf(stderr, "lumaproxy stats: reading %s failed\n", cfg->db);
		json_decref(out);
		return 1;
	}
	if (cfg->json) {
		s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(s ? s : "{}");
		free(s);
	} else {
		printf("%-10s %-12s %10s\n", "type", "status", "jobs");
		json_array_foreach(json_object_get(out, "jobs"), i, j)
			printf("%-10s %-12s %10lld\n",
			    json_is_string(json_object_get(j, "type")) ?
			    json_string_value(json_object_get(j, "type")) : "-",
			    json_string_value(json_object_get(j, "status")),
			    (long long)json_integer_value(json_object_get(j, "count")));
		printf("%-10s %-12s %10lld\n", "all", "", (long long)a.total);
		printf("\n%-23s %10s\n", "media", "urls");
		printf("%-23s %10lld\n%-23s %10lld\n%-23s %10lld\n",
		    "mirrored", (long long)mirrored, "pending", (long long)pending,
		    "failed", (long long)failed);
		printf("\ndatabase %s: %.1f MB\n", cfg->db,
		    (double)json_integer_value(json_object_get(out, "db_bytes")) /
		    1e6);
	}
	json_decref(out);
	return fflush(stdout) == 0 ? 0 : 1;
}

struct purge_acc {
	struct cache	*c;
	uint64_t	 removed;
	char		**files;	/* media files to remove once committed */
	size_t		 nfiles;
};

/* cache_media_gc(): a media file nothing refers to any more. */
static int
purge_file(const char *dir, const char *sha256, void *arg)
{
	struct purge_acc *a = arg;
	char **p;
	size_t len = strlen(dir) + strlen(sha256) + 2;

	/* Only ever a file the mirror could have made. */
	if (dir[0] != '/' || !media_name_valid(sha256))
		return 0;
	if ((p = realloc(a->files, (a->nfiles + 1) * sizeof(*p))) == NULL)
		return -1;
	a->files = p;
	if ((p[a->nfiles] = malloc(len)) == NULL)
		return -1;
	snprintf(p[a->nfiles++], len, "%s/%s", dir, sha256);
	return 0;
}

static int
purge_one(const char *jobid, const char *status, void *arg)
{
	struct purge_acc *a = arg;
	int rc = cache_purge_job(a->c, jobid);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		printf("removed %s%s%s\n", jobid, status ? " " : "",
		    status ? status : "");
		a->removed++;
	}
	return 0;
}

int
admin_purge(const struct config *cfg)
{
	struct purge_acc a;
	int rc = 0;
	int64_t now = util_now_ms();

	memset(&a, 0, sizeof(a));
	if ((a.c = open_cache("purge", cfg->db)) == NULL)
		return 1;
	if (cache_begin(a.c) != 0) {
		fprintf(stderr, "lumaproxy purge: %s: database busy\n", cfg->db);
		cache_close(a.c);
		return 1;
	}
	if (cfg->older_than >= 0)
		rc = cache_list_older(a.c, now - cfg->older_than * 86400000,
		    cfg->status, purge_one, &a);
	for (int i = 0; rc == 0 && i < cfg->noperands; i++)
		rc = purge_one(cfg->operands[i], NULL, &a);
	if (rc == 0)
		rc = cache_media_gc(a.c, purge_file, &a);
	if (rc != 0 || cache_commit(a.c) != 0) {
		cache_rollback(a.c);
		fprintf(stderr, "lumaproxy purge: failed; nothing removed\n");
		rc = 1;
		goto done;
	}
	/* Files go once the database no longer refers to them. */
	for (size_t i = 0; i < a.nfiles; i++) {
		if (unlink(a.files[i]) == 0)
			printf("removed media %s\n", a.files[i]);
		else if (errno != ENOENT)
			fprintf(stderr, "lumaproxy purge: %s: %s\n", a.files[i],
			    strerror(errno));
	}
	printf("%llu job%s removed", (unsigned long long)a.removed,
	    a.removed == 1 ? "" : "s");
	if (a.nfiles > 0)
		printf(", %zu media file%s", a.nfiles, a.nfiles == 1 ? "" : "s");
	printf("\n");
done:
	cache_close(a.c);
	for (size_t i = 0; i < a.nfiles; i++)
		free(a.files[i]);
	free(a.files);
	return rc;
}

/* The mirror command's tally. */
struct mirror_acc {
	struct event_base	*base;
	int64_t			 total;
	uint64_t		 ok, already, failed;
	int			 tty;
	int			 interrupted;
	int64_t			 shown_at;
};

/* SIGINT/SIGTERM: stop; downloads in flight are dropped with their files. */
static void
mirror_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mirror_acc *a = arg;

	(void)sig;
	(void)what;
	a->interrupted = 1;
	event_base_loopbreak(a->base);
}

static void
mirror_progress(struct mirror_acc *a, int done)
{
	uint64_t n = a->ok + a->already + a->failed;
	int64_t now = util_mono_ms();

	/* In place on a terminal (a few times a second), else every file. */
	if (!done && a->tty && now - a->shown_at < 200 &&
	    (int64_t)n < a->total)
		return;
	a->shown_at = now;
	log_progress(done, "mirror: %llu/%lld media (%llu mirrored, %llu"
	    " already present, %llu failed)", (unsigned long long)n,
	    (long long)a->total, (unsigned long long)a->ok,
	    (unsigned long long)a->already, (unsigned long long)a->failed);
}

static void
mirror_done(const char *url, const char *reason, int already, void *arg)
{
	struct mirror_acc *a = arg;

	(void)url;
	if (already)
		a->already++;
	else if (reason != NULL)
		a->failed++;
	else
		a->ok++;
	if (!already)
		mirror_progress(a, 0);
	if ((int64_t)(a->ok + a->already + a->failed) == a->total &&
	    a->base != NULL)
		event_base_loopexit(a->base, NULL);
}

int
admin_mirror(const struct config *cfg)
{
	struct mirror_acc a;
	struct upstream_options uo;
	struct media_options mo;
	struct cache *c = NULL;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct upstream *up = NULL;
	struct media *m = NULL;
	struct media_mirror *mm = NULL;
	char err[1024];
	int rc = 1;

	if (media_check_dir(cfg->media_dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "lumaproxy mirror: %s\n", err);
		return 1;
	}
	/* Failures are summed up at the end; each one is a warning line. */
	log_init(LOG_WARN, LOG_TEXT);
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	a.tty = log_is_tty();
	memset(&uo, 0, sizeof(uo));
	uo.timeout_ms = (long)cfg->upstream_timeout * 1000;
	uo.max_body = 1;	/* unused: downloads are streamed */
	memset(&mo, 0, sizeof(mo));
	mo.dir = cfg->media_dir;
	mo.concurrency = (int)cfg->media_concurrency;
	mo.max_bytes = cfg->max_media_bytes;
	if ((c = open_cache("mirror", cfg->db)) == NULL)
		goto done;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (base = event_base_new()) == NULL ||
	    (up = upstream_new(base, &uo)) == NULL) {
		fprintf(stderr, "lumaproxy mirror: cannot set up the downloads\n");
		goto done;
	}
	if ((m = media_new(base, up, c, &mo, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lumaproxy mirror: %s\n", err);
		goto done;
	}
	a.base = base;
	if ((sigint = evsignal_new(base, SIGINT, mirror_signal, &a)) == NULL ||
	    (sigterm = evsignal_new(base, SIGTERM, mirror_signal, &a)) == NULL ||
	    event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0) {
		fprintf(stderr, "lumaproxy mirror: cannot set up the event loop\n");
		goto done;
	}
	if ((mm = media_mirror_new(m, base, mirror_done, &a)) == NULL ||
	    (a.total = media_mirror_start(mm)) < 0) {
		fprintf(stderr, "lumaproxy mirror: reading %s failed\n", cfg->db);
		goto done;
	}
	if ((int64_t)(a.ok + a.already + a.failed) < a.total)
		event_base_dispatch(base);
	if (a.total > 0 && a.tty)
		mirror_progress(&a, 1);
	printf("%lld media URLs: %llu mirrored, %llu already present,"
	    " %llu failed%s\n", (long long)a.total, (unsigned long long)a.ok,
	    (unsigned long long)a.already, (unsigned long long)a.failed,
	    a.interrupted ? "; interrupted, the rest not tried" : "");
	rc = a.failed > 0 || a.interrupted ? 1 : 0;
done:
	media_free(m);		/* no download reports to mm any more */
	media_mirror_free(mm);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	upstream_free(up);
	if (base != NULL)
		event_base_free(base);
	cache_close(c);
	curl_global_cleanup();
	return rc;
}
