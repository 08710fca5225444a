/*
 * Settings of the serve command: defaults, the option table shared by the
 * command line and the config file, parsing of both, and the --help text.
 * Once loaded, a struct config is read-only.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "policy.h"

#define CONFIG_PATH_MAX		4096
#define CONFIG_URL_MAX		1024

struct config {
	char			listen_host[256];	/* without brackets */
	unsigned		listen_port;		/* 0: any free port */
	char			upstream[CONFIG_URL_MAX]; /* no trailing '/' */
	char			db[CONFIG_PATH_MAX];
	int64_t			pending_interval;	/* seconds */
	enum pending_mode	pending_mode;
	int64_t			negative_ttl;		/* seconds */
	int64_t			upstream_timeout;	/* seconds */
	uint64_t		max_upstream_body;	/* bytes */
	uint64_t		max_request_body;	/* bytes, pass-through */
	uint64_t		max_connections;
	int			offline;
	enum log_level		log_level;
	enum log_format		log_format;
	char			media_dir[CONFIG_PATH_MAX]; /* "": no mirror */
	int64_t			media_concurrency;
	uint64_t		max_media_bytes;
	int			rewrite_media_urls;
	char			public_url[CONFIG_URL_MAX]; /* "": from listen */
};

/* Whether job answers link to the mirror (SPEC 9). */
int	config_rewrites_media(const struct config *);

enum config_result {
	CONFIG_OK,
	CONFIG_HELP,		/* -h given: print config_usage(), exit 0 */
	CONFIG_VERSION,		/* -V given: print the version, exit 0 */
	CONFIG_ERROR,		/* message in err */
};

/* Fills cfg with the defaults of SPEC 5. */
void	config_defaults(struct config *);

/*
 * Parses the serve options in argv[0..argc) (the command name excluded):
 * defaults, then the -c/--config file, then the command line.
 */
enum config_result config_parse(struct config *, int argc, char *const *argv,
	    char *err, size_t errlen);

/* Applies a config file's key = value lines on top of cfg. */
int	config_load_file(struct config *, const char *path, char *err,
	    size_t errlen);

/* Prints the usage text with every option and its default. */
void	config_usage(FILE *);

#endif
