/*
 * The values options take: a listen address, a URL, a path, a flag, one
 * of a few words, a date.  Each reader checks the text it is
 * given and says why it refuses it; the option table (config.c) picks the
 * reader and holds ranges and defaults.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config_value.h"
#include "util.h"

int
config_value_listen(char *host_out, size_t hostcap, unsigned *port_out,
    const char *v, const char **err)
{
	const char *colon, *host = v;
	size_t hostlen;
	uint64_t port;

	if ((colon = strrchr(v, ':')) == NULL) {
		*err = "expected HOST:PORT";
		return -1;
	}
	hostlen = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hostlen < 3 || v[hostlen - 1] != ']') {
			*err = "expected [IPV6]:PORT";
			return -1;
		}
		host = v + 1;
		hostlen -= 2;
	} else if (memchr(v, ':', hostlen) != NULL) {
		*err = "IPv6 addresses go in brackets, as [::1]:8080";
		return -1;
	}
	if (hostlen == 0 || hostlen >= hostcap) {
		*err = "bad host";
		return -1;
	}
	if (parse_uint(colon + 1, 0, 65535, &port, err) != 0)
		return -1;
	memcpy(host_out, host, hostlen);
	host_out[hostlen] = '\0';
	*port_out = (unsigned)port;
	return 0;
}

/*
 * An http(s) URL with a host and no query or fragment, checked by curl,
 * into dst without trailing slashes.
 */
int
config_value_url(char *dst, size_t dstlen, const char *v, const char **err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
	size_t n = strlen(v);
	int rc = -1;

	*err = "expected an http:// or https:// URL";
	if (u == NULL || n >= dstlen)
		goto done;
	/* What may stand in a URL as is (RFC 3986), nothing to escape. */
	if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~:/?#[]@!$&'()*+,;=%") != n)
		goto done;
	if (curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto done;
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		goto done;
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		*err = "a base URL takes no query or fragment";
		goto done;
	}
	while (n > 0 && v[n - 1] == '/')
		n--;
	memcpy(dst, v, n);
	dst[n] = '\0';
	rc = 0;
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

/* A non-empty path that fits dst. */
int
config_value_path(char *dst, size_t dstlen, const char *v, const char **err)
{
	if (*v == '\0' || strlen(v) >= dstlen) {
		*err = "bad path";
		return -1;
	}
	snprintf(dst, dstlen, "%s", v);
	return 0;
}

/* A flag: true/false, yes/no, on/off, 1/0. */
int
config_value_bool(int *out, const char *v, const char **err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	*err = "expected true or false";
	return -1;
}

/* One choice among names[0..n); its index into *out. */
int
config_value_choice(int *out, const char *v, const char *const *names, size_t n,
    const char **err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	*err = "not one of the allowed values";
	return -1;
}

/* An ISO 8601 date or UTC date-time, in ms. */
int
config_value_since(int64_t *out, const char *v, const char **err)
{
	if (util_parse_iso8601(v, out) != 0) {
		*err = "not an ISO 8601 date or UTC date-time";
		return -1;
	}
	return 0;
}
