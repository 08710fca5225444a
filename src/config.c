/*
 * The one option table of every command and its readers.  A row says which
 * commands take the option, its argument, its default and a number's range,
 * each written only there.  Serve reads --name value, --name=value and -x
 * value, then a -c file of name = value lines; the commands on a cache file
 * read their lines with getopt_long() as they always have (unique prefixes,
 * -dPATH, "--", options before operands).  Every value goes through one
 * setter, so all of them accept the same things.  The --help texts are
 * printed from the same rows.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_value.h"
#include "jobid.h"
#include "util.h"

enum opt_id {
	OPT_CONFIG, OPT_HELP, OPT_VERSION, OPT_LISTEN, OPT_UPSTREAM, OPT_DB,
	OPT_PENDING_INTERVAL, OPT_PENDING_MODE, OPT_NEGATIVE_TTL,
	OPT_UPSTREAM_TIMEOUT, OPT_MAX_UPSTREAM_BODY, OPT_MAX_REQUEST_BODY,
	OPT_MEMORY_CACHE, OPT_IDLE_TIMEOUT,
	OPT_MAX_CONNECTIONS,
	OPT_OFFLINE, OPT_LOG_LEVEL, OPT_LOG_FORMAT, OPT_ACCESS_LOG, OPT_MEDIA_DIR,
	OPT_MEDIA_CONCURRENCY, OPT_MAX_MEDIA_BYTES, OPT_REWRITE_MEDIA_URLS,
	OPT_PUBLIC_URL, OPT_STATUS, OPT_SINCE, OPT_MEDIA, OPT_GRANT,
	OPT_GRANT_FILE, OPT_JSON, OPT_OLDER_THAN, OPT_UPSTREAM_TOKEN_FILE,
	OPT_TEAM_VISIBILITY, OPT_DEFAULT_RPM, OPT_DEFAULT_MAX_RUNNING,
	OPT_DEFAULT_DAILY_CREDITS, OPT_WATCH_MAX_AGE, OPT_ADMIN, OPT_RPM,
	OPT_MAX_RUNNING, OPT_DAILY_CREDITS, OPT_EXPIRES, OPT_GRACE,
	OPT_MAX_WAIT, OPT_WATCH, OPT_NO_WATCH,
};

/* A row's cmds: the commands that take the option. */
#define CMD_SERVE	(1u << CONFIG_SERVE)
#define CMD_EXPORT	(1u << CONFIG_EXPORT)
#define CMD_IMPORT	(1u << CONFIG_IMPORT)
#define CMD_STATS	(1u << CONFIG_STATS)
#define CMD_PURGE	(1u << CONFIG_PURGE)
#define CMD_MIRROR	(1u << CONFIG_MIRROR)
#define CMD_KEYS	(1u << CONFIG_KEYS)
#define CMD_USAGE	(1u << CONFIG_USAGE_REPORT)
#define CMD_FILES	(CMD_EXPORT | CMD_IMPORT | CMD_STATS | CMD_PURGE | \
			 CMD_MIRROR | CMD_KEYS | CMD_USAGE)
#define CMD_ALL		(CMD_SERVE | CMD_FILES)

/*
 * One option.  Its default (as the command line would give it) and a
 * number's range are written here and nowhere else: config_defaults()
 * applies the defaults through the setter the command line uses, and every
 * command that takes the option gets them.
 */
struct opt_def {
	enum opt_id	 id;
	const char	*name;		/* long name, also the config file key */
	char		 shortname;	/* 0: none */
	unsigned	 cmds;		/* CMD_* */
	const char	*arg;		/* NULL: a flag */
	uint64_t	 min, max;	/* a number's range */
	const char	*dflt;		/* NULL: none (empty) */
	const char	*help;		/* serve's --help; NULL: not serve's */
};

