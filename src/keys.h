/*
 * The team gateway's commands on a cache file (SPEC 10): keys (add, list,
 * set, revoke, rotate, log) and usage, and the member keys themselves:
 * "lp_" and 43 base64url characters of 32 random bytes.  A key is printed
 * once and never stored; the database keeps its SHA-256.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>

struct config;

#define KEYS_RAW_LEN	32			/* random bytes of a key */
#define KEYS_KEY_LEN	(3 + 43)		/* "lp_" + base64url, no NUL */

/*
 * The keys command, then the usage command, once config.c has read their
 * command lines: 0, 1 when the work failed, 2 for a bad command line.
 */
int	keys_run(const struct config *);
int	keys_usage_run(const struct config *);

/* The key of raw bytes into key (KEYS_KEY_LEN + 1 bytes). */
void	keys_encode(const unsigned char raw[KEYS_RAW_LEN], char *key);

/*
 * A new key from the kernel's CSPRNG (getrandom(2)) into key
 * (KEYS_KEY_LEN + 1 bytes): 0, or -1 with errno set.
 */
int	keys_generate(char *key);

#endif
