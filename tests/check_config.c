/*
 * Unit tests of config.c: the defaults of SPEC 5, every serve option from
 * the command line (--name value, --name=value, short forms), rejections
 * that name the option, the -c file (FILE:LINE in errors, command line
 * beats file beats defaults), -h / -V, and the usage text; then the other
 * commands through the same table: the defaults they share with serve,
 * their own options and operands, and the exact wording of their errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "config.h"
#include "util.h"

/* Parses a NULL-terminated argument list. */
static enum config_result
parse_list(struct config *cfg, char *err, size_t errlen, char *const *argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	err[0] = '\0';
	/* Whatever cfg held before, parsing starts from the defaults. */
	memset(cfg, 0xa5, sizeof(*cfg));
	return config_parse(cfg, CONFIG_SERVE, argc, argv, err, errlen);
}

#define PARSE(cfg, err, ...) \
	parse_list((cfg), (err), sizeof(err), (char *const[]){ __VA_ARGS__, NULL })

static void
assert_defaults(const struct config *c)
{
	ck_assert_str_eq(c->listen_host, "127.0.0.1");
	ck_assert_uint_eq(c->listen_port, 8080);
	ck_assert_str_eq(c->upstream, "https://api.useapi.net");
	ck_assert_str_eq(c->db, "lumaproxy.db");
	ck_assert_int_eq(c->pending_interval, 5);
	ck_assert_int_eq(c->pending_mode, PENDING_SERVE);
	ck_assert_int_eq(c->negative_ttl, 30);
	ck_assert_int_eq(c->upstream_timeout, 30);
	ck_assert_uint_eq(c->max_upstream_body, 1048576);
	ck_assert_uint_eq(c->max_connections, 4096);
	ck_assert_uint_eq(c->memory_cache, 67108864);
	ck_assert_int_eq(c->idle_timeout, 60);
	ck_assert_int_eq(c->offline, 0);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->log_format, LOG_TEXT);
	ck_assert_str_eq(c->access_log, "stderr");
	ck_assert_str_eq(c->media_dir, "");
	ck_assert_int_eq(c->media_concurrency, 2);
	ck_assert_uint_eq(c->max_media_bytes, 2147483648ULL);
	ck_assert_int_eq(c->rewrite_media_urls, 0);
	ck_assert_str_eq(c->public_url, "");
	ck_assert_int_eq(config_rewrites_media(c), 0);
}

START_TEST(test_defaults)
{
	struct config cfg;
	char err[512];

	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	assert_defaults(&cfg);

	memset(&cfg, 0xa5, sizeof(cfg));
	ck_assert_int_eq(config_parse(&cfg, CONFIG_SERVE, 0, NULL, err,
	    sizeof(err)),
	    CONFIG_OK);
	assert_defaults(&cfg);
}
END_TEST

enum field {
	F_LISTEN, F_UPSTREAM, F_DB, F_PENDING_INTERVAL, F_PENDING_MODE,
	F_NEGATIVE_TTL, F_UPSTREAM_TIMEOUT, F_MAX_UPSTREAM_BODY, F_MAX_REQUEST_BODY,
	F_MAX_CONNECTIONS, F_MEMORY_CACHE, F_IDLE_TIMEOUT, F_OFFLINE, F_LOG_LEVEL,
	F_LOG_FORMAT, F_ACCESS_LOG, F_MEDIA_DIR, F_MEDIA_CONCURRENCY, F_MAX_MEDIA_BYTES,
	F_REWRITE, F_PUBLIC_URL,
};

struct opt_case {
	const char	*a0, *a1;	/* one or two arguments */
	enum field	 f;
	const char	*s;		/* expected string (host for F_LISTEN) */
	int64_t		 n;		/* expected number (port for F_LISTEN) */
};