static const struct opt_def opts[] = {
	{ OPT_CONFIG, "config", 'c', CMD_SERVE | CMD_KEYS | CMD_USAGE, "FILE", 0, 0, NULL, "read key = value settings from FILE" },
	{ OPT_LISTEN, "listen", 'l', CMD_SERVE, "HOST:PORT", 0, 0, "127.0.0.1:8080", "address to serve on ([::1]:8080 for IPv6)" },
	{ OPT_UPSTREAM, "upstream", 'u', CMD_SERVE, "URL", 0, 0, "https://api.useapi.net", "upstream API base URL (http or https)" },
	{ OPT_DB, "db", 'd', CMD_ALL, "PATH", 0, 0, "lumaproxy.db", "SQLite cache file" },
	{ OPT_PENDING_INTERVAL, "pending-interval", 0, CMD_SERVE, "SECONDS", 0, 86400, "5", "fetch an unfinished job at most this often per token" },
	{ OPT_PENDING_MODE, "pending-mode", 0, CMD_SERVE, "serve|reject", 0, 0, "serve", "within the interval: serve the last snapshot, or 429" },
	{ OPT_NEGATIVE_TTL, "negative-ttl", 0, CMD_SERVE, "SECONDS", 0, 86400 * 365, "30", "repeat upstream's 400/403/404 for this long" },
	{ OPT_UPSTREAM_TIMEOUT, "upstream-timeout", 0, CMD_SERVE | CMD_MIRROR, "SECONDS", 1, 3600, "30", "give up on upstream after this long (pass-through: this long idle)" },
	{ OPT_MAX_UPSTREAM_BODY, "max-upstream-body", 0, CMD_SERVE, "BYTES", 1024, 1024ULL << 20, "1048576", "largest upstream answer accepted" },
	{ OPT_MAX_REQUEST_BODY, "max-request-body", 0, CMD_SERVE, "BYTES", 0, 1ULL << 40, "67108864", "largest request body passed through (413 beyond)" },
	{ OPT_MEMORY_CACHE, "memory-cache", 0, CMD_SERVE, "BYTES", 0, 1ULL << 40, "67108864", "cache hits answered from memory, at most this many bytes of them (0: off)" },
	{ OPT_IDLE_TIMEOUT, "idle-timeout", 0, CMD_SERVE, "SECONDS", 1, 3600, "60", "close a client connection idle, stalled or slow to send a head this long" },
	{ OPT_MAX_CONNECTIONS, "max-connections", 0, CMD_SERVE, "N", 1, 1000000, "4096", "client connections served at once; more are answered 503" },
	{ OPT_OFFLINE, "offline", 0, CMD_SERVE, NULL, 0, 0, "off", "never call upstream; answer from the cache only" },
	{ OPT_LOG_LEVEL, "log-level", 0, CMD_SERVE, "LEVEL", 0, 0, "info", "debug, info, warn or error" },
	{ OPT_LOG_FORMAT, "log-format", 0, CMD_SERVE, "FORMAT", 0, 0, "text", "text or json" },
	{ OPT_ACCESS_LOG, "access-log", 0, CMD_SERVE, "WHERE", 0, 0, "stderr", "request lines to stderr, off, or a file PATH (appended to, reopened on SIGUSR1)" },
	{ OPT_MEDIA_DIR, "media-dir", 0, CMD_SERVE | CMD_MIRROR, "DIR", 0, 0, NULL, "mirror the media of completed jobs into DIR (off when not given)" },
	{ OPT_MEDIA_CONCURRENCY, "media-concurrency", 0, CMD_SERVE | CMD_MIRROR, "N", 1, 64, "2", "media downloads at once" },
	{ OPT_MAX_MEDIA_BYTES, "max-media-bytes", 0, CMD_SERVE | CMD_MIRROR, "BYTES", 1, 1ULL << 44, "2147483648", "largest media file mirrored" },
	{ OPT_REWRITE_MEDIA_URLS, "rewrite-media-urls", 0, CMD_SERVE, NULL, 0, 0, "off", "job answers link to mirrored media here (implied by --offline with --media-dir)" },
	{ OPT_PUBLIC_URL, "public-url", 0, CMD_SERVE, "URL", 0, 0, NULL, "base URL of rewritten media links (http:// and the listen address when not given)" },
	{ OPT_UPSTREAM_TOKEN_FILE, "upstream-token-file", 0, CMD_SERVE, "FILE", 0, 0, NULL, "team gateway: call upstream with the token in FILE, clients with member keys (see lumaproxy keys)" },
	{ OPT_TEAM_VISIBILITY, "team-visibility", 0, CMD_SERVE, "own|shared", 0, 0, "own", "team gateway: members see their own jobs, or every job of the account" },
	{ OPT_DEFAULT_RPM, "default-rpm", 0, CMD_SERVE | CMD_KEYS, "N", 0, 1000000, "0", "team gateway: submissions per minute of a new key (0: unlimited)" },
	{ OPT_DEFAULT_MAX_RUNNING, "default-max-running", 0, CMD_SERVE | CMD_KEYS, "N", 0, 1000000, "0", "team gateway: unfinished submitted jobs of a new key (0: unlimited)" },
	{ OPT_DEFAULT_DAILY_CREDITS, "default-daily-credits", 0, CMD_SERVE | CMD_KEYS, "N", 0, 1000000000000ULL, "0", "team gateway: credits a new key may use in 24 h (0: unlimited)" },
	{ OPT_MAX_WAIT, "max-wait", 0, CMD_SERVE, "SECONDS", 0, 3600, "60", "longest wait a client may ask for (Prefer: wait=N or ?wait=N)" },
	{ OPT_WATCH, "watch", 0, CMD_SERVE, NULL, 0, 0, "on", "fetch jobs submitted through the proxy once per pending-interval until finished" },
	{ OPT_NO_WATCH, "no-watch", 0, CMD_SERVE, NULL, 0, 0, NULL, "the same as --watch=false" },
	{ OPT_WATCH_MAX_AGE, "watch-max-age", 0, CMD_SERVE, "SECONDS", 60, 86400 * 365, "86400", "stop watching a submitted job after this long (and, with limits, counting it as running)" },
	{ OPT_HELP, "help", 'h', CMD_ALL, NULL, 0, 0, NULL, "show this help and exit" },
	{ OPT_VERSION, "version", 'V', CMD_SERVE, NULL, 0, 0, NULL, "show the version and exit" },
	/* The commands' own (SPEC 8); their synopses below show them. */
	{ OPT_STATUS, "status", 0, CMD_EXPORT | CMD_PURGE, "S", 0, 0, NULL, NULL },
	{ OPT_SINCE, "since", 0, CMD_EXPORT | CMD_USAGE, "DATE", 0, 0, NULL, NULL },
	{ OPT_MEDIA, "media", 0, CMD_EXPORT, NULL, 0, 0, NULL, NULL },
	{ OPT_GRANT, "grant", 0, CMD_IMPORT, "TOKEN", 0, 0, NULL, NULL },
	{ OPT_GRANT_FILE, "grant-file", 0, CMD_IMPORT, "FILE", 0, 0, NULL, NULL },
	{ OPT_JSON, "json", 0, CMD_STATS | CMD_KEYS | CMD_USAGE, NULL, 0, 0, NULL, NULL },
	{ OPT_OLDER_THAN, "older-than", 0, CMD_PURGE, "DAYS", 0, 365 * 1000, NULL, NULL },
	{ OPT_ADMIN, "admin", 0, CMD_KEYS, NULL, 0, 0, NULL, NULL },
	{ OPT_RPM, "rpm", 0, CMD_KEYS, "N", 0, 1000000, NULL, NULL },
	{ OPT_MAX_RUNNING, "max-running", 0, CMD_KEYS, "N", 0, 1000000, NULL, NULL },
	{ OPT_DAILY_CREDITS, "daily-credits", 0, CMD_KEYS, "N", 0, 1000000000000ULL, NULL, NULL },
	{ OPT_EXPIRES, "expires", 0, CMD_KEYS, "DATE", 0, 0, NULL, NULL },
	{ OPT_GRACE, "grace", 0, CMD_KEYS, "SECONDS", 0, 86400 * 365, NULL, NULL },
};

