/*
 * The rules about job records that need no parser: which statuses are
 * final, and the strong ETag of a record's exact bytes (SHA-256 by
 * libcrypto).  Reading a record is cache_parse_record()'s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "record.h"
#include "util.h"

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