static const struct opt_case opt_cases[] = {
	{ "--listen", "0.0.0.0:9090", F_LISTEN, "0.0.0.0", 9090 },
	{ "--listen=0.0.0.0:9091", NULL, F_LISTEN, "0.0.0.0", 9091 },
	{ "-l", "localhost:0", F_LISTEN, "localhost", 0 },
	{ "-l", "127.0.0.2:1", F_LISTEN, "127.0.0.2", 1 },
	{ "--listen", "127.0.0.1:65535", F_LISTEN, "127.0.0.1", 65535 },
	{ "--listen", "[::1]:8080", F_LISTEN, "::1", 8080 },
	{ "-l", "[::]:0", F_LISTEN, "::", 0 },
	{ "--listen=[fe80::1]:4443", NULL, F_LISTEN, "fe80::1", 4443 },
	{ "--upstream", "http://127.0.0.1:9999", F_UPSTREAM, "http://127.0.0.1:9999", 0 },
	{ "--upstream=https://example.com", NULL, F_UPSTREAM, "https://example.com", 0 },
	{ "-u", "https://example.com/", F_UPSTREAM, "https://example.com", 0 },
	{ "-u", "http://[::1]:8081/base", F_UPSTREAM, "http://[::1]:8081/base", 0 },
	{ "--db", "/tmp/x.db", F_DB, "/tmp/x.db", 0 },
	{ "--db=rel/cache.db", NULL, F_DB, "rel/cache.db", 0 },
	{ "-d", "other.db", F_DB, "other.db", 0 },
	{ "--pending-interval", "7", F_PENDING_INTERVAL, NULL, 7 },
	{ "--pending-interval=12", NULL, F_PENDING_INTERVAL, NULL, 12 },
	{ "--pending-interval", "0", F_PENDING_INTERVAL, NULL, 0 },
	{ "--pending-mode", "reject", F_PENDING_MODE, NULL, PENDING_REJECT },
	{ "--pending-mode=serve", NULL, F_PENDING_MODE, NULL, PENDING_SERVE },
	{ "--negative-ttl", "0", F_NEGATIVE_TTL, NULL, 0 },
	{ "--negative-ttl=600", NULL, F_NEGATIVE_TTL, NULL, 600 },
	{ "--upstream-timeout", "1", F_UPSTREAM_TIMEOUT, NULL, 1 },
	{ "--upstream-timeout=120", NULL, F_UPSTREAM_TIMEOUT, NULL, 120 },
	{ "--max-upstream-body", "2097152", F_MAX_UPSTREAM_BODY, NULL, 2097152 },
	{ "--max-upstream-body=65536", NULL, F_MAX_UPSTREAM_BODY, NULL, 65536 },
	{ "--max-request-body", "0", F_MAX_REQUEST_BODY, NULL, 0 },
	{ "--max-request-body=1048576", NULL, F_MAX_REQUEST_BODY, NULL, 1048576 },
	{ "--max-connections", "10", F_MAX_CONNECTIONS, NULL, 10 },
	{ "--max-connections=100000", NULL, F_MAX_CONNECTIONS, NULL, 100000 },
	{ "--memory-cache", "0", F_MEMORY_CACHE, NULL, 0 },
	{ "--memory-cache=1048576", NULL, F_MEMORY_CACHE, NULL, 1048576 },
	{ "--idle-timeout", "1", F_IDLE_TIMEOUT, NULL, 1 },
	{ "--idle-timeout=3600", NULL, F_IDLE_TIMEOUT, NULL, 3600 },
	{ "--offline", NULL, F_OFFLINE, NULL, 1 },
	{ "--offline=false", NULL, F_OFFLINE, NULL, 0 },
	{ "--offline=true", NULL, F_OFFLINE, NULL, 1 },
	{ "--log-level", "debug", F_LOG_LEVEL, NULL, LOG_DEBUG },
	{ "--log-level", "info", F_LOG_LEVEL, NULL, LOG_INFO },
	{ "--log-level=warn", NULL, F_LOG_LEVEL, NULL, LOG_WARN },
	{ "--log-level", "error", F_LOG_LEVEL, NULL, LOG_ERROR },
	{ "--log-format", "json", F_LOG_FORMAT, NULL, LOG_JSON },
	{ "--log-format=text", NULL, F_LOG_FORMAT, NULL, LOG_TEXT },
	{ "--access-log", "off", F_ACCESS_LOG, "off", 0 },
	{ "--access-log=/var/log/lp/access.log", NULL, F_ACCESS_LOG,
	  "/var/log/lp/access.log", 0 },
	{ "--media-dir", "/var/media", F_MEDIA_DIR, "/var/media", 0 },
	{ "--media-dir=m", NULL, F_MEDIA_DIR, "m", 0 },
	{ "--media-concurrency", "1", F_MEDIA_CONCURRENCY, NULL, 1 },
	{ "--media-concurrency=64", NULL, F_MEDIA_CONCURRENCY, NULL, 64 },
	{ "--max-media-bytes", "1", F_MAX_MEDIA_BYTES, NULL, 1 },
	{ "--max-media-bytes=536870912", NULL, F_MAX_MEDIA_BYTES, NULL, 536870912 },
	{ "--rewrite-media-urls", NULL, F_REWRITE, NULL, 1 },
	{ "--rewrite-media-urls=false", NULL, F_REWRITE, NULL, 0 },
	{ "--public-url", "https://media.example.com/", F_PUBLIC_URL, "https://media.example.com", 0 },
	{ "--public-url=http://[::1]:8080/lp", NULL, F_PUBLIC_URL, "http://[::1]:8080/lp", 0 },
};

/* Checks the field of case c in cfg. */
static void
assert_field(const struct opt_case *c, const struct config *cfg)
{
	switch (c->f) {
	case F_LISTEN:
		ck_assert_str_eq(cfg->listen_host, c->s);
		ck_assert_uint_eq(cfg->listen_port, (unsigned)c->n);
		break;
	case F_UPSTREAM:
		ck_assert_str_eq(cfg->upstream, c->s);
		break;
	case F_DB:
		ck_assert_str_eq(cfg->db, c->s);
		break;
	case F_PENDING_INTERVAL:
		ck_assert_int_eq(cfg->pending_interval, c->n);
		break;
	case F_PENDING_MODE:
		ck_assert_int_eq(cfg->pending_mode, c->n);
		break;
	case F_NEGATIVE_TTL:
		ck_assert_int_eq(cfg->negative_ttl, c->n);
		break;
	case F_UPSTREAM_TIMEOUT:
		ck_assert_int_eq(cfg->upstream_timeout, c->n);
		break;
	case F_MAX_UPSTREAM_BODY:
		ck_assert_uint_eq(cfg->max_upstream_body, (uint64_t)c->n);
		break;
	case F_MAX_REQUEST_BODY:
		ck_assert_uint_eq(cfg->max_request_body, (uint64_t)c->n);
		break;
	case F_MAX_CONNECTIONS:
		ck_assert_uint_eq(cfg->max_connections, (uint64_t)c->n);
		break;
	case F_MEMORY_CACHE:
		ck_assert_uint_eq(cfg->memory_cache, (uint64_t)c->n);
		break;
	case F_IDLE_TIMEOUT:
		ck_assert_int_eq(cfg->idle_timeout, c->n);
		break;
	case F_OFFLINE:
		ck_assert_int_eq(cfg->offline, c->n);
		break;
	case F_LOG_LEVEL:
		ck_assert_int_eq(cfg->log_level, c->n);
		break;
	case F_LOG_FORMAT:
		ck_assert_int_eq(cfg->log_format, c->n);
		break;
	case F_MEDIA_DIR:
		ck_assert_str_eq(cfg->media_dir, c->s);
		break;
	case F_ACCESS_LOG:
		ck_assert_str_eq(cfg->access_log, c->s);
		break;
	case F_MEDIA_CONCURRENCY:
		ck_assert_int_eq(cfg->media_concurrency, c->n);
		break;
	case F_MAX_MEDIA_BYTES:
		ck_assert_uint_eq(cfg->max_media_bytes, (uint64_t)c->n);
		break;
	case F_REWRITE:
		ck_assert_int_eq(cfg->rewrite_media_urls, c->n);
		break;
	case F_PUBLIC_URL:
		ck_assert_str_eq(cfg->public_url, c->s);
		break;
	}
}

