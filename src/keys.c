/*
 * The keys and usage commands (SPEC 10), once config.c has read their
 * command lines: member keys are made here (getrandom(2), base64url by
 * libcrypto), printed once and handed to cache_keys.c only as their
 * SHA-256 (auth_token_id()).  A change is one transaction that waits for
 * a running server's writes rather than failing.  The words after "keys"
 * are checked before the database is opened, so that a bad command line
 * changes nothing and creates no file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "keys.h"
#include "team.h"
#include "util.h"

#define BUSY_TIMEOUT_MS		10000	/* one wait for another's lock */
#define BUSY_WAIT_MS		60000	/* what a change waits in all */
#define CHANGES_MAX		512	/* a members_log row's changes */
#define TIME_LEN		21	/* "2026-11-29T03:40:08Z" */
#define CELL_MAX		80	/* a text table's cell */
#define SHOWN_MAX		80	/* a word repeated in a message */

/* The options a subcommand takes, besides -c, --db and --default-*. */
#define KO_ADMIN		0x01u
#define KO_LIMITS		0x02u	/* --rpm, --max-running, --daily-credits */
#define KO_EXPIRES		0x04u
#define KO_GRACE		0x08u
#define KO_JSON			0x10u

static int	keys_add(struct cache *, const struct config *, const char *);
static int	keys_list(struct cache *, const struct config *, const char *);
static int	keys_set(struct cache *, const struct config *, const char *);
static int	keys_revoke(struct cache *, const struct config *,
		    const char *);
static int	keys_rotate(struct cache *, const struct config *,
		    const char *);
static int	keys_log(struct cache *, const struct config *, const char *);

/* The subcommands: the word, whether NAME follows, the options taken. */
static const struct keys_command {
	const char	*word;
	int		 named;
	unsigned	 takes;		/* KO_* */
	int		(*run)(struct cache *, const struct config *,
			    const char *name);
} commands[] = {
	{ "add", 1, KO_ADMIN | KO_LIMITS | KO_EXPIRES, keys_add },
	{ "list", 0, KO_JSON, keys_list },
	{ "set", 1, KO_ADMIN | KO_LIMITS | KO_EXPIRES, keys_set },
	{ "revoke", 1, 0, keys_revoke },
	{ "rotate", 1, KO_GRACE, keys_rotate },
	{ "log", 0, KO_JSON, keys_log },
};

