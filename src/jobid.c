/*
 * Jobid decoding and canonical encoding.  A jobid is checked after one round
 * of percent-decoding, so "%2F" cannot smuggle a slash; the upstream path is
 * re-encoded from the decoded bytes, so no input can change it.
 */
#include <string.h>

#include "jobid.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
jobid_decode(const char *seg, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)seg[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval((unsigned char)seg[i + 1]);
			lo = hexval((unsigned char)seg[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c < 0x21 || c > 0x7e || strchr("/\\?#%", c) != NULL)
			return -1;
		if (n == JOBID_MAX)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (n == 0 || out[0] != 'j')
		return -1;
	return 0;
}

int
jobid_valid(const char *jobid)
{
	char out[JOBID_MAX + 1];

	/* '%' is not allowed in a jobid: decoding a valid one is a copy. */
	return strchr(jobid, '%') == NULL &&
	    jobid_decode(jobid, strlen(jobid), out) == 0;
}

void
jobid_encode(const char *jobid, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t n = 0;

	for (p = (const unsigned char *)jobid; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~:@", *p) != NULL)
			out[n++] = (char)*p;
		else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xf];
		}
	}
	out[n] = '\0';
}
