/*
 * Job records as upstream sends them: deciding with SQLite's JSON parser
 * whether a body is a job record, what its status and type are and whether
 * it is terminal, and the strong ETag of its exact bytes.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>

#define RECORD_FIELD_MAX	256	/* longer strings are kept truncated */
#define ETAG_LEN		34	/* quotes + 32 hex digits */

struct record_parser;

struct record {
	char	status[RECORD_FIELD_MAX];
	char	type[RECORD_FIELD_MAX];	/* "" when absent or not a string */
	int	terminal;		/* status is completed or failed */
};

/* A parser (a private in-memory SQLite connection); NULL on failure. */
struct record_parser *record_parser_new(void);

/* Frees a parser; NULL is a no-op. */
void	record_parser_free(struct record_parser *);

/*
 * Parses body[0..len): 0 and *rec filled when it is a JSON object with a
 * string "status", -1 otherwise.
 */
int	record_parse(struct record_parser *, const void *body, size_t len,
	    struct record *rec);

/* Whether a status string is terminal (completed or failed). */
int	record_status_terminal(const char *status);

/* Strong ETag of body[0..len) into out (ETAG_LEN + 1 bytes), with quotes. */
void	record_etag(const void *body, size_t len, char *out);

#endif
