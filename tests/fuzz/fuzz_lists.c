/*
 * Header lists and small values: the input is split at its first NUL
 * into a header value and an argument (a name, an ETag, a size), then
 * util_list_next(), util_list_has(), util_etag_listed(), util_field_value(),
 * util_http_token(), parse_uint(), util_parse_iso8601() and
 * media_serve_parse_range() (Range) read them.
 */
#include <assert.h>

#include "fuzz.h"
#include "media_serve.h"
#include "util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *e, *err;
	uint64_t first, last, u, fsize;
	char *s, *arg;
	size_t len;
	int64_t ms;

	s = fuzz_string(data, size);
	arg = s + strlen(s);
	if ((size_t)(arg - s) < size)
		arg++;
	p = s;
	while ((e = util_list_next(&p, &len)) != NULL)
		assert(e >= s && e + len <= s + strlen(s));
	(void)util_list_has(s, arg, strlen(arg));
	(void)util_list_has(s, "no-cache", 8);
	(void)util_etag_listed(s, arg);
	(void)util_field_value(s, strlen(s));
	(void)util_http_token(s, strlen(s));
	(void)parse_uint(s, 0, UINT64_MAX, &u, &err);
	if (util_parse_iso8601(s, &ms) == 0)
		assert(ms >= 0 || ms < 0);
	fsize = strlen(arg) > 0 ? (uint64_t)(unsigned char)arg[0] << 16 : 0;
	if (media_serve_parse_range(s, fsize, &first, &last) == RANGE_OK)
		assert(first <= last && last < fsize);
	free(s);
	return 0;
}
