/*
 * Job records as upstream sends them: what is read of one (status, type,
 * terminal: cache_parse_record() reads them), which statuses are final,
 * and the strong ETag of a record's exact bytes.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>

#define RECORD_FIELD_MAX	256	/* longer strings are kept truncated */
#define ETAG_LEN		34	/* quotes + 32 hex digits */

struct record {
	char	status[RECORD_FIELD_MAX];
	char	type[RECORD_FIELD_MAX];	/* "" when absent or not a string */
	int	terminal;		/* status is completed or failed */
};

/* Whether a status string is terminal (completed or failed). */
int	record_status_terminal(const char *status);

/* Strong ETag of body[0..len) into out (ETAG_LEN + 1 bytes), with quotes. */
void	record_etag(const void *body, size_t len, char *out);

#endif