START_TEST(test_option)
{
	const struct opt_case *c = &opt_cases[_i];
	struct config cfg;
	char err[512];
	enum config_result r;

	if (c->a1 != NULL)
		r = PARSE(&cfg, err, (char *)c->a0, (char *)c->a1);
	else
		r = PARSE(&cfg, err, (char *)c->a0);
	ck_assert_msg(r == CONFIG_OK, "%s %s: %d (%s)", c->a0,
	    c->a1 ? c->a1 : "", (int)r, err);
	assert_field(c, &cfg);
}
END_TEST

/* Several options at once; the last of a repeated one wins. */
/* --rewrite-media-urls needs a mirror; --offline with one implies it. */
START_TEST(test_rewrites_media)
{
	struct config cfg;
	char err[512];

	ck_assert_int_eq(PARSE(&cfg, err, "--rewrite-media-urls"), CONFIG_OK);
	ck_assert_int_eq(config_rewrites_media(&cfg), 0);
	ck_assert_int_eq(PARSE(&cfg, err, "--media-dir", "m"), CONFIG_OK);
	ck_assert_int_eq(config_rewrites_media(&cfg), 0);
	ck_assert_int_eq(PARSE(&cfg, err, "--media-dir", "m",
	    "--rewrite-media-urls"), CONFIG_OK);
	ck_assert_int_eq(config_rewrites_media(&cfg), 1);
	ck_assert_int_eq(PARSE(&cfg, err, "--offline", "--media-dir", "m"),
	    CONFIG_OK);
	ck_assert_int_eq(config_rewrites_media(&cfg), 1);
	ck_assert_int_eq(PARSE(&cfg, err, "--offline"), CONFIG_OK);
	ck_assert_int_eq(config_rewrites_media(&cfg), 0);
}
END_TEST

START_TEST(test_options_together)
{
	struct config cfg;
	char err[512];

	ck_assert_int_eq(PARSE(&cfg, err, "-l", "[::1]:0", "--offline",
	    "--pending-interval", "2", "-d", "a.db", "--pending-mode=reject",
	    "--pending-interval", "3", "-u", "http://127.0.0.1:1/"), CONFIG_OK);
	ck_assert_str_eq(cfg.listen_host, "::1");
	ck_assert_uint_eq(cfg.listen_port, 0);
	ck_assert_int_eq(cfg.offline, 1);
	ck_assert_int_eq(cfg.pending_interval, 3);
	ck_assert_str_eq(cfg.db, "a.db");
	ck_assert_int_eq(cfg.pending_mode, PENDING_REJECT);
	ck_assert_str_eq(cfg.upstream, "http://127.0.0.1:1");
	/* Untouched options keep their defaults. */
	ck_assert_int_eq(cfg.negative_ttl, 30);
	ck_assert_uint_eq(cfg.max_upstream_body, 1048576);
	ck_assert_uint_eq(cfg.max_request_body, 67108864);
}
END_TEST

struct bad_case {
	const char	*a0, *a1;
	const char	*named;		/* what the message must mention */
};

static const struct bad_case bad_cases[] = {
	{ "--bogus", NULL, "--bogus" },
	{ "--bogus=1", NULL, "bogus" },
	{ "-x", NULL, "-x" },
	{ "stray", NULL, "stray" },
	{ "--listen", NULL, "listen" },
	{ "-l", NULL, "listen" },
	{ "-u", NULL, "upstream" },
	{ "-d", NULL, "db" },
	{ "-c", NULL, "config" },
	{ "--pending-interval", NULL, "pending-interval" },
	{ "--pending-mode", NULL, "pending-mode" },
	{ "--log-level", NULL, "log-level" },
	{ "--pending-interval", "abc", "pending-interval" },
	{ "--pending-interval", "-1", "pending-interval" },
	{ "--pending-interval", "1.5", "pending-interval" },
	{ "--pending-interval", "5s", "pending-interval" },
	{ "--pending-interval", "", "pending-interval" },
	{ "--pending-interval", "18446744073709551616", "pending-interval" },
	{ "--pending-interval=x", NULL, "pending-interval" },
	{ "--negative-ttl", "ten", "negative-ttl" },
	{ "--negative-ttl", "18446744073709551616", "negative-ttl" },
	{ "--upstream-timeout", "x", "upstream-timeout" },
	{ "--upstream-timeout", "18446744073709551616", "upstream-timeout" },
	{ "--max-upstream-body", "1MiB", "max-upstream-body" },
	{ "--max-request-body", "-1", "max-request-body" },
	{ "--max-upstream-body", "18446744073709551616", "max-upstream-body" },
	{ "--max-connections", "0", "max-connections" },
	{ "--max-connections", "many", "max-connections" },
	{ "--memory-cache", "64MiB", "memory-cache" },
	{ "--idle-timeout", "0", "idle-timeout" },
	{ "--idle-timeout", "3601", "idle-timeout" },
	{ "--max-connections", "18446744073709551616", "max-connections" },
	{ "--offline=maybe", NULL, "offline" },
	{ "--media-dir", "", "media-dir" },
	{ "--media-concurrency", "0", "media-concurrency" },
	{ "--media-concurrency", "65", "media-concurrency" },
	{ "--max-media-bytes", "0", "max-media-bytes" },
	{ "--max-media-bytes", "2GiB", "max-media-bytes" },
	{ "--rewrite-media-urls=sometimes", NULL, "rewrite-media-urls" },
	{ "--public-url", "ftp://media.example.com", "public-url" },
	{ "--public-url", "http://h/?x=1", "public-url" },
	{ "--public-url", "http://h/x\"<y>", "public-url" },
	{ "--public-url", "http://h/a b", "public-url" },
	{ "--pending-mode", "fast", "pending-mode" },
	{ "--pending-mode", "", "pending-mode" },
	{ "--pending-mode=servereject", NULL, "pending-mode" },
	{ "--log-level", "verbose", "log-level" },
	{ "--log-format", "xml", "log-format" },
	{ "--upstream", "ftp://example.com", "upstream" },
	{ "--upstream", "api.useapi.net", "upstream" },
	{ "--upstream", "https://api.useapi.net/?x=1", "upstream" },
	{ "--upstream", "https://api.useapi.net/v1?x", "upstream" },
	{ "--upstream", "https://api.useapi.net#frag", "upstream" },
	{ "--upstream", "", "upstream" },
	{ "-u", "file:///etc/passwd", "upstream" },
	{ "--listen", "::1:8080", "listen" },
	{ "--listen", "::1", "listen" },
	{ "--listen", "localhost", "listen" },
	{ "--listen", "127.0.0.1:", "listen" },
	{ "--listen", "127.0.0.1:65536", "listen" },
	{ "--listen", "127.0.0.1:http", "listen" },
	{ "--listen", "127.0.0.1:-1", "listen" },
	{ "--listen", "[::1]", "listen" },
	{ "--listen", "[::1:8080", "listen" },
	{ "--listen=", NULL, "listen" },
	{ "--db", "", "db" },
};