/* The commands: names, --help lines, what they take besides options. */
static const struct command {
	const char	*name;
	const char	*summary;	/* in serve's --help */
	const char	*synopsis;	/* options without their argument */
	const char	*no_operands;	/* why operands are refused; NULL: taken */
} commands[] = {
	[CONFIG_SERVE] = { "serve", NULL, NULL, NULL },
	[CONFIG_EXPORT] = { "export",
	    "write finished jobs as JSON Lines (--media: with their media)",
	    "[--db] [--status] [--since] [--media]",
	    "takes no operands" },
	[CONFIG_IMPORT] = { "import",
	    "read such lines into the cache",
	    "[--db] [--grant]... [--grant-file]",
	    "takes no operands (lines come on stdin)" },
	[CONFIG_STATS] = { "stats",
	    "jobs by type and status, media, database size",
	    "[--db] [--json]",
	    "takes no operands" },
	[CONFIG_PURGE] = { "purge",
	    "remove jobs by jobid or age, and media nothing else uses",
	    "[--db] (JOBID... | --older-than [--status])",
	    NULL },
	[CONFIG_MIRROR] = { "mirror",
	    "download the media of completed jobs, then exit",
	    "[--db] --media-dir [--media-concurrency]\n"
	    "[--max-media-bytes] [--upstream-timeout]",
	    "takes no operands" },
	[CONFIG_KEYS] = { "keys",
	    "team gateway: add, list, set, revoke, rotate member keys; log",
	    "[-c FILE] [--db] add NAME [--admin] [--rpm]\n"
	    "[--max-running] [--daily-credits] [--expires]\n"
	    "set NAME [--admin[=false]] [--rpm] [--max-running]\n"
	    "[--daily-credits] [--expires]\n"
	    "list [--json] | log [--json] | revoke NAME\n"
	    "rotate NAME [--grace]",
	    NULL },
	[CONFIG_USAGE_REPORT] = { "usage",
	    "team gateway: requests, jobs and credits per member",
	    "[-c FILE] [--db] [--since] [--json]",
	    "takes no operands" },
};

