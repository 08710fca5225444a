/*
 * Job records as upstream sends them: deciding with a JSON parser whether a
 * body is a job record, what its status and type are and whether it is
 * terminal, and the strong ETag of its exact bytes.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>

#define RECORD_FIELD_MAX	64
#define ETAG_LEN		34	/* quotes + 32 hex digits */

struct record {
	char	status[RECORD_FIELD_MAX];
	char	type[RECORD_FIELD_MAX];	/* "" when absent or not a string */
	int	terminal;		/* status is completed or failed */
};

/*
 * Parses body[0..len): 0 and *rec filled when it is a JSON object with a
 * string "status" (of at most 63 bytes), -1 otherwise.
 */
int	record_parse(const void *body, size_t len, struct record *rec);

/* Whether a status string is terminal (completed or failed). */
int	record_status_terminal(const char *status);

/* Strong ETag of body[0..len) into out (ETAG_LEN + 1 bytes), with quotes. */
void	record_etag(const void *body, size_t len, char *out);

#endif