START_TEST(test_bad_option)
{
	const struct bad_case *c = &bad_cases[_i];
	struct config cfg;
	char err[512];
	enum config_result r;

	if (c->a1 != NULL)
		r = PARSE(&cfg, err, (char *)c->a0, (char *)c->a1);
	else
		r = PARSE(&cfg, err, (char *)c->a0);
	ck_assert_msg(r == CONFIG_ERROR, "%s %s accepted", c->a0,
	    c->a1 ? c->a1 : "");
	ck_assert_msg(strstr(err, c->named) != NULL,
	    "%s: message '%s' does not name %s", c->a0, err, c->named);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* A bad option after good ones is still an error. */
START_TEST(test_bad_after_good)
{
	struct config cfg;
	char err[512];

	ck_assert_int_eq(PARSE(&cfg, err, "--offline", "-l", "[::1]:1",
	    "--pending-mode", "nope"), CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "pending-mode"));
}
END_TEST

START_TEST(test_help_version)
{
	struct config cfg;
	char err[512];

	ck_assert_int_eq(PARSE(&cfg, err, "-h"), CONFIG_HELP);
	ck_assert_int_eq(PARSE(&cfg, err, "--help"), CONFIG_HELP);
	ck_assert_int_eq(PARSE(&cfg, err, "--offline", "-h"), CONFIG_HELP);
	ck_assert_int_eq(PARSE(&cfg, err, "-V"), CONFIG_VERSION);
	ck_assert_int_eq(PARSE(&cfg, err, "--version"), CONFIG_VERSION);
	ck_assert_int_eq(PARSE(&cfg, err, "-d", "x.db", "--version"),
	    CONFIG_VERSION);
}
END_TEST

/* The config file of the current test. */
static char cfgpath[64];

