/*
 * Prefer (RFC 7240 section 2): a comma-separated list of preferences,
 * each "token [= word]" followed by ";"-separated parameters, names
 * case-insensitive.  wait's value is delta-seconds (RFC 9111 1.2.2): digits
 * only, a value too large for any type taken as the largest.  Accept (RFC
 * 9110 12.5.1): media ranges with parameters, a weight of 0 meaning "not
 * acceptable".
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "prefer.h"

/* Digits [s, e) as seconds, at most max; -1 when not only digits. */
static int64_t
seconds(const char *s, const char *e, int64_t max)
{
	int64_t v = 0;

	if (s < e && *s == '"' && e[-1] == '"' && e - s >= 2) {
		s++;	/* a quoted-string word */
		e--;
	}
	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v < max)
			v = v * 10 + (*s - '0');
	}
	return v > max ? max : v;
}

/* [s, e) without spaces and tabs at either end. */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

int64_t
prefer_wait(const char *prefer, int64_t max)
{
	const char *p, *end, *eq, *stop;
	int64_t v;

	for (p = prefer; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		stop = p + strcspn(p, ";,");	/* the parameters are not its */
		eq = memchr(p, '=', (size_t)(stop - p));
		{
			const char *ns = p, *ne = eq ? eq : stop;

			trim(&ns, &ne);
			if (ne - ns != 4 || strncasecmp(ns, "wait", 4) != 0)
				continue;
		}
		if (eq == NULL)
			return 0;
		{
			const char *vs = eq + 1, *ve = stop;

			trim(&vs, &ve);
			v = seconds(vs, ve, max);
		}
		return v < 0 ? 0 : v;
	}
	return 0;
}

int64_t
prefer_query_wait(const char *query, int64_t max)
{
	const char *p, *end;
	int64_t v;

	for (p = query; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if (end - p < 5 || strncmp(p, "wait=", 5) != 0)
			continue;
		v = seconds(p + 5, end, max);
		return v < 0 ? 0 : v;
	}
	return 0;
}

/* Whether a weight [s, e) is 0 ("0", "0.", "0.000"). */
static int
zero_weight(const char *s, const char *e)
{
	if (s == e || *s != '0')
		return 0;
	for (s++; s < e; s++)
		if (*s != '.' && *s != '0')
			return 0;
	return 1;
}

int
prefer_event_stream(const char *accept)
{
	static const char type[] = "text/event-stream";
	const char *p, *end, *q, *qe, *ts, *te;

	for (p = accept; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		ts = p;
		te = p + strcspn(p, ";,");
		trim(&ts, &te);
		if ((size_t)(te - ts) != sizeof(type) - 1 ||
		    strncasecmp(ts, type, sizeof(type) - 1) != 0)
			continue;
		/* Its parameters: a q of 0 refuses it. */
		for (q = te; q < end; q = qe) {
			const char *ps, *pe;

			q += strspn(q, "; \t");
			qe = q + strcspn(q, ";,");
			if (qe > end)
				qe = end;
			ps = q;
			pe = qe;
			trim(&ps, &pe);
			if (pe - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') &&
			    ps[1] == '=' && zero_weight(ps + 2, pe))
				return 0;
			if (qe == q)
				break;
		}
		return 1;
	}
	return 0;
}
