/*
 * Small helpers shared by every module: bounded number parsing, the clock,
 * time formatting and the magic-number check for objects that travel through
 * void pointers.  Nothing here allocates.
 */
#ifndef UTIL_H
#define UTIL_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* Asserts that p is a live object of the kind whose magic is m. */
#define CHECK_OBJ(p, m) assert((p) != NULL && (p)->magic == (m))

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Parses a decimal integer in [min, max]; on failure sets *err and returns -1. */
int	parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    const char **err);

/*
 * FNV-1a of the string s, continuing from h: UTIL_FNV_BASIS (or it xor a
 * seed) to start, the last result to hash a second string after it.
 */
#define UTIL_FNV_BASIS	2166136261u
uint32_t util_fnv1a(uint32_t h, const char *s);

/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t	util_now_ms(void);

/* Monotonic time in milliseconds, for durations. */
int64_t	util_mono_ms(void);

/* Formats ms since the epoch as "2026-11-29T03:40:08.123Z" (buf >= 32). */
void	util_iso8601_ms(int64_t ms, char *buf, size_t len);

/*
 * Parses an ISO 8601 UTC date ("2026-11-29", midnight) or date-time
 * ("2026-11-29T10:00:00Z", optionally with .mmm) into milliseconds since
 * the epoch; -1 when it is neither.
 */
int	util_parse_iso8601(const char *s, int64_t *ms);

/*
 * The next element of the comma-separated header list at *p, blanks around
 * it left out (its length into *len); *p moves past it.  NULL at the end.
 */
const char	*util_list_next(const char **p, size_t *len);

/*
 * Whether the comma-separated header list (NULL: none) has an element
 * equal to name[0..len), compared without case (tokens, directives).
 */
int	util_list_has(const char *list, const char *name, size_t len);

/*
 * Whether If-None-Match value inm lists etag, weakly compared (RFC 9110
 * 13.1.2), or is "*".
 */
int	util_etag_listed(const char *inm, const char *etag);

/* Whether p[0..len) is printable ASCII: a field value sent back as is. */
int	util_field_value(const char *p, size_t len);

/* Whether p[0..len) is an HTTP token (RFC 9110), as a field name must be. */
int	util_http_token(const char *p, size_t len);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	util_hex(const unsigned char *in, size_t n, char *out);

/*
 * url without credentials or query into buf (len bytes), for logs: signed
 * CDN links, an upstream given as https://user:secret@host.
 */
const char	*util_log_url(const char *url, char *buf, size_t len);

/*
 * The HTTP Date value of now_ms ("Mon, 07 Dec 2026 01:23:24 GMT"), made
 * once a second and kept in static storage (the loop's thread only); its
 * length in *len.
 */
const char	*util_http_date(int64_t now_ms, size_t *len);

#endif