static void
write_config(const char *text)
{
	FILE *f;
	int fd;

	snprintf(cfgpath, sizeof(cfgpath), "/tmp/check_config.XXXXXX");
	fd = mkstemp(cfgpath);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void
remove_config(void)
{
	(void)unlink(cfgpath);
}

static const char good_file[] =
	"# lumaproxy settings\n"
	"\n"
	"   \n"
	"listen = 0.0.0.0:7070\n"
	"upstream = http://127.0.0.1:1234/\n"
	"db=/var/tmp/luma.db\n"
	"  pending-interval   =   9   \n"
	"pending-mode = reject  # trailing comment\n"
	"\t# an indented comment\n"
	"negative-ttl = 45\n"
	"upstream-timeout = 12\n"
	"max-upstream-body = 2048\n"
	"max-connections = 77\n"
	"offline = true\n"
	"log-level = warn\n"
	"log-format = json\n";

static void
assert_good_file(const struct config *cfg)
{
	ck_assert_str_eq(cfg->listen_host, "0.0.0.0");
	ck_assert_uint_eq(cfg->listen_port, 7070);
	ck_assert_str_eq(cfg->upstream, "http://127.0.0.1:1234");
	ck_assert_str_eq(cfg->db, "/var/tmp/luma.db");
	ck_assert_int_eq(cfg->pending_interval, 9);
	ck_assert_int_eq(cfg->pending_mode, PENDING_REJECT);
	ck_assert_int_eq(cfg->negative_ttl, 45);
	ck_assert_int_eq(cfg->upstream_timeout, 12);
	ck_assert_uint_eq(cfg->max_upstream_body, 2048);
	ck_assert_uint_eq(cfg->max_connections, 77);
	ck_assert_int_eq(cfg->offline, 1);
	ck_assert_int_eq(cfg->log_level, LOG_WARN);
	ck_assert_int_eq(cfg->log_format, LOG_JSON);
}

START_TEST(test_file)
{
	struct config cfg;
	char err[512], arg[128];

	write_config(good_file);
	ck_assert_msg(PARSE(&cfg, err, "-c", cfgpath) == CONFIG_OK, "%s", err);
	assert_good_file(&cfg);
	ck_assert_msg(PARSE(&cfg, err, "--config", cfgpath) == CONFIG_OK,
	    "%s", err);
	assert_good_file(&cfg);
	snprintf(arg, sizeof(arg), "--config=%s", cfgpath);
	ck_assert_msg(PARSE(&cfg, err, arg) == CONFIG_OK, "%s", err);
	assert_good_file(&cfg);
	remove_config();
}
END_TEST

/* The file applies on top of what cfg holds. */
START_TEST(test_load_file)
{
	struct config cfg;
	char err[512] = "";

	write_config("listen = [::1]:1\noffline = false\n");
	config_defaults(&cfg);
	cfg.pending_interval = 42;
	cfg.offline = 1;
	ck_assert_msg(config_load_file(&cfg, cfgpath, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(cfg.listen_host, "::1");
	ck_assert_uint_eq(cfg.listen_port, 1);
	ck_assert_int_eq(cfg.offline, 0);
	ck_assert_int_eq(cfg.pending_interval, 42);
	remove_config();
}
END_TEST

START_TEST(test_file_empty)
{
	struct config cfg;
	char err[512];

	write_config("");
	ck_assert_msg(PARSE(&cfg, err, "-c", cfgpath) == CONFIG_OK, "%s", err);
	assert_defaults(&cfg);
	remove_config();
	write_config("# only a comment\n\n");
	ck_assert_msg(PARSE(&cfg, err, "-c", cfgpath) == CONFIG_OK, "%s", err);
	assert_defaults(&cfg);
	remove_config();
}
END_TEST

/* Command line beats config file, wherever -c is on the line. */
START_TEST(test_file_precedence)
{
	struct config cfg;
	char err[512];

	write_config("pending-interval = 9\nlisten = 0.0.0.0:7070\n"
	    "db = file.db\nlog-level = error\n");
	ck_assert_int_eq(PARSE(&cfg, err, "--pending-interval", "3", "-c",
	    cfgpath, "-l", "127.0.0.1:6060"), CONFIG_OK);
	ck_assert_int_eq(cfg.pending_interval, 3);
	ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.listen_port, 6060);
	/* From the file, not on the command line. */
	ck_assert_str_eq(cfg.db, "file.db");
	ck_assert_int_eq(cfg.log_level, LOG_ERROR);
	/* From the defaults, in neither. */
	ck_assert_int_eq(cfg.negative_ttl, 30);

	ck_assert_int_eq(PARSE(&cfg, err, "-c", cfgpath, "--db=cli.db"),
	    CONFIG_OK);
	ck_assert_str_eq(cfg.db, "cli.db");
	ck_assert_int_eq(cfg.pending_interval, 9);
	remove_config();
}
END_TEST

struct bad_file_case {
	const char	*text;
	int		 line;
	const char	*named;		/* also in the message, or NULL */
};

static const struct bad_file_case bad_file_cases[] = {
	{ "listen 127.0.0.1:80\n", 1, NULL },
	{ "# ok\n\nlisten 127.0.0.1:80\n", 3, NULL },
	{ "pending-interval = 5\npending-interval = x\n", 2, "pending-interval" },
	{ "offline = true\n\n\nbogus = 1\n", 4, "bogus" },
	{ "pending-mode = fast\n", 1, "pending-mode" },
	{ "upstream = ftp://example.com\n", 1, "upstream" },
	{ "listen = ::1:8080\n", 1, "listen" },
	{ "offline = maybe\n", 1, "offline" },
	{ "negative-ttl = -3\n", 1, "negative-ttl" },
	{ "max-connections = 0\n", 1, "max-connections" },
	{ "log-level = loud\n", 1, "log-level" },
	{ "= 5\n", 1, NULL },
};

START_TEST(test_file_bad_line)
{
	const struct bad_file_case *c = &bad_file_cases[_i];
	struct config cfg;
	char err[512], where[128];

	write_config(c->text);
	ck_assert_msg(PARSE(&cfg, err, "-c", cfgpath) == CONFIG_ERROR,
	    "case %d accepted", _i);
	snprintf(where, sizeof(where), "%s:%d", cfgpath, c->line);
	ck_assert_msg(strstr(err, where) != NULL,
	    "case %d: message '%s' does not name %s", _i, err, where);
	if (c->named != NULL)
		ck_assert_msg(strstr(err, c->named) != NULL,
		    "case %d: message '%s' does not name %s", _i, err, c->named);
	remove_config();
}
END_TEST

START_TEST(test_file_missing)
{
	struct config cfg;
	char err[512];

	ck_assert_int_eq(PARSE(&cfg, err, "-c", "/nonexistent/lumaproxy.conf"),
	    CONFIG_ERROR);
	ck_assert_msg(strstr(err, "/nonexistent/lumaproxy.conf") != NULL,
	    "message: %s", err);
}
END_TEST

/* Reads what config_usage() prints. */
static char *
usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_usage(f, CONFIG_SERVE);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(buf);
	return buf;
}

static const char *const usage_words[] = {
	"-c, --config", "-l, --listen", "-u, --upstream", "-d, --db",
	"--pending-interval", "--pending-mode", "--negative-ttl",
	"--upstream-timeout", "--max-upstream-body", "--max-request-body",
	"--max-connections", "--memory-cache", "--idle-timeout", "--offline",
	"--log-level",
	"--log-format",
	"--access-log",
	"--media-dir", "--media-concurrency", "--max-media-bytes",
	"--rewrite-media-urls", "--public-url",
	"-h, --help", "-V, --version",
	/* the defaults of SPEC 5 */
	"127.0.0.1:8080", "https://api.useapi.net", "lumaproxy.db",
	"1048576", "67108864", "4096", "serve", "reject", "2147483648",
	"67108864",
};

START_TEST(test_usage)
{
	char *text = usage_text();
	const char *w = usage_words[_i];

	ck_assert_msg(strstr(text, w) != NULL, "usage does not mention '%s'", w);
	free(text);
}
END_TEST

/* Parses a NULL-terminated argument list of command cmd. */
static enum config_result
parse_cmd_list(enum config_command cmd, struct config *cfg, char *err,
    size_t errlen, char *const *argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	memset(cfg, 0xa5, sizeof(*cfg));
	return config_parse(cfg, cmd, argc, argv, err, errlen);
}

#define CMD_PARSE(cmd, cfg, err, ...) parse_cmd_list((cmd), (cfg), (err), \
	sizeof(err), (char *const[]){ __VA_ARGS__, NULL })

/* The least each command needs to be a valid command line. */
static char *const *const minimal_args[] = {
	[CONFIG_SERVE] = (char *const[]){ NULL },
	[CONFIG_EXPORT] = (char *const[]){ NULL },
	[CONFIG_IMPORT] = (char *const[]){ NULL },
	[CONFIG_STATS] = (char *const[]){ NULL },
	[CONFIG_PURGE] = (char *const[]){ "--older-than", "1", NULL },
	[CONFIG_MIRROR] = (char *const[]){ "--media-dir", "m", NULL },
};

