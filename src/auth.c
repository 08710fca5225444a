/*
 * Authorization parsing and token hashing with libcrypto.  The scheme is
 * matched case-insensitively; the token must be 1-4096 visible ASCII bytes
 * with nothing before the scheme and after the token but spaces and tabs.
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth.h"
#include "util.h"

int
auth_parse(const char *hdr, const char **tok, size_t *len)
{
	const char *p, *end;

	if (hdr == NULL)
		return -1;
	/* Whitespace before the value is not part of it (RFC 9110, 5.5). */
	while (*hdr == ' ' || *hdr == '\t')
		hdr++;
	if (strncasecmp(hdr, "Bearer", 6) != 0)
		return -1;
	p = hdr + 6;
	if (*p != ' ' && *p != '\t')
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	for (end = p; *end > 0x20 && *end < 0x7f; end++)
		;
	if (end == p || (size_t)(end - p) > AUTH_TOKEN_MAX)
		return -1;
	for (const char *q = end; *q != '\0'; q++)
		if (*q != ' ' && *q != '\t')
			return -1;
	*tok = p;
	*len = (size_t)(end - p);
	return 0;
}

void
auth_token_id(const char *tok, size_t len, char *out)
{
	/*
	 * Fetched once: a fetch per call costs more than the digest.  Every
	 * caller runs on the one thread of the loop or of a command.
	 */
	static EVP_MD *sha256;
	static EVP_MD_CTX *ctx;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256",
	    NULL)) == NULL)
		assert(!"SHA-256 is not available");
	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		assert(!"out of memory");
	if (EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, tok, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		assert(!"SHA-256 failed");
	util_hex(md, 32, out);
}
