/*
 * Authorization values: auth_parse() on any string; a token it finds lies
 * inside the value, and its token_id is computed.
 */
#include <assert.h>

#include "auth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[TOKEN_ID_LEN + 1];
	const char *tok;
	size_t len;
	char *s;

	s = fuzz_string(data, size);
	if (auth_parse(s, &tok, &len) == 0) {
		assert(tok >= s && tok + len <= s + strlen(s));
		auth_token_id(tok, len, id);
		assert(strlen(id) == TOKEN_ID_LEN);
	}
	free(s);
	return 0;
}