/* getopt_long() values of the rows: OPT_VAL + index into opts. */
#define OPT_VAL		256

static void	say(char *, size_t, enum config_command, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Writes "lumaproxy[ COMMAND]: " and the message into err. */
static void
say(char *err, size_t errlen, enum config_command cmd, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cmd == CONFIG_SERVE)
		n = snprintf(err, errlen, "lumaproxy: ");
	else
		n = snprintf(err, errlen, "lumaproxy %s: ", commands[cmd].name);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Adds the token_id of a raw token; fails silently when there are too many. */
static int
add_grant(struct config *cfg, const char *tok, size_t len,
    const char **err)
{
	void *p;

	*err = NULL;
	if (cfg->ngrants >= CONFIG_GRANTS_MAX || (p = realloc(cfg->grants,
	    (cfg->ngrants + 1) * sizeof(*cfg->grants))) == NULL)
		return -1;
	cfg->grants = p;
	auth_token_id(tok, len, cfg->grants[cfg->ngrants++]);
	return 0;
}

/* One token per line; blank lines and # comments are skipped. */
static int
read_grant_file(struct config *cfg, const char *path,
    const char **err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (f == NULL) {
		*err = strerror(errno);
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		    line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		rc = add_grant(cfg, line, (size_t)n, err);
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

/* A number within o's range. */
static int
set_uint64(uint64_t *out, const char *v, const struct opt_def *o,
    const char **err)
{
	return parse_uint(v, o->min, o->max, out, err);
}

static int
set_int64(int64_t *out, const char *v, const struct opt_def *o,
    const char **err)
{
	uint64_t n;

	if (parse_uint(v, o->min, o->max, &n, err) != 0)
		return -1;
	*out = (int64_t)n;
	return 0;
}

/*
 * Applies one option's value to cfg (flags get "true"/"false").  A string
 * option of the commands (--status) keeps v itself.  On failure *err says
 * why, or is NULL when there is nothing to add.
 */
static int
config_set(struct config *cfg, const struct opt_def *o, const char *v,
    const char **err)
{
	static const char *const modes[] = { "serve", "reject" };
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	static const char *const formats[] = { "text", "json" };
	static const char *const visibilities[] = { "own", "shared" };
	int choice, rc;

	switch (o->id) {
	case OPT_LISTEN:
		return config_value_listen(cfg->listen_host,
		    sizeof(cfg->listen_host), &cfg->listen_port, v, err);
	case OPT_UPSTREAM:
		return config_value_url(cfg->upstream, sizeof(cfg->upstream), v, err);
	case OPT_PUBLIC_URL:
		return config_value_url(cfg->public_url, sizeof(cfg->public_url), v, err);
	case OPT_MEDIA_DIR:
		return config_value_path(cfg->media_dir, sizeof(cfg->media_dir), v, err);
	case OPT_MEDIA_CONCURRENCY:
		return set_int64(&cfg->media_concurrency, v, o, err);
	case OPT_MAX_MEDIA_BYTES:
		return set_uint64(&cfg->max_media_bytes, v, o, err);
	case OPT_REWRITE_MEDIA_URLS:
		return config_value_bool(&cfg->rewrite_media_urls, v, err);
	case OPT_DB:
		return config_value_path(cfg->db, sizeof(cfg->db), v, err);
	case OPT_PENDING_INTERVAL:
		return set_int64(&cfg->pending_interval, v, o, err);
	case OPT_NEGATIVE_TTL:
		return set_int64(&cfg->negative_ttl, v, o, err);
	case OPT_UPSTREAM_TIMEOUT:
		return set_int64(&cfg->upstream_timeout, v, o, err);
	case OPT_MAX_UPSTREAM_BODY:
		return set_uint64(&cfg->max_upstream_body, v, o, err);
	case OPT_MAX_REQUEST_BODY:
		return set_uint64(&cfg->max_request_body, v, o, err);
	case OPT_MEMORY_CACHE:
		return set_uint64(&cfg->memory_cache, v, o, err);
	case OPT_IDLE_TIMEOUT:
		return set_int64(&cfg->idle_timeout, v, o, err);
	case OPT_MAX_CONNECTIONS:
		return set_uint64(&cfg->max_connections, v, o, err);
	case OPT_OFFLINE:
		return config_value_bool(&cfg->offline, v, err);
	case OPT_PENDING_MODE:
		rc = config_value_choice(&choice, v, modes, nitems(modes), err);
		if (rc == 0)
			cfg->pending_mode = (enum pending_mode)choice;
		return rc;
	case OPT_LOG_LEVEL:
		rc = config_value_choice(&choice, v, levels, nitems(levels), err);
		if (rc == 0)
			cfg->log_level = (enum log_level)choice;
		return rc;
	case OPT_ACCESS_LOG:
		return config_value_path(cfg->access_log, sizeof(cfg->access_log),
		    v, err);
	case OPT_LOG_FORMAT:
		rc = config_value_choice(&choice, v, formats, nitems(formats), err);
		if (rc == 0)
			cfg->log_format = (enum log_format)choice;
		return rc;
	case OPT_STATUS:
		cfg->status = v;
		return 0;
	case OPT_SINCE:
		return config_value_since(&cfg->since, v, err);
	case OPT_MEDIA:
		return config_value_bool(&cfg->export_media, v, err);
	case OPT_GRANT:
		return add_grant(cfg, v, strlen(v), err);
	case OPT_GRANT_FILE:
		return read_grant_file(cfg, v, err);
	case OPT_JSON:
		return config_value_bool(&cfg->json, v, err);
	case OPT_OLDER_THAN:
		return set_int64(&cfg->older_than, v, o, err);
	case OPT_UPSTREAM_TOKEN_FILE:
		return config_value_path(cfg->upstream_token_file,
		    sizeof(cfg->upstream_token_file), v, err);
	case OPT_TEAM_VISIBILITY:
		return config_value_choice(&cfg->team_shared, v, visibilities,
		    nitems(visibilities), err);
	case OPT_DEFAULT_RPM:
		return set_int64(&cfg->default_limits.rpm, v, o, err);
	case OPT_DEFAULT_MAX_RUNNING:
		return set_int64(&cfg->default_limits.max_running, v, o, err);
	case OPT_DEFAULT_DAILY_CREDITS:
		return set_int64(&cfg->default_limits.daily_credits, v, o, err);
	case OPT_WATCH_MAX_AGE:
		return set_int64(&cfg->watch_max_age, v, o, err);
	case OPT_MAX_WAIT:
		return set_int64(&cfg->max_wait, v, o, err);
	case OPT_WATCH:
		return config_value_bool(&cfg->watch, v, err);
	case OPT_NO_WATCH:
		rc = config_value_bool(&cfg->watch, v, err);
		cfg->watch = !cfg->watch;
		return rc;
	case OPT_ADMIN:
		return config_value_bool(&cfg->key.admin, v, err);
	case OPT_RPM:
		return set_int64(&cfg->key.rpm, v, o, err);
	case OPT_MAX_RUNNING:
		return set_int64(&cfg->key.max_running, v, o, err);
	case OPT_DAILY_CREDITS:
		return set_int64(&cfg->key.daily_credits, v, o, err);
	case OPT_EXPIRES:
		if (strcmp(v, "never") == 0) {
			cfg->key.expires = CONFIG_NEVER;
			return 0;
		}
		return config_value_since(&cfg->key.expires, v, err);
	case OPT_GRACE:
		return set_int64(&cfg->key.grace, v, o, err);
	case OPT_CONFIG:
	case OPT_HELP:
	case OPT_VERSION:
		break;
	}
	return 0;
}

void
config_defaults(struct config *cfg)
{
	const char *err;
	size_t i;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->since = -1;
	cfg->older_than = -1;
	cfg->key.admin = -1;
	cfg->key.rpm = -1;
	cfg->key.max_running = -1;
	cfg->key.daily_credits = -1;
	cfg->key.expires = -1;
	cfg->key.grace = -1;
	for (i = 0; i < nitems(opts); i++)
		if (opts[i].dflt != NULL) {
			rc = config_set(cfg, &opts[i], opts[i].dflt, &err);
			assert(rc == 0);
			(void)rc;
		}
}

int
config_find_command(const char *word, enum config_command *cmd)
{
	size_t i;

	for (i = 0; i < nitems(commands); i++)
		if (strcmp(word, commands[i].name) == 0) {
			*cmd = (enum config_command)i;
			return 0;
		}
	return -1;
}

/* The row called name[0..len) among those taken by the commands in cmds. */
static const struct opt_def *
find_long(const char *name, size_t len, unsigned cmds)
{
	size_t i;

	for (i = 0; i < nitems(opts); i++)
		if ((opts[i].cmds & cmds) && strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt_def *
find_short(char c, unsigned cmds)
{
	size_t i;

	for (i = 0; i < nitems(opts); i++)
		if ((opts[i].cmds & cmds) && opts[i].shortname == c)
			return &opts[i];
	return NULL;
}

/*
 * Walks serve's argv once.  With cfg NULL, only finds -c/-h/-V and checks
 * the shape; otherwise applies every option to cfg.
 */
static enum config_result
walk_args(struct config *cfg, int argc, char *const *argv, const char **cfile,
    char *err, size_t errlen)
{
	enum config_result result = CONFIG_OK;
	const struct opt_def *o;
	const char *a, *v, *why;
	int i;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		v = NULL;
		if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
			const char *eq = strchr(a + 2, '=');

			o = find_long(a + 2, eq ? (size_t)(eq - a - 2) :
			    strlen(a + 2), CMD_SERVE);
			/* --flag=false lets the command line undo the file. */
			if (o != NULL && eq != NULL) {
				if (o->arg == NULL && (o->id == OPT_HELP ||
				    o->id == OPT_VERSION)) {
					say(err, errlen, CONFIG_SERVE,
					    "option --%s takes no value", o->name);
					return CONFIG_ERROR;
				}
				v = eq + 1;
			}
		} else if (a[0] == '-' && a[1] != '\0' && a[2] == '\0')
			o = find_short(a[1], CMD_SERVE);
		else {
			say(err, errlen, CONFIG_SERVE, "unexpected argument '%s'",
			    a);
			return CONFIG_ERROR;
		}
		if (o == NULL) {
			say(err, errlen, CONFIG_SERVE,
			    "unknown option '%s' (see --help)", a);
			return CONFIG_ERROR;
		}
		if (o->arg != NULL && v == NULL) {
			if (i + 1 >= argc) {
				say(err, errlen, CONFIG_SERVE,
				    "option --%s needs a value (%s)", o->name,
				    o->arg);
				return CONFIG_ERROR;
			}
			v = argv[++i];
		}
		if (o->id == OPT_HELP && result == CONFIG_OK)
			result = CONFIG_HELP;
		else if (o->id == OPT_VERSION && result == CONFIG_OK)
			result = CONFIG_VERSION;
		else if (o->id == OPT_CONFIG)
			*cfile = v;
		if (cfg != NULL && config_set(cfg, o, v ? v : "true", &why) != 0) {
			say(err, errlen, CONFIG_SERVE, "option --%s: '%s': %s",
			    o->name, v, why);
			return CONFIG_ERROR;
		}
	}
	return result;
}

/* serve: defaults, then the -c file, then the command line. */
static enum config_result
parse_serve(struct config *cfg, int argc, char *const *argv, char *err,
    size_t errlen)
{
	const char *cfile = NULL;
	enum config_result r;
	char why[1024];

	r = walk_args(NULL, argc, argv, &cfile, err, errlen);
	if (r != CONFIG_OK)
		return r;
	if (cfile != NULL && config_load_file(cfg, cfile, why,
	    sizeof(why)) != 0) {
		say(err, errlen, CONFIG_SERVE, "%s", why);
		return CONFIG_ERROR;
	}
	return walk_args(cfg, argc, argv, &cfile, err, errlen);
}

/*
 * A bad value on a command's line, worded as these commands always have:
 * the argument as given for the options they share with serve, the
 * option's name for their own, the file as perror() would for --grant-file.
 */
static void
bad_value(char *err, size_t errlen, enum config_command cmd,
    const struct opt_def *o, const char *given, const char *v,
    const char *why)
{
	if (why == NULL)
		err[0] = '\0';
	else if (o->id == OPT_GRANT_FILE)
		snprintf(err, errlen, "%s: %s", v, why);
	else if (o->id == OPT_SINCE)
		say(err, errlen, cmd, "--%s: %s: %s", o->name, why, v);
	else if (!(o->cmds & CMD_SERVE))
		say(err, errlen, cmd, "--%s: %s", o->name, why);
	else
		say(err, errlen, cmd, "%s: %s", given, why);
}

/* A command's operands, and the options it cannot do without. */
static enum config_result
check_operands(const struct config *cfg, enum config_command cmd, char *err,
    size_t errlen)
{
	int i;

	if (commands[cmd].no_operands != NULL && cfg->noperands > 0) {
		say(err, errlen, cmd, "%s", commands[cmd].no_operands);
		return CONFIG_USAGE;
	}
	if (cmd == CONFIG_KEYS && cfg->noperands == 0) {
		say(err, errlen, cmd, "say what to do: add, list, set, revoke,"
		    " rotate or log");
		return CONFIG_USAGE;
	}
	if (cmd == CONFIG_MIRROR && cfg->media_dir[0] == '\0') {
		say(err, errlen, cmd, "--media-dir DIR is required");
		return CONFIG_USAGE;
	}
	if (cmd != CONFIG_PURGE)
		return CONFIG_OK;
	if ((cfg->noperands > 0) == (cfg->older_than >= 0)) {
		say(err, errlen, cmd, "give either jobids or --older-than DAYS");
		return CONFIG_USAGE;
	}
	if (cfg->status != NULL && cfg->older_than < 0) {
		say(err, errlen, cmd, "--status goes with --older-than");
		return CONFIG_USAGE;
	}
	for (i = 0; i < cfg->noperands; i++)
		if (!jobid_valid(cfg->operands[i])) {
			say(err, errlen, cmd, "invalid jobid '%s'",
			    cfg->operands[i]);
			return CONFIG_ERROR;
		}
	return CONFIG_OK;
}

/*
 * A command on a cache file.  getopt_long() knows the options cmd takes
 * (unique prefixes among them); any other is refused.
 * keys takes options anywhere among its words (keys add NAME --rpm 5);
 * the others end their options at the first operand.  A -c file (keys,
 * usage) is read in a first pass, so that the command line beats it.
 */
static enum config_result
parse_command(struct config *cfg, enum config_command cmd, int argc,
    char *const *argv, char *err, size_t errlen)
{
	struct option longopts[nitems(opts) + 1];
	char shortopts[2 * nitems(opts) + 2], **av;
	const struct opt_def *o;
	enum config_result r = CONFIG_ERROR;
	const char *why;
	char line[1024];
	size_t i, nlong = 0, nshort = 0;
	int c, pass;

	if (cmd != CONFIG_KEYS)
		shortopts[nshort++] = '+';
	for (i = 0; i < nitems(opts); i++) {
		if (!(opts[i].cmds & (1u << cmd)))
			continue;
		longopts[nlong].name = opts[i].name;
		longopts[nlong].has_arg = opts[i].arg != NULL ?
		    required_argument : opts[i].id == OPT_ADMIN ?
		    optional_argument : no_argument;
		longopts[nlong].flag = NULL;
		longopts[nlong++].val = OPT_VAL + (int)i;
		if (opts[i].shortname != 0) {
			shortopts[nshort++] = opts[i].shortname;
			if (opts[i].arg != NULL)
				shortopts[nshort++] = ':';
		}
	}
	memset(&longopts[nlong], 0, sizeof(longopts[nlong]));
	shortopts[nshort] = '\0';
	/* getopt_long() starts at argv[1]: the command's name goes first. */
	if (cmd == CONFIG_KEYS) {	/* permuted: the operands point into it */
		if ((size_t)argc + 2 > nitems(cfg->keys_words)) {
			say(err, errlen, cmd, "too many arguments");
			return CONFIG_USAGE;
		}
		av = cfg->keys_words;
	} else if ((av = calloc((size_t)argc + 2, sizeof(*av))) == NULL) {
		say(err, errlen, cmd, "out of memory");
		return CONFIG_ERROR;
	}
	av[0] = (char *)commands[cmd].name;
	if (argc > 0)
		memcpy(av + 1, argv, (size_t)argc * sizeof(*av));
	opterr = 0;
	for (pass = 0; pass < 2; pass++) {
		optind = 0;	/* start afresh */
		while ((c = getopt_long(argc + 1, av, shortopts, longopts,
		    NULL)) != -1) {
			if (c >= OPT_VAL)
				o = &opts[c - OPT_VAL];
			else
				o = c != '?' ? find_short((char)c, CMD_FILES) :
				    NULL;
			if (o == NULL || !(o->cmds & (1u << cmd))) {
				say(err, errlen, cmd,
				    "unknown or misplaced option '%s'",
				    av[optind - 1]);
				r = CONFIG_USAGE;
				goto done;
			}
			if (o->id == OPT_HELP) {
				r = CONFIG_HELP;
				goto done;
			}
			if ((o->id == OPT_CONFIG) != (pass == 0))
				continue;
			if (o->id == OPT_CONFIG) {
				if (config_load_file(cfg, optarg, line,
				    sizeof(line)) != 0) {
					say(err, errlen, cmd, "%s", line);
					goto done;
				}
			} else if (config_set(cfg, o, optarg != NULL ? optarg :
			    "true", &why) != 0) {
				bad_value(err, errlen, cmd, o, av[optind - 1],
				    optarg, why);
				goto done;
			}
		}
	}
	if (cmd == CONFIG_KEYS)
		cfg->operands = av + optind;
	else				/* not permuted */
		cfg->operands = argv + optind - 1;
	cfg->noperands = argc + 1 - optind;
	r = check_operands(cfg, cmd, err, errlen);
done:
	if (av != cfg->keys_words)
		free(av);
	return r;
}

enum config_result
config_parse(struct config *cfg, enum config_command cmd, int argc,
    char *const *argv, char *err, size_t errlen)
{
	config_defaults(cfg);
	err[0] = '\0';
	if (cmd == CONFIG_SERVE)
		return parse_serve(cfg, argc, argv, err, errlen);
	return parse_command(cfg, cmd, argc, argv, err, errlen);
}

/* Trims spaces at both ends of s in place; returns the new start. */
static char *
trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int
config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	const struct opt_def *o;
	char line[8192], *key, *val, *p;
	const char *why;
	unsigned lineno = 0;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			goto done;
		}
		/* '#' starts a comment at the start of a line or after a space. */
		for (p = line; *p != '\0'; p++)
			if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
				*p = '\0';
				break;
			}
		key = trim(line);
		if (*key == '\0')
			continue;
		if ((p = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "%s:%u: expected 'key = value'",
			    path, lineno);
			goto done;
		}
		*p = '\0';
		key = trim(key);
		val = trim(p + 1);
		o = find_long(key, strlen(key), CMD_SERVE);
		if (o == NULL || o->id == OPT_CONFIG || o->id == OPT_HELP ||
		    o->id == OPT_VERSION) {
			snprintf(err, errlen, "%s:%u: unknown key '%s'", path,
			    lineno, key);
			goto done;
		}
		if (config_set(cfg, o, val, &why) != 0) {
			snprintf(err, errlen, "%s:%u: %s: '%s': %s", path, lineno,
			    key, val, why);
			goto done;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto done;
	}
	rc = 0;
done:
	fclose(f);
	return rc;
}

