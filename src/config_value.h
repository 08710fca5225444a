/*
 * Readers of option values, for the option table in config.c.  Each
 * returns 0 with the value stored, or -1 with *err saying why (NULL:
 * nothing to add).
 */
#ifndef CONFIG_VALUE_H
#define CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* "HOST:PORT" or "[V6]:PORT": the host into host (hostcap bytes), the port. */
int	config_value_listen(char *host, size_t hostcap, unsigned *port,
	    const char *v, const char **err);

/* An http(s) URL of URL characters only, without trailing slashes. */
int	config_value_url(char *dst, size_t dstlen, const char *v,
	    const char **err);

/* A non-empty path that fits dst. */
int	config_value_path(char *dst, size_t dstlen, const char *v,
	    const char **err);

/* A flag: true/false, yes/no, on/off, 1/0. */
int	config_value_bool(int *out, const char *v, const char **err);

/* One choice among names[0..n); its index into *out. */
int	config_value_choice(int *out, const char *v, const char *const *names,
	    size_t n, const char **err);

/* An ISO 8601 date or UTC date-time, in ms since the epoch. */
int	config_value_since(int64_t *out, const char *v, const char **err);

#endif
