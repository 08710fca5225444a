/*
 * Member names, as keys add and import lines give them: team_name_valid()
 * on any string.
 */
#include "fuzz.h"
#include "team.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	s = fuzz_string(data, size);
	(void)team_name_valid(s);
	free(s);
	return 0;
}
