/*
 * Config files: config_load_file() on any file contents, over the
 * defaults, the result released with config_free().
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	struct config cfg;
	char tmp[] = "/tmp/fuzz_config.XXXXXX", err[512];

	/* One file, unlinked at once, reopened by its /proc name. */
	if (fd == -1) {
		if ((fd = mkstemp(tmp)) == -1 || unlink(tmp) != 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	config_defaults(&cfg);
	(void)config_load_file(&cfg, path, err, sizeof(err));
	config_free(&cfg);
	return 0;
}