/* A default written once shows in every command that takes the option. */
START_TEST(test_command_defaults)
{
	enum config_command cmd = (enum config_command)_i;
	struct config serve, cfg;
	char err[512];

	ck_assert_int_eq(parse_cmd_list(CONFIG_SERVE, &serve, err,
	    sizeof(err), minimal_args[CONFIG_SERVE]), CONFIG_OK);
	ck_assert_msg(parse_cmd_list(cmd, &cfg, err, sizeof(err),
	    minimal_args[cmd]) == CONFIG_OK, "command %d: %s", _i, err);
	ck_assert_str_eq(cfg.db, serve.db);
	ck_assert_str_eq(cfg.db, "lumaproxy.db");
	/* The mirror command's defaults are the server's. */
	ck_assert_int_eq(cfg.media_concurrency, serve.media_concurrency);
	ck_assert_uint_eq(cfg.max_media_bytes, serve.max_media_bytes);
	ck_assert_int_eq(cfg.upstream_timeout, serve.upstream_timeout);
	ck_assert_int_eq(cfg.media_concurrency, 2);
	ck_assert_uint_eq(cfg.max_media_bytes, 2147483648ULL);
	ck_assert_int_eq(cfg.upstream_timeout, 30);
	/* The commands' own options, when not given. */
	ck_assert_ptr_null(cfg.status);
	ck_assert_int_eq(cfg.since, -1);
	ck_assert_int_eq(cfg.older_than, cmd == CONFIG_PURGE ? 1 : -1);
	ck_assert_int_eq(cfg.json, 0);
	ck_assert_int_eq(cfg.export_media, 0);
	ck_assert_uint_eq(cfg.ngrants, 0);
	ck_assert_int_eq(cfg.noperands, 0);
	config_free(&cfg);
	config_free(&serve);
}
END_TEST

START_TEST(test_command_names)
{
	static const char *const names[] = {
		"serve", "export", "import", "stats", "purge", "mirror",
	};
	enum config_command cmd;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_int_eq(config_find_command(names[i], &cmd), 0);
		ck_assert_int_eq(cmd, (int)i);
	}
	ck_assert_int_eq(config_find_command("frobnicate", &cmd), -1);
	ck_assert_int_eq(config_find_command("", &cmd), -1);
	ck_assert_int_eq(config_find_command("Export", &cmd), -1);
}
END_TEST

START_TEST(test_command_options)
{
	char *const purge_argv[] = { "-dp.db", "j1", "j2", NULL };
	struct config cfg;
	char err[512];
	int64_t ms;

	ck_assert_int_eq(CMD_PARSE(CONFIG_EXPORT, &cfg, err, "--db", "x.db",
	    "--status", "failed", "--since", "2020-01-02", "--media"), CONFIG_OK);
	ck_assert_str_eq(cfg.db, "x.db");
	ck_assert_str_eq(cfg.status, "failed");
	ck_assert_int_eq(util_parse_iso8601("2020-01-02", &ms), 0);
	ck_assert_int_eq(cfg.since, ms);
	ck_assert_int_eq(cfg.export_media, 1);

	ck_assert_int_eq(CMD_PARSE(CONFIG_STATS, &cfg, err, "--json", "-d",
	    "s.db"), CONFIG_OK);
	ck_assert_int_eq(cfg.json, 1);
	ck_assert_str_eq(cfg.db, "s.db");

	ck_assert_int_eq(CMD_PARSE(CONFIG_PURGE, &cfg, err, "--older-than=7",
	    "--status", "completed"), CONFIG_OK);
	ck_assert_int_eq(cfg.older_than, 7);
	ck_assert_str_eq(cfg.status, "completed");
	ck_assert_int_eq(cfg.noperands, 0);

	/* Operands point into argv, which must outlive cfg. */
	ck_assert_int_eq(parse_cmd_list(CONFIG_PURGE, &cfg, err, sizeof(err),
	    purge_argv), CONFIG_OK);
	ck_assert_str_eq(cfg.db, "p.db");
	ck_assert_int_eq(cfg.older_than, -1);
	ck_assert_int_eq(cfg.noperands, 2);
	ck_assert_str_eq(cfg.operands[0], "j1");
	ck_assert_str_eq(cfg.operands[1], "j2");

	ck_assert_int_eq(CMD_PARSE(CONFIG_MIRROR, &cfg, err, "--media-dir", "m",
	    "--media-concurrency", "4", "--max-media-bytes=1000",
	    "--upstream-timeout", "5"), CONFIG_OK);
	ck_assert_str_eq(cfg.media_dir, "m");
	ck_assert_int_eq(cfg.media_concurrency, 4);
	ck_assert_uint_eq(cfg.max_media_bytes, 1000);
	ck_assert_int_eq(cfg.upstream_timeout, 5);

	/* As getopt_long() always read them: prefixes, "--". */
	ck_assert_int_eq(CMD_PARSE(CONFIG_EXPORT, &cfg, err, "--stat", "failed",
	    "--d", "y.db"), CONFIG_OK);
	ck_assert_str_eq(cfg.status, "failed");
	ck_assert_str_eq(cfg.db, "y.db");
	ck_assert_int_eq(CMD_PARSE(CONFIG_PURGE, &cfg, err, "--", "--j"),
	    CONFIG_ERROR);
	ck_assert_str_eq(err, "lumaproxy purge: invalid jobid '--j'");
}
END_TEST

/* import --grant and --grant-file keep token_ids, never tokens. */
START_TEST(test_command_grants)
{
	struct config cfg;
	char err[512], id[TOKEN_ID_LEN + 1];

	write_config("tokC\n# a comment\n\ntokD \r\n");
	ck_assert_int_eq(CMD_PARSE(CONFIG_IMPORT, &cfg, err, "--grant", "tokA",
	    "--grant-file", cfgpath, "--grant=tokB"), CONFIG_OK);
	remove_config();
	ck_assert_uint_eq(cfg.ngrants, 4);
	auth_token_id("tokA", 4, id);
	ck_assert_str_eq(cfg.grants[0], id);
	auth_token_id("tokC", 4, id);
	ck_assert_str_eq(cfg.grants[1], id);
	auth_token_id("tokD", 4, id);
	ck_assert_str_eq(cfg.grants[2], id);
	auth_token_id("tokB", 4, id);
	ck_assert_str_eq(cfg.grants[3], id);
	config_free(&cfg);
	ck_assert_ptr_null(cfg.grants);
	ck_assert_uint_eq(cfg.ngrants, 0);
}
END_TEST

