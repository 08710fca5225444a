/*
 * The logger: the process's only mutable global state.  Text lines
 * are "TIME LEVEL message"; the access line is space separated with "-" for
 * missing fields and bytes outside printable ASCII escaped as \xNN, so that
 * a hostile path cannot forge a line.  JSON lines are encoded by jansson.
 * Access lines go to stderr, nowhere, or a buffered file of their own that
 * the server flushes on a timer and reopens on SIGUSR1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "util.h"

static enum log_level	log_min = LOG_INFO;
static enum log_format	log_fmt = LOG_TEXT;

/* Where access lines go: stderr (access_fp NULL, !access_off), nowhere, or
 * a file of our own, fully buffered and flushed by log_access_flush(). */
#define ACCESS_BUF	65536
static FILE		*access_fp;
static int		 access_off;
static char		 access_path[4096];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* The progress line shown at the bottom of a terminal, "" when none. */
static int		log_tty = -1;
static char		log_status[256];

/* Before a log line: take the progress line off the terminal. */
static void
status_hide(void)
{
	if (log_status[0] != '\0')
		fputs("\r\033[K", stderr);
}

/* After a log line: put the progress line back. */
static void
status_show(void)
{
	if (log_status[0] != '\0') {
		fputs(log_status, stderr);
		fflush(stderr);
	}
}

int
log_is_tty(void)
{
	if (log_tty < 0)
		log_tty = isatty(STDERR_FILENO);
	return log_tty;
}

void
log_progress(int done, const char *fmt, ...)
{
	char msg[sizeof(log_status)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_is_tty()) {
		log_always("%s", msg);
		return;
	}
	status_hide();
	if (done) {
		log_status[0] = '\0';
		fprintf(stderr, "%s\n", msg);
		return;
	}
	snprintf(log_status, sizeof(log_status), "%s", msg);
	status_show();
}

void
log_init(enum log_level level, enum log_format format)
{
	log_min = level;
	log_fmt = format;
}

/* Copies s into buf with bytes outside 0x21-0x7e (and '\') escaped. */
static const char *
log_sanitize(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	if (s == NULL || *s == '\0')
		return "-";
	for (; *s != '\0' && i + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c > 0x20 && c < 0x7f && c != '\\')
			buf[i++] = (char)c;
		else {
			buf[i++] = '\\';
			buf[i++] = 'x';
			buf[i++] = hex[c >> 4];
			buf[i++] = hex[c & 0xf];
		}
	}
	buf[i] = '\0';
	return buf;
}

static void	log_vmsg(enum log_level, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
log_vmsg(enum log_level level, int force, const char *fmt, va_list ap)
{
	char when[32], msg[2048];

	if (level < log_min && !force)
		return;
	util_iso8601_ms(util_now_ms(), when, sizeof(when));
	vsnprintf(msg, sizeof(msg), fmt, ap);
	status_hide();
	if (log_fmt == LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "time", when,
		    "level", level_names[level], "msg", msg);
		char *line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

		if (line != NULL)
			fprintf(stderr, "%s\n", line);
		free(line);
		json_decref(o);
	} else
		fprintf(stderr, "%s %s %s\n", when, level_names[level], msg);
	status_show();
}

/* The body of each function below: fmt and what follows it, at level. */
#define LOG_VA(level, force) do {				\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vmsg(level, force, fmt, ap);			\
	va_end(ap);						\
} while (0)

#define LOG_FN(name, level)					\
void								\
name(const char *fmt, ...)					\
{								\
	LOG_VA(level, 0);					\
}
LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void
log_at(enum log_level level, const char *fmt, ...)
{
	LOG_VA(level, 0);
}

void
log_always(const char *fmt, ...)
{
	LOG_VA(LOG_INFO, 1);
}

/* Opens access_path for appending, fully buffered; NULL on failure. */
static FILE *
access_file_open(void)
{
	FILE *fp = fopen(access_path, "ae");

	if (fp != NULL)
		(void)setvbuf(fp, NULL, _IOFBF, ACCESS_BUF);
	return fp;
}

int
log_access_open(const char *dest)
{
	FILE *fp;

	if (strcmp(dest, "stderr") == 0 || strcmp(dest, "off") == 0) {
		log_access_close();
		access_off = strcmp(dest, "off") == 0;
		return 0;
	}
	if (strlen(dest) >= sizeof(access_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(access_path, sizeof(access_path), "%s", dest);
	if ((fp = access_file_open()) == NULL)
		return -1;
	log_access_close();
	access_fp = fp;
	return 0;
}

void
log_access_flush(void)
{
	if (access_fp != NULL)
		(void)fflush(access_fp);
}

int
log_access_reopen(void)
{
	FILE *fp;

	if (access_fp == NULL)
		return 0;
	/* The old file keeps its lines; the new one starts where it is. */
	if ((fp = access_file_open()) == NULL)
		return -1;
	(void)fclose(access_fp);
	access_fp = fp;
	return 0;
}

void
log_access_close(void)
{
	if (access_fp != NULL)
		(void)fclose(access_fp);
	access_fp = NULL;
	access_off = 0;
}

void
log_access(const struct log_access *a)
{
	FILE *out = access_fp != NULL ? access_fp : stderr;
	char when[32], path[1024], ups[8];

	if (access_off)
		return;
	util_iso8601_ms(util_now_ms(), when, sizeof(when));
	if (out == stderr)
		status_hide();
	if (log_fmt == LOG_JSON) {
		json_t *o = json_object();
		char *line;

		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "client", json_string(a->client));
		json_object_set_new(o, "method", json_string(a->method));
		/* json_string() refuses invalid UTF-8: fall back to escaping. */
		if (json_object_set_new(o, "path", json_string(a->path)) != 0)
			json_object_set_new(o, "path", json_string(
			    log_sanitize(a->path, path, sizeof(path))));
		json_object_set_new(o, "status", json_integer(a->status));
		json_object_set_new(o, "cache",
		    a->cache ? json_string(a->cache) : json_null());
		json_object_set_new(o, "upstream_status", a->upstream_status ?
		    json_integer(a->upstream_status) : json_null());
		json_object_set_new(o, "duration_ms",
		    json_integer(a->duration_ms));
		json_object_set_new(o, "token",
		    a->token ? json_string(a->token) : json_null());
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line != NULL)
			fprintf(out, "%s\n", line);
		free(line);
		json_decref(o);
		if (out == stderr)
			status_show();
		return;
	}
	if (a->upstream_status)
		snprintf(ups, sizeof(ups), "%d", a->upstream_status);
	else
		snprintf(ups, sizeof(ups), "-");
	fprintf(out, "%s %s %s %s %d %s %s %lldms %s\n", when,
	    a->client ? a->client : "-", a->method,
	    log_sanitize(a->path, path, sizeof(path)), a->status,
	    a->cache ? a->cache : "-", ups, (long long)a->duration_ms,
	    a->token ? a->token : "-");
	if (out == stderr)
		status_show();
}