void
keys_encode(const unsigned char raw[KEYS_RAW_LEN], char *key)
{
	unsigned char b64[4 * ((KEYS_RAW_LEN + 2) / 3) + 1];
	int n, i;

	n = EVP_EncodeBlock(b64, raw, KEYS_RAW_LEN);
	assert(n == (int)sizeof(b64) - 1);
	memcpy(key, "lp_", 3);
	/* base64url (RFC 4648 section 5) without its padding. */
	for (i = 0; i < n && b64[i] != '='; i++)
		key[3 + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' :
		    (char)b64[i];
	assert(3 + i == KEYS_KEY_LEN);
	key[KEYS_KEY_LEN] = '\0';
	explicit_bzero(b64, sizeof(b64));
}

int
keys_generate(char *key)
{
	unsigned char raw[KEYS_RAW_LEN];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			explicit_bzero(raw, sizeof(raw));
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	keys_encode(raw, key);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* A word from the command line, as a message may repeat it. */
static const char *
shown(const char *s)
{
	size_t n = strlen(s);

	return n <= SHOWN_MAX && util_field_value(s, n) ? s : "(not shown)";
}

static void	fail(const char *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* One line on stderr: "lumaproxy WHAT: " and the message. */
static void
fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lumaproxy %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ms since the epoch as "2026-11-29T03:40:08Z" (buf: TIME_LEN bytes). */
static void
iso_time(int64_t ms, char *buf)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, TIME_LEN, "?");
}

/* A time as JSON: the ISO 8601 string, or null for -1. */
static json_t *
json_time(int64_t ms)
{
	char when[TIME_LEN];

	if (ms < 0)
		return json_null();
	iso_time(ms, when);
	return json_string(when);
}

/*
 * Opens the cache at path for the command called what.  Unless create is
 * set, a missing file is an error, not a new database.
 */
static struct cache *
open_cache(const char *what, const char *path, int create)
{
	struct cache *c;
	char err[1024];

	if (!create && access(path, F_OK) != 0) {
		if (errno == ENOENT)
			fail(what, "%s: no such database", path);
		else
			fail(what, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((c = cache_open(path, err, sizeof(err))) == NULL) {
		fail(what, "%s", err);
		return NULL;
	}
	cache_set_busy_timeout(c, BUSY_TIMEOUT_MS);
	return c;
}

/* Starts a change, or says why not: 0, or 1 (the exit status). */
static int
change_begin(struct cache *c, const char *what, const char *db)
{
	switch (cache_keys_begin(c, BUSY_WAIT_MS)) {
	case 0:
		return 0;
	case 1:
		fail(what, "%s: another program kept the database busy for"
		    " %d s; nothing changed", db, BUSY_WAIT_MS / 1000);
		return 1;
	default:
		fail(what, "%s: cannot start a transaction; nothing changed",
		    db);
		return 1;
	}
}

/* Ends a change with its log row: 0, or 1 once said why not. */
static int
change_commit(struct cache *c, const char *what, const char *db,
    int64_t now, const char *action, const char *name, const char *changes)
{
	if (cache_keys_commit(c, now, action, name, changes) == 0)
		return 0;
	fail(what, "%s: the change could not be written; nothing changed", db);
	return 1;
}

/* Abandons a change after a database error. */
static int
change_failed(struct cache *c, const char *what, const char *db)
{
	cache_keys_rollback(c);
	fail(what, "%s: database error; nothing changed", db);
	return 1;
}

/* Appends to buf[0..len) what fmt says, after a ", " unless it is empty. */
static void	add_change(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
add_change(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n > 0 && n + 2 < len) {
		memcpy(buf + n, ", ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* An expiry in words: the date-time, or "never". */
static const char *
expiry(int64_t ms, char *buf)
{
	if (ms < 0)
		return "never";
	iso_time(ms, buf);
	return buf;
}

/* What a member has, as add logs it (and revoke, what it removed). */
static void
describe(const struct cache_keys_member *m, char *buf, size_t len)
{
	char when[TIME_LEN];

	snprintf(buf, len, "admin=%s rpm=%lld max_running=%lld"
	    " daily_credits=%lld expires=%s", m->admin ? "yes" : "no",
	    (long long)m->rpm, (long long)m->max_running,
	    (long long)m->daily_credits, expiry(m->expires, when));
}

/*
 * Prints a new key, alone on its line, once the change that made it is
 * committed: 0, or 1 when it could not be written.
 */
static int
show_key(const char *what, const char *name, const char *key)
{
	if (printf("%s\n", key) < 0 || fflush(stdout) != 0) {
		fail(what, "stdout: %s; %s's new key is lost: rotate it",
		    strerror(errno), name);
		return 1;
	}
	fprintf(stderr, "lumaproxy %s: %s's key is shown only this once:"
	    " only its SHA-256 is stored\n", what, name);
	return 0;
}

/* The value given on the command line, or the default. */
static int64_t
given_or(int64_t given, int64_t dflt)
{
	return given >= 0 ? given : dflt;
}

static int
keys_add(struct cache *c, const struct config *cfg, const char *name)
{
	struct cache_keys_member m;
	char key[KEYS_KEY_LEN + 1], hash[TOKEN_ID_LEN + 1];
	char changes[CHANGES_MAX];
	int64_t now = util_now_ms();
	int rc = 1;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.admin = cfg->key.admin == 1;
	m.rpm = given_or(cfg->key.rpm, cfg->default_limits.rpm);
	m.max_running = given_or(cfg->key.max_running,
	    cfg->default_limits.max_running);
	m.daily_credits = given_or(cfg->key.daily_credits,
	    cfg->default_limits.daily_credits);
	m.created = now;
	m.expires = cfg->key.expires == CONFIG_NEVER ? -1 : cfg->key.expires;
	m.last_used = -1;
	describe(&m, changes, sizeof(changes));
	if (keys_generate(key) != 0) {
		fail("keys add", "no random bytes: %s", strerror(errno));
		return 1;
	}
	auth_token_id(key, strlen(key), hash);
	if (change_begin(c, "keys add", cfg->db) != 0)
		goto done;
	switch (cache_keys_add(c, &m, hash)) {
	case 0:
		break;
	case 1:
		cache_keys_rollback(c);
		fail("keys add", "%s: there is a member of that name already",
		    name);
		goto done;
	default:
		change_failed(c, "keys add", cfg->db);
		goto done;
	}
	if (change_commit(c, "keys add", cfg->db, now, "add", name,
	    changes) != 0)
		goto done;
	rc = show_key("keys add", name, key);
done:
	explicit_bzero(key, sizeof(key));
	return rc;
}

/*
 * Within a change: member name into *m.  0, or 1 (rolled back, said why)
 * when there is no such member or the read failed.
 */
static int
get_member(struct cache *c, const char *what, const char *db,
    const char *name, struct cache_keys_member *m)
{
	switch (cache_keys_get(c, name, m)) {
	case 1:
		return 0;
	case 0:
		cache_keys_rollback(c);
		fail(what, "%s: no such member", name);
		return 1;
	default:
		return change_failed(c, what, db);
	}
}

static int
keys_set(struct cache *c, const struct config *cfg, const char *name)
{
	struct cache_keys_member m;
	char changes[CHANGES_MAX] = "", was[TIME_LEN], to[TIME_LEN];
	int64_t now = util_now_ms();

	if (change_begin(c, "keys set", cfg->db) != 0 ||
	    get_member(c, "keys set", cfg->db, name, &m) != 0)
		return 1;
	if (cfg->key.admin >= 0) {
		add_change(changes, sizeof(changes), "admin %s -> %s",
		    m.admin ? "yes" : "no", cfg->key.admin ? "yes" : "no");
		m.admin = cfg->key.admin != 0;
	}
	if (cfg->key.rpm >= 0) {
		add_change(changes, sizeof(changes), "rpm %lld -> %lld",
		    (long long)m.rpm, (long long)cfg->key.rpm);
		m.rpm = cfg->key.rpm;
	}
	if (cfg->key.max_running >= 0) {
		add_change(changes, sizeof(changes), "max_running %lld -> %lld",
		    (long long)m.max_running, (long long)cfg->key.max_running);
		m.max_running = cfg->key.max_running;
	}
	if (cfg->key.daily_credits >= 0) {
		add_change(changes, sizeof(changes),
		    "daily_credits %lld -> %lld", (long long)m.daily_credits,
		    (long long)cfg->key.daily_credits);
		m.daily_credits = cfg->key.daily_credits;
	}
	if (cfg->key.expires >= 0) {
		int64_t e = cfg->key.expires == CONFIG_NEVER ? -1 :
		    cfg->key.expires;

		add_change(changes, sizeof(changes), "expires %s -> %s",
		    expiry(m.expires, was), expiry(e, to));
		m.expires = e;
	}
	if (cache_keys_set(c, &m) != 1)
		return change_failed(c, "keys set", cfg->db);
	if (change_commit(c, "keys set", cfg->db, now, "set", name,
	    changes) != 0)
		return 1;
	fprintf(stderr, "lumaproxy keys set: %s: %s\n", name, changes);
	return 0;
}

static int
keys_revoke(struct cache *c, const struct config *cfg, const char *name)
{
	struct cache_keys_member m;
	char changes[CHANGES_MAX];
	int64_t now = util_now_ms();

	if (change_begin(c, "keys revoke", cfg->db) != 0 ||
	    get_member(c, "keys revoke", cfg->db, name, &m) != 0)
		return 1;
	describe(&m, changes, sizeof(changes));
	if (cache_keys_revoke(c, name) != 1)
		return change_failed(c, "keys revoke", cfg->db);
	if (change_commit(c, "keys revoke", cfg->db, now, "revoke", name,
	    changes) != 0)
		return 1;
	fprintf(stderr, "lumaproxy keys revoke: %s: removed, with its key\n",
	    name);
	return 0;
}

static int
keys_rotate(struct cache *c, const struct config *cfg, const char *name)
{
	struct cache_keys_member m;
	char key[KEYS_KEY_LEN + 1], hash[TOKEN_ID_LEN + 1];
	char changes[CHANGES_MAX], until[TIME_LEN];
	int64_t now = util_now_ms(), grace = given_or(cfg->key.grace, 0);
	int rc = 1;

	if (keys_generate(key) != 0) {
		fail("keys rotate", "no random bytes: %s", strerror(errno));
		return 1;
	}
	auth_token_id(key, strlen(key), hash);
	snprintf(changes, sizeof(changes), "grace %lld s", (long long)grace);
	if (change_begin(c, "keys rotate", cfg->db) != 0 ||
	    get_member(c, "keys rotate", cfg->db, name, &m) != 0)
		goto done;
	if (cache_keys_rotate(c, name, hash, grace > 0 ?
	    now + grace * 1000 : -1) != 1) {
		change_failed(c, "keys rotate", cfg->db);
		goto done;
	}
	if (change_commit(c, "keys rotate", cfg->db, now, "rotate", name,
	    changes) != 0)
		goto done;
	if ((rc = show_key("keys rotate", name, key)) != 0)
		goto done;
	if (grace > 0) {
		iso_time(now + grace * 1000, until);
		fprintf(stderr, "lumaproxy keys rotate: the old key works until"
		    " %s\n", until);
	} else
		fprintf(stderr, "lumaproxy keys rotate: the old key no longer"
		    " works\n");
done:
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* A column of a text table. */
struct column {
	const char	*group;		/* a heading over several, or NULL */
	const char	*head;
	int		 right;		/* aligned to the right (numbers) */
	const char	*key;		/* in the row's JSON object */
	const char	*sub;		/* in that value, or NULL */
	const char	*zero;		/* how 0 reads, or NULL */
	const char	*null;		/* how null reads, or NULL: "-" */
};

/* The text of row's cell in column col into buf (CELL_MAX bytes). */
static void
cell(json_t *row, const struct column *col, char *buf)
{
	json_t *v = json_object_get(row, col->key);

	if (col->sub != NULL)
		v = json_object_get(v, col->sub);
	if (json_is_string(v))
		snprintf(buf, CELL_MAX, "%s", json_string_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, CELL_MAX, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_integer(v) && json_integer_value(v) == 0 &&
	    col->zero != NULL)
		snprintf(buf, CELL_MAX, "%s", col->zero);
	else if (json_is_integer(v))
		snprintf(buf, CELL_MAX, "%lld",
		    (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, CELL_MAX, "%.15g", json_real_value(v));
	else
		snprintf(buf, CELL_MAX, "%s", col->null ? col->null : "-");
}

/* Prints n times c. */
static void
repeat(int c, int n)
{
	while (n-- > 0)
		putchar(c);
}

/* Prints one cell padded to width (the last column's text is not padded). */
static void
print_cell(const struct column *col, int width, int first, int last,
    const char *text)
{
	int n = (int)strlen(text);

	if (!first)
		fputs("  ", stdout);
	if (col->right)
		repeat(' ', width - n);
	fputs(text, stdout);
	if (!col->right && !last)
		repeat(' ', width - n);
}

/*
 * Prints rows (JSON objects) as a table under a heading line, two spaces
 * between columns.  Neighbouring columns of a group get one more heading
 * line: the group's name centred in dashes over them.
 */
static void
print_table(const struct column *cols, size_t ncols, json_t *rows)
{
	char buf[CELL_MAX];
	int width[16], span, left, grouped = 0, at = 0;
	size_t i, j, g, r, n;
	json_t *row;

	assert(ncols <= nitems(width));
	for (i = 0; i < ncols; i++) {
		width[i] = (int)strlen(cols[i].head);
		json_array_foreach(rows, r, row) {
			cell(row, &cols[i], buf);
			if ((int)strlen(buf) > width[i])
				width[i] = (int)strlen(buf);
		}
	}
	/* Each group over columns i..j-1, made wide enough for its name. */
	for (i = 0; i < ncols; i = j) {
		for (j = i + 1; j < ncols && cols[j].group == cols[i].group; j++)
			;
		for (span = -2, g = i; g < j; g++)
			span += width[g] + 2;
		if (cols[i].group == NULL) {
			at += span + 2;
			continue;
		}
		n = strlen(cols[i].group) + 2;
		if (span < (int)n) {
			width[j - 1] += (int)n - span;
			span = (int)n;
		}
		repeat(' ', at);
		left = (span - (int)n) / 2;
		repeat('-', left);
		printf(" %s ", cols[i].group);
		repeat('-', span - (int)n - left);
		grouped = 1;
		at = 2;
	}
	if (grouped)
		putchar('\n');
	for (i = 0; i < ncols; i++)
		print_cell(&cols[i], width[i], i == 0, i + 1 == ncols,
		    cols[i].head);
	putchar('\n');
	json_array_foreach(rows, r, row) {
		for (i = 0; i < ncols; i++) {
			cell(row, &cols[i], buf);
			print_cell(&cols[i], width[i], i == 0, i + 1 == ncols,
			    buf);
		}
		putchar('\n');
	}
}

/* keys list: a member as a JSON object, appended to the array arg. */
static int
list_member(const struct cache_keys_member *m, void *arg)
{
	json_t *o;

	o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:o, s:o, s:o}",
	    "name", m->name, "admin", m->admin,
	    "rpm", (json_int_t)m->rpm, "max_running", (json_int_t)m->max_running,
	    "daily_credits", (json_int_t)m->daily_credits,
	    "created", json_time(m->created), "expires", json_time(m->expires),
	    "last_used", json_time(m->last_used));
	return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : -1;
}

/* Prints v as one line of compact JSON: 0, or -1. */
static int
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);
	int rc = s != NULL && puts(s) != EOF ? 0 : -1;

	free(s);
	return rc;
}

/* Flushes stdout: 0, or 1 once said why not. */
static int
flush_out(const char *what)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail(what, "stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}

static int
keys_list(struct cache *c, const struct config *cfg, const char *name)
{
	static const struct column cols[] = {
		{ NULL, "name", 0, "name", NULL, NULL, NULL },
		{ NULL, "admin", 0, "admin", NULL, NULL, NULL },
		{ NULL, "rpm", 1, "rpm", NULL, "unlimited", NULL },
		{ NULL, "max_running", 1, "max_running", NULL, "unlimited",
		    NULL },
		{ NULL, "daily_credits", 1, "daily_credits", NULL, "unlimited",
		    NULL },
		{ NULL, "created", 0, "created", NULL, NULL, NULL },
		{ NULL, "expires", 0, "expires", NULL, NULL, "never" },
		{ NULL, "last_used", 0, "last_used", NULL, NULL, "never" },
	};
	json_t *rows = json_array();
	int rc = 1;

	(void)name;
	if (rows == NULL || cache_keys_list(c, list_member, rows) != 0) {
		fail("keys list", "reading %s failed", cfg->db);
		goto done;
	}
	if (cfg->json) {
		if (print_json(rows) != 0) {
			fail("keys list", "cannot write the list");
			goto done;
		}
	} else
		print_table(cols, nitems(cols), rows);
	rc = flush_out("keys list");
done:
	json_decref(rows);
	return rc;
}

/* keys log: one row, as a text line or a JSON line. */
static int
log_row(int64_t at, const char *action, const char *name,
    const char *changes, void *arg)
{
	const struct config *cfg = arg;
	char when[TIME_LEN];
	json_t *o;
	int rc;

	if (!cfg->json) {
		iso_time(at, when);
		return printf("%s %s %s %s\n", when, action, name, changes) < 0 ?
		    -1 : 0;
	}
	o = json_pack("{s:o, s:s, s:s, s:s}", "time", json_time(at),
	    "action", action, "name", name, "changes", changes);
	rc = o != NULL ? print_json(o) : -1;
	json_decref(o);
	return rc;
}

static int
keys_log(struct cache *c, const struct config *cfg, const char *name)
{
	(void)name;
	if (cache_keys_log(c, log_row, (void *)cfg) != 0) {
		fail("keys log", "reading %s failed", cfg->db);
		return 1;
	}
	return flush_out("keys log");
}

/* The first option given that the subcommand does not take, or NULL. */
static const char *
stray_option(const struct config *cfg, unsigned takes)
{
	const struct {
		int		 given;
		unsigned	 ko;
		const char	*name;
	} opts[] = {
		{ cfg->key.admin >= 0, KO_ADMIN, "--admin" },
		{ cfg->key.rpm >= 0, KO_LIMITS, "--rpm" },
		{ cfg->key.max_running >= 0, KO_LIMITS, "--max-running" },
		{ cfg->key.daily_credits >= 0, KO_LIMITS, "--daily-credits" },
		{ cfg->key.expires >= 0, KO_EXPIRES, "--expires" },
		{ cfg->key.grace >= 0, KO_GRACE, "--grace" },
		{ cfg->json, KO_JSON, "--json" },
	};
	size_t i;

	for (i = 0; i < nitems(opts); i++)
		if (opts[i].given && !(takes & opts[i].ko))
			return opts[i].name;
	return NULL;
}

/* Why name is no member name ("" when it is one). */
static const char *
name_problem(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (team_name_valid(name))
		return "";
	if (n == 0)
		return "a name cannot be empty";
	if (n > TEAM_NAME_MAX)
		snprintf(buf, len, "a name has at most %d characters, this"
		    " one %zu", TEAM_NAME_MAX, n);
	else
		snprintf(buf, len, "invalid name '%s': a name is made of"
		    " A-Z a-z 0-9 . _ -", shown(name));
	return buf;
}

int
keys_run(const struct config *cfg)
{
	const struct keys_command *k = NULL;
	const char *word, *name = NULL, *opt, *why;
	char what[32], buf[256];
	struct cache *c;
	size_t i;
	int rc;

	/* config.c refuses keys without a word. */
	assert(cfg->noperands > 0);
	word = cfg->operands[0];
	for (i = 0; i < nitems(commands); i++)
		if (strcmp(word, commands[i].word) == 0)
			k = &commands[i];
	if (k == NULL) {
		fail("keys", "unknown subcommand '%s' (add, list, set, revoke,"
		    " rotate or log)", shown(word));
		return 2;
	}
	snprintf(what, sizeof(what), "keys %s", k->word);
	if (k->named && cfg->noperands < 2) {
		fail(what, "NAME is missing");
		return 2;
	}
	if (cfg->noperands > (k->named ? 2 : 1)) {
		fail(what, "unexpected word '%s'",
		    shown(cfg->operands[k->named ? 2 : 1]));
		return 2;
	}
	if (k->named) {
		name = cfg->operands[1];
		if (*(why = name_problem(name, buf, sizeof(buf))) != '\0') {
			fail(what, "%s", why);
			return 2;
		}
	}
	if ((opt = stray_option(cfg, k->takes)) != NULL) {
		fail(what, "%s does not go with %s", opt, k->word);
		return 2;
	}
	if (k->run == keys_set && cfg->key.admin < 0 && cfg->key.rpm < 0 &&
	    cfg->key.max_running < 0 && cfg->key.daily_credits < 0 &&
	    cfg->key.expires < 0) {
		fail(what, "nothing to change: give --admin[=false], --rpm,"
		    " --max-running, --daily-credits or --expires");
		return 2;
	}
	if ((c = open_cache(what, cfg->db, k->run == keys_add)) == NULL)
		return 1;
	rc = k->run(c, cfg, name);
	cache_close(c);
	return rc;
}

/* usage: a member's sums as a JSON object, appended to the array arg. */
static int
usage_member(const struct cache_keys_usage *u, void *arg)
{
	json_t *o, *credits;

	/* Whole credits read as integers, as upstream counts them. */
	if (u->credits > -9e15 && u->credits < 9e15 &&
	    (double)(json_int_t)u->credits == u->credits)
		credits = json_integer((json_int_t)u->credits);
	else
		credits = json_real(u->credits);
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o,"
	    " s:{s:I, s:I, s:I}}", "name", u->name,
	    "requests", (json_int_t)u->requests, "hits", (json_int_t)u->hits,
	    "upstream_calls", (json_int_t)u->upstream_calls,
	    "submissions", (json_int_t)u->submissions,
	    "completed", (json_int_t)u->completed,
	    "failed", (json_int_t)u->failed, "credits", credits,
	    "refused", "rpm", (json_int_t)u->refused_rpm,
	    "max_running", (json_int_t)u->refused_running,
	    "daily_credits", (json_int_t)u->refused_credits);
	return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : -1;
}

int
keys_usage_run(const struct config *cfg)
{
	static const struct column cols[] = {
		{ NULL, "name", 0, "name", NULL, NULL, NULL },
		{ NULL, "requests", 1, "requests", NULL, NULL, NULL },
		{ NULL, "hits", 1, "hits", NULL, NULL, NULL },
		{ NULL, "upstream", 1, "upstream_calls", NULL, NULL, NULL },
		{ NULL, "submissions", 1, "submissions", NULL, NULL, NULL },
		{ NULL, "completed", 1, "completed", NULL, NULL, NULL },
		{ NULL, "failed", 1, "failed", NULL, NULL, NULL },
		{ NULL, "credits", 1, "credits", NULL, NULL, NULL },
		{ "refused", "rpm", 1, "refused", "rpm", NULL, NULL },
		{ "refused", "max_running", 1, "refused", "max_running", NULL,
		    NULL },
		{ "refused", "daily_credits", 1, "refused", "daily_credits",
		    NULL, NULL },
	};
	struct cache *c;
	json_t *rows = json_array(), *out = NULL;
	int rc = 1;

	if ((c = open_cache("usage", cfg->db, 0)) == NULL)
		goto done;
	if (rows == NULL ||
	    cache_keys_usage(c, cfg->since, usage_member, rows) != 0) {
		fail("usage", "reading %s failed", cfg->db);
		goto done;
	}
	if (cfg->json) {
		out = json_pack("{s:O}", "members", rows);
		if (out == NULL || print_json(out) != 0) {
			fail("usage", "cannot write the report");
			goto done;
		}
	} else
		print_table(cols, nitems(cols), rows);
	rc = flush_out("usage");
done:
	json_decref(out);
	json_decref(rows);
	cache_close(c);
	return rc;
}
