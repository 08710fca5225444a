/*
 * Job record inspection with jansson.  The body is never rewritten: the
 * parse only decides whether to cache it and under which status; the cache
 * keeps and serves the bytes upstream sent.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "record.h"
#include "util.h"

/* Copies a JSON string member of o into out; "" unless it fits. */
static int
copy_string(json_t *o, const char *key, char *out, size_t len)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	out[0] = '\0';
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n >= len || memchr(json_string_value(v), '\0', n) != NULL)
		return -1;
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

int
record_parse(const void *body, size_t len, struct record *rec)
{
	json_error_t jerr;
	json_t *root;
	int rc = -1;

	memset(rec, 0, sizeof(*rec));
	/* Integers as reals: a huge number is still a valid record. */
	root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL, &jerr);
	if (root == NULL)
		return -1;
	if (!json_is_object(root))
		goto done;
	if (copy_string(root, "status", rec->status, sizeof(rec->status)) != 0)
		goto done;
	(void)copy_string(root, "type", rec->type, sizeof(rec->type));
	rec->terminal = record_status_terminal(rec->status);
	rc = 0;
done:
	json_decref(root);
	return rc;
}

int
record_status_terminal(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0;
}

void
record_etag(const void *body, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[33];

	if (EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		assert(!"SHA-256 failed");
	util_hex(md, 16, hex);
	snprintf(out, ETAG_LEN + 1, "\"%s\"", hex);
}
