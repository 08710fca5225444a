/*
 * Job identifiers: the one path segment after /v1/luma/jobs/, decoded and
 * checked, and the canonical percent-encoding used on the upstream path.
 */
#ifndef JOBID_H
#define JOBID_H

#include <stddef.h>

#define JOBID_MAX	512			/* decoded bytes */
#define JOBID_ENC_MAX	(JOBID_MAX * 3 + 1)	/* encoded, with NUL */

/*
 * Decodes seg[0..len) (percent-decoding once) into out (JOBID_MAX + 1 bytes)
 * and validates it.  Returns 0, or -1 for an invalid jobid.
 */
int	jobid_decode(const char *seg, size_t len, char *out);

/* Whether an already decoded jobid (from a record, a command line) is valid. */
int	jobid_valid(const char *jobid);

/* Canonical encoding of a valid jobid into out (JOBID_ENC_MAX bytes). */
void	jobid_encode(const char *jobid, char *out);

#endif
