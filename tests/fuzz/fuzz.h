/*
 * What every fuzz target shares: libFuzzer's entry point, and the input as
 * a NUL-terminated string for parsers of C strings (header values, lines).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data[0..size) up to its first NUL, as a string the caller frees. */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