/* serve's options with their defaults, and the other commands. */
static void
usage_serve(FILE *fp)
{
	char left[64];
	size_t i;

	fprintf(fp,
	    "usage: lumaproxy [serve] [options]\n"
	    "\n"
	    "A caching proxy for the useapi.net Luma API.  Point clients at it\n"
	    "instead of https://api.useapi.net: finished jobs are answered from a\n"
	    "SQLite cache, polling of unfinished jobs reaches upstream at most once\n"
	    "per job and token per pending-interval.  Every other path under /v1/\n"
	    "is passed through unchanged.  GET /healthz and GET /metrics (Prometheus)\n"
	    "report on the proxy itself.  With --media-dir, the videos and images of\n"
	    "completed jobs are mirrored and served under /media/<sha256>.\n"
	    "\n"
	    "options (each also a 'key = value' line in the -c file; the command\n"
	    "line beats the file, the file beats the defaults):\n");
	for (i = 0; i < nitems(opts); i++) {
		const struct opt_def *o = &opts[i];

		if (!(o->cmds & CMD_SERVE))
			continue;
		if (o->shortname)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortname,
			    o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(fp, "  %-32s %s", left, o->help);
		if (o->dflt != NULL)
			fprintf(fp, " (default: %s)", o->dflt);
		fputc('\n', fp);
	}
	fprintf(fp,
	    "\n"
	    "signals: SIGINT or SIGTERM stop accepting, finish requests in flight\n"
	    "(at most 5 s), close the database and exit 0.\n"
	    "\n"
	    "other commands, on a cache file (lumaproxy COMMAND --help):\n");
	for (i = CONFIG_EXPORT; i < nitems(commands); i++)
		fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

/*
 * The synopses of the commands on a cache file, each option with its row's
 * argument; a new line in a synopsis continues under its first option.
 */
static void
usage_commands(FILE *fp)
{
	const struct opt_def *o;
	const char *s;
	size_t i, n;
	int indent;

	for (i = CONFIG_EXPORT; i < nitems(commands); i++) {
		indent = fprintf(fp, "%-7slumaproxy %-6s ",
		    i == CONFIG_EXPORT ? "usage:" : "", commands[i].name);
		for (s = commands[i].synopsis; *s != '\0'; s += n) {
			n = 1;
			if (*s == '\n')
				fprintf(fp, "\n%*s", indent, "");
			else if (strncmp(s, "--", 2) == 0) {
				n = 2 + strcspn(s + 2, " [])=\n");
				o = find_long(s + 2, n - 2, CMD_ALL);
				assert(o != NULL);
				fprintf(fp, "%.*s%s%s", (int)n, s,
				    o->arg ? " " : "", o->arg ? o->arg : "");
			} else
				fputc(*s, fp);
		}
		fputc('\n', fp);
	}
}

void
config_usage(FILE *fp, enum config_command cmd)
{
	if (cmd == CONFIG_SERVE)
		usage_serve(fp);
	else
		usage_commands(fp);
}

void
config_free(struct config *cfg)
{
	free(cfg->grants);
	cfg->grants = NULL;
	cfg->ngrants = 0;
}

int
config_rewrites_media(const struct config *cfg)
{
	return cfg->media_dir[0] != '\0' &&
	    (cfg->rewrite_media_urls || cfg->offline);
}