START_TEST(test_command_help)
{
	enum config_command cmd = (enum config_command)_i;
	struct config cfg;
	char err[512];

	ck_assert_int_eq(CMD_PARSE(cmd, &cfg, err, "--help"), CONFIG_HELP);
	ck_assert_int_eq(CMD_PARSE(cmd, &cfg, err, "-h"), CONFIG_HELP);
	/* The commands read in order: -h wins over a bad option after it. */
	ck_assert_int_eq(CMD_PARSE(cmd, &cfg, err, "-h", "--bogus"),
	    cmd == CONFIG_SERVE ? CONFIG_ERROR : CONFIG_HELP);
	ck_assert_int_ne(CMD_PARSE(cmd, &cfg, err, "--bogus", "-h"),
	    CONFIG_HELP);
	ck_assert_int_eq(CMD_PARSE(cmd, &cfg, err, "-V"),
	    cmd == CONFIG_SERVE ? CONFIG_VERSION : CONFIG_USAGE);
}
END_TEST

struct cmd_bad_case {
	enum config_command	 cmd;
	const char		*args[4];
	enum config_result	 result;
	const char		*msg;		/* the whole line */
};

static const struct cmd_bad_case cmd_bad_cases[] = {
	/* An option that is not the command's own is named, not its value. */
	{ CONFIG_STATS, { "--status", "x" }, CONFIG_USAGE,
	    "lumaproxy stats: unknown or misplaced option '--status'" },
	{ CONFIG_EXPORT, { "--json" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--json'" },
	{ CONFIG_EXPORT, { "--grant", "x" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--grant'" },
	{ CONFIG_IMPORT, { "--older-than=3" }, CONFIG_USAGE,
	    "lumaproxy import: unknown or misplaced option '--older-than=3'" },
	{ CONFIG_PURGE, { "--media-dir", "m", "j1" }, CONFIG_USAGE,
	    "lumaproxy purge: unknown or misplaced option '--media-dir'" },
	{ CONFIG_STATS, { "--media-concurrency=2" }, CONFIG_USAGE,
	    "lumaproxy stats: unknown or misplaced option '--media-concurrency=2'" },
	{ CONFIG_MIRROR, { "--media-dir", "m", "--since", "2020-01-01" },
	    CONFIG_USAGE, "lumaproxy mirror: unknown or misplaced option '--since'" },
	/* serve's own options are not the commands'. */
	{ CONFIG_MIRROR, { "--listen", "1:2" }, CONFIG_USAGE,
	    "lumaproxy mirror: unknown or misplaced option '--listen'" },
	{ CONFIG_EXPORT, { "--offline" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--offline'" },
	{ CONFIG_IMPORT, { "-c", "x" }, CONFIG_USAGE,
	    "lumaproxy import: unknown or misplaced option '-c'" },
	{ CONFIG_EXPORT, { "--version" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--version'" },
	/* ...nor theirs serve's. */
	{ CONFIG_SERVE, { "--status", "x" }, CONFIG_ERROR,
	    "lumaproxy: unknown option '--status' (see --help)" },
	{ CONFIG_SERVE, { "--grant=x" }, CONFIG_ERROR,
	    "lumaproxy: unknown option '--grant=x' (see --help)" },
	{ CONFIG_SERVE, { "--json" }, CONFIG_ERROR,
	    "lumaproxy: unknown option '--json' (see --help)" },
	/* Unknown, incomplete, ambiguous. */
	{ CONFIG_EXPORT, { "--bogus" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--bogus'" },
	{ CONFIG_EXPORT, { "-x" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '-x'" },
	{ CONFIG_EXPORT, { "--status" }, CONFIG_USAGE,
	    "lumaproxy export: unknown or misplaced option '--status'" },
	{ CONFIG_EXPORT, { "--s" }, CONFIG_USAGE,	/* --status or --since */
	    "lumaproxy export: unknown or misplaced option '--s'" },
	{ CONFIG_KEYS, { "add", "a", "--grace" }, CONFIG_USAGE,
	    "lumaproxy keys: unknown or misplaced option '--grace'" },
	{ CONFIG_KEYS, { "--d", "x" }, CONFIG_USAGE,	/* --db, --daily-... */
	    "lumaproxy keys: unknown or misplaced option '--d'" },
	{ CONFIG_KEYS, { "--db", "x" }, CONFIG_USAGE,
	    "lumaproxy keys: say what to do: add, list, set, revoke, rotate or log" },
	{ CONFIG_KEYS, { "--rpm", "-1" }, CONFIG_ERROR,
	    "lumaproxy keys: --rpm: not a number" },
	{ CONFIG_USAGE_REPORT, { "x" }, CONFIG_USAGE,
	    "lumaproxy usage: takes no operands" },
	{ CONFIG_STATS, { "--json=1" }, CONFIG_USAGE,
	    "lumaproxy stats: unknown or misplaced option '--json=1'" },
	/* Bad values: the range of the table, the wording of each command. */
	{ CONFIG_EXPORT, { "--since", "yesterday" }, CONFIG_ERROR,
	    "lumaproxy export: --since: not an ISO 8601 date or UTC date-time: yesterday" },
	{ CONFIG_PURGE, { "--older-than", "x" }, CONFIG_ERROR,
	    "lumaproxy purge: --older-than: not a number" },
	{ CONFIG_PURGE, { "--older-than", "365001" }, CONFIG_ERROR,
	    "lumaproxy purge: --older-than: too large" },
	{ CONFIG_MIRROR, { "--media-concurrency", "65" }, CONFIG_ERROR,
	    "lumaproxy mirror: 65: too large" },
	{ CONFIG_MIRROR, { "--upstream-timeout=0" }, CONFIG_ERROR,
	    "lumaproxy mirror: --upstream-timeout=0: too small" },
	{ CONFIG_MIRROR, { "--max-media-bytes", "1x" }, CONFIG_ERROR,
	    "lumaproxy mirror: 1x: not a number" },
	{ CONFIG_MIRROR, { "--media-dir", "" }, CONFIG_ERROR,
	    "lumaproxy mirror: : bad path" },
	{ CONFIG_STATS, { "--db=" }, CONFIG_ERROR,
	    "lumaproxy stats: --db=: bad path" },
	{ CONFIG_IMPORT, { "--grant-file", "/nonexistent/g" }, CONFIG_ERROR,
	    "/nonexistent/g: No such file or directory" },
	/* Operands, and the options a command cannot do without. */
	{ CONFIG_EXPORT, { "extra" }, CONFIG_USAGE,
	    "lumaproxy export: takes no operands" },
	{ CONFIG_STATS, { "--", "extra" }, CONFIG_USAGE,
	    "lumaproxy stats: takes no operands" },
	{ CONFIG_IMPORT, { "x" }, CONFIG_USAGE,
	    "lumaproxy import: takes no operands (lines come on stdin)" },
	{ CONFIG_MIRROR, { "--media-dir", "m", "x" }, CONFIG_USAGE,
	    "lumaproxy mirror: takes no operands" },
	{ CONFIG_MIRROR, { "-d", "x.db" }, CONFIG_USAGE,
	    "lumaproxy mirror: --media-dir DIR is required" },
	{ CONFIG_PURGE, { "-d", "x.db" }, CONFIG_USAGE,
	    "lumaproxy purge: give either jobids or --older-than DAYS" },
	{ CONFIG_PURGE, { "--older-than", "1", "j1" }, CONFIG_USAGE,
	    "lumaproxy purge: give either jobids or --older-than DAYS" },
	{ CONFIG_PURGE, { "--status=failed", "j1" }, CONFIG_USAGE,
	    "lumaproxy purge: --status goes with --older-than" },
	{ CONFIG_PURGE, { "j1", "--older-than", "1" }, CONFIG_ERROR,
	    "lumaproxy purge: invalid jobid '--older-than'" },
	{ CONFIG_PURGE, { "bad/id" }, CONFIG_ERROR,
	    "lumaproxy purge: invalid jobid 'bad/id'" },
};

START_TEST(test_command_bad)
{
	const struct cmd_bad_case *c = &cmd_bad_cases[_i];
	struct config cfg;
	char err[512];

	ck_assert_int_eq(parse_cmd_list(c->cmd, &cfg, err, sizeof(err),
	    (char *const *)c->args), c->result);
	ck_assert_str_eq(err, c->msg);
	config_free(&cfg);
}
END_TEST

/* Reads what config_usage() prints for cmd. */
static char *
usage_of(enum config_command cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_usage(f, cmd);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(buf);
	return buf;
}

/* Every command on a cache file prints the synopses of all of them. */
START_TEST(test_command_usage)
{
	char *text = usage_of((enum config_command)_i);

	ck_assert_str_eq(text,
	    "usage: lumaproxy export [--db PATH] [--status S] [--since DATE] [--media]\n"
	    "       lumaproxy import [--db PATH] [--grant TOKEN]... [--grant-file FILE]\n"
	    "       lumaproxy stats  [--db PATH] [--json]\n"
	    "       lumaproxy purge  [--db PATH] (JOBID... | --older-than DAYS [--status S])\n"
	    "       lumaproxy mirror [--db PATH] --media-dir DIR [--media-concurrency N]\n"
	    "                        [--max-media-bytes BYTES] [--upstream-timeout SECONDS]\n"
	    "       lumaproxy keys   [-c FILE] [--db PATH] add NAME [--admin] [--rpm N]\n"
	    "                        [--max-running N] [--daily-credits N] [--expires DATE]\n"
	    "                        set NAME [--admin[=false]] [--rpm N] [--max-running N]\n"
	    "                        [--daily-credits N] [--expires DATE]\n"
	    "                        list [--json] | log [--json] | revoke NAME\n"
	    "                        rotate NAME [--grace SECONDS]\n"
	    "       lumaproxy usage  [-c FILE] [--db PATH] [--since DATE] [--json]\n");
	free(text);
}
END_TEST

/* serve's --help lists the other commands, and none of their options. */
START_TEST(test_serve_usage_commands)
{
	char *text = usage_of(CONFIG_SERVE);

	ck_assert_ptr_nonnull(strstr(text,
	    "other commands, on a cache file (lumaproxy COMMAND --help):\n"
	    "  export   write finished jobs as JSON Lines (--media: with their media)\n"
	    "  import   read such lines into the cache\n"
	    "  stats    jobs by type and status, media, database size\n"
	    "  purge    remove jobs by jobid or age, and media nothing else uses\n"
	    "  mirror   download the media of completed jobs, then exit\n"));
	ck_assert_ptr_null(strstr(text, "--status"));
	ck_assert_ptr_null(strstr(text, "--grant"));
	ck_assert_ptr_null(strstr(text, "--older-than"));
	free(text);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("argv");
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_option, 0,
	    (int)(sizeof(opt_cases) / sizeof(opt_cases[0])));
	tcase_add_test(tc, test_options_together);
	tcase_add_test(tc, test_rewrites_media);
	tcase_add_loop_test(tc, test_bad_option, 0,
	    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_bad_after_good);
	tcase_add_test(tc, test_help_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_file_empty);
	tcase_add_test(tc, test_file_precedence);
	tcase_add_loop_test(tc, test_file_bad_line, 0,
	    (int)(sizeof(bad_file_cases) / sizeof(bad_file_cases[0])));
	tcase_add_test(tc, test_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("usage");
	tcase_add_loop_test(tc, test_usage, 0,
	    (int)(sizeof(usage_words) / sizeof(usage_words[0])));
	tcase_add_test(tc, test_serve_usage_commands);
	tcase_add_loop_test(tc, test_command_usage, CONFIG_EXPORT,
	    CONFIG_MIRROR + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_add_test(tc, test_command_names);
	tcase_add_loop_test(tc, test_command_defaults, CONFIG_SERVE,
	    CONFIG_MIRROR + 1);
	tcase_add_test(tc, test_command_options);
	tcase_add_test(tc, test_command_grants);
	tcase_add_loop_test(tc, test_command_help, CONFIG_SERVE,
	    CONFIG_MIRROR + 1);
	tcase_add_loop_test(tc, test_command_bad, 0,
	    (int)(sizeof(cmd_bad_cases) / sizeof(cmd_bad_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
