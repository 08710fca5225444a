/*
 * The Authorization header: parsing "Bearer <token>", the token_id (hex
 * SHA-256 of the token) that keys the cache, and the 8-digit fingerprint
 * that logs show.  The raw token never leaves the request that carried it.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_MAX	4096
#define TOKEN_ID_LEN	64	/* hex digits, without NUL */
#define FINGERPRINT_LEN	8

/*
 * Finds the token in an Authorization header value.  On success returns 0
 * and points *tok (borrowed from hdr) and *len at it; -1 when malformed.
 */
int	auth_parse(const char *hdr, const char **tok, size_t *len);

/* token_id of tok[0..len) into out (TOKEN_ID_LEN + 1 bytes). */
void	auth_token_id(const char *tok, size_t len, char *out);

#endif
