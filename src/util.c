/*
 * Bounded integer parsing, clocks and time formatting.  Everything that
 * reads a number from a user goes through parse_uint(), so that limits are
 * checked in one place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

uint32_t
util_fnv1a(uint32_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **err)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9') {
		*err = "not a number";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		*err = "not a number";
		return -1;
	}
	if (errno == ERANGE || v > max) {
		*err = "too large";
		return -1;
	}
	if (v < min) {
		*err = "too small";
		return -1;
	}
	*out = v;
	return 0;
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_iso8601_ms(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[24];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", s, (int)(ms % 1000));
}

/* The decimal number in s[at..at+n), digits only; -1 otherwise. */
static int
digits_at(const char *s, size_t at, size_t n)
{
	int v = 0;

	for (size_t i = at; i < at + n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
util_parse_iso8601(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	/* Where each form has its separators: YYYY-MM-DD[THH:MM:SS[.mmm]Z] */
	static const char date[] = "----------", dt[] = "----------T--:--:--Z",
	    dtms[] = "----------T--:--:--.---Z";
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	size_t len = strlen(s);
	const char *form;
	struct tm tm;
	time_t t;

	form = len == 10 ? date : len == 20 ? dt : len == 24 ? dtms : NULL;
	if (form == NULL || s[4] != '-' || s[7] != '-')
		return -1;
	for (size_t i = 10; i < len; i++)
		if (form[i] != '-' && s[i] != form[i])
			return -1;
	y = digits_at(s, 0, 4);
	mo = digits_at(s, 5, 2);
	d = digits_at(s, 8, 2);
	if (len > 10) {
		h = digits_at(s, 11, 2);
		mi = digits_at(s, 14, 2);
		sec = digits_at(s, 17, 2);
	}
	if (len == 24)
		frac = digits_at(s, 20, 3);
	if (h < 0 || mi < 0 || sec < 0 || frac < 0)
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || (mo == 2 && d == 29 &&
	    (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0))) ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

int
util_http_token(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') ||
		    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL)))
			return 0;
	}
	return 1;
}

void
util_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

const char *
util_list_next(const char **p, size_t *len)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	for (e = s; *e != '\0' && *e != ','; e++)
		;
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*len = (size_t)(e - s);
	return s;
}

int
util_list_has(const char *list, const char *name, size_t len)
{
	const char *v;
	size_t n;

	if (list == NULL)
		return 0;
	while ((v = util_list_next(&list, &n)) != NULL)
		if (n == len && n > 0 && strncasecmp(v, name, len) == 0)
			return 1;
	return 0;
}

int
util_etag_listed(const char *inm, const char *etag)
{
	size_t n = strlen(etag), len;
	const char *v;

	while ((v = util_list_next(&inm, &len)) != NULL) {
		if (len == 1 && *v == '*')
			return 1;
		if (len > 2 && v[0] == 'W' && v[1] == '/') {
			v += 2;
			len -= 2;
		}
		if (len == n && memcmp(v, etag, n) == 0)
			return 1;
	}
	return 0;
}

int
util_field_value(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

const char *
util_log_url(const char *url, char *buf, size_t len)
{
	const char *sep = strstr(url, "://");
	const char *host = sep != NULL ? sep + 3 : url;
	size_t slen = (size_t)(host - url), n = strcspn(host, "/?#");
	const char *at = memchr(host, '@', n);

	if (at != NULL)
		host = at + 1;
	n = strcspn(host, "?#");
	snprintf(buf, len, "%.*s%.*s%s", (int)slen, url, (int)n, host,
	    host[n] != '\0' ? "?..." : "");
	return buf;
}

const char *
util_http_date(int64_t now_ms, size_t *len)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static char date[64];
	static size_t date_len;
	static time_t date_at;
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;

	if (now != date_at || date_len == 0) {
		gmtime_r(&now, &tm);
		date_len = (size_t)snprintf(date, sizeof(date),
		    "%.3s, %02d %.3s %04d %02d:%02d:%02d GMT",
		    days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon,
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		date_at = now;
	}
	*len = date_len;
	return date;
}
