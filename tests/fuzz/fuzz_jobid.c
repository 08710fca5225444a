/*
 * Jobids: jobid_decode() on any path segment; what it accepts is valid,
 * and its canonical encoding decodes to the same jobid.
 */
#include <assert.h>

#include "fuzz.h"
#include "jobid.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[JOBID_MAX + 1], again[JOBID_MAX + 1], enc[JOBID_ENC_MAX];
	char *s;

	if (jobid_decode((const char *)data, size, out) == 0) {
		assert(jobid_valid(out));
		jobid_encode(out, enc);
		assert(jobid_decode(enc, strlen(enc), again) == 0);
		assert(strcmp(out, again) == 0);
	}
	s = fuzz_string(data, size);
	(void)jobid_valid(s);
	free(s);
	return 0;
}
