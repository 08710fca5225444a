/*
 * lumaproxy's entry point: picks the command, has config.c parse its
 * options and hands off.  "serve" is the default; the others work on a
 * cache file.
 */
#include <stdio.h>

#include "admin.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "server.h"

int
main(int argc, char **argv)
{
	static int (*const run[])(const struct config *) = {
		[CONFIG_EXPORT] = admin_export, [CONFIG_IMPORT] = admin_import,
		[CONFIG_STATS] = admin_stats, [CONFIG_PURGE] = admin_purge,
		[CONFIG_MIRROR] = admin_mirror, [CONFIG_KEYS] = keys_run,
		[CONFIG_USAGE_REPORT] = keys_usage_run,
	};
	enum config_command cmd = CONFIG_SERVE;
	struct config cfg;
	char err[4096];
	int first = 1, rc = 2;

	if (argc > 1 && argv[1][0] != '-') {
		if (config_find_command(argv[1], &cmd) != 0) {
			fprintf(stderr, "lumaproxy: unknown command '%s'"
			    " (see --help)\n", argv[1]);
			return 2;
		}
		first = 2;
	}
	switch (config_parse(&cfg, cmd, argc - first, argv + first, err,
	    sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout, cmd);
		rc = 0;
		break;
	case CONFIG_VERSION:
		printf("lumaproxy %s\n", PACKAGE_VERSION);
		rc = 0;
		break;
	case CONFIG_USAGE:
		fprintf(stderr, "%s\n", err);
		config_usage(stderr, cmd);
		break;
	case CONFIG_ERROR:
		if (err[0] != '\0')
			fprintf(stderr, "%s\n", err);
		break;
	case CONFIG_OK:
		if (cmd == CONFIG_SERVE) {
			log_init(cfg.log_level, cfg.log_format);
			rc = server_run(&cfg);
		} else
			rc = run[cmd](&cfg);
		break;
	}
	config_free(&cfg);
	return rc;
}
