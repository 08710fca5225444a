/*
 * lumaproxy's entry point: picks the command, parses its options and hands
 * off.  "serve" is the default; the others work on a cache file.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "config.h"
#include "log.h"
#include "server.h"

int
main(int argc, char **argv)
{
	struct config cfg;
	char err[1024];
	int first = 1;

	static const struct {
		const char	*name;
		int		(*run)(int, char **);
	} commands[] = {
		{ "export", admin_export }, { "import", admin_import },
		{ "stats", admin_stats }, { "purge", admin_purge },
		{ "mirror", admin_mirror },
	};

	for (size_t i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		first = 2;
	else if (argc > 1 && argv[1][0] != '-') {
		fprintf(stderr, "lumaproxy: unknown command '%s' (see --help)\n",
		    argv[1]);
		return 2;
	}
	switch (config_parse(&cfg, argc - first, argv + first, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return 0;
	case CONFIG_VERSION:
		printf("lumaproxy %s\n", PACKAGE_VERSION);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "lumaproxy: %s\n", err);
		return 2;
	case CONFIG_OK:
		break;
	}
	log_init(cfg.log_level, cfg.log_format);
	return server_run(&cfg);
}
