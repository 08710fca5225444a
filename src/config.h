/*
 * Settings of every command: one option table that serve's command line,
 * its config file and the other commands' command lines share, so that each
 * default and range is written once; parsing of all three; and the --help
 * texts.  Once loaded, a struct config is read-only.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "auth.h"
#include "log.h"
#include "policy.h"

#define CONFIG_PATH_MAX		4096
#define CONFIG_URL_MAX		1024
#define CONFIG_GRANTS_MAX	10000	/* import --grant and --grant-file */
#define CONFIG_NEVER		INT64_MAX	/* keys --expires never */

/* The commands, named by the first argument ("serve" when none is). */
enum config_command {
	CONFIG_SERVE, CONFIG_EXPORT, CONFIG_IMPORT, CONFIG_STATS, CONFIG_PURGE,
	CONFIG_MIRROR, CONFIG_KEYS, CONFIG_USAGE_REPORT,
};

/* A member key's limits (SPEC 10); 0 = unlimited, -1 = not given. */
struct config_limits {
	int64_t			rpm;		/* submissions per minute */
	int64_t			max_running;	/* unfinished submitted jobs */
	int64_t			daily_credits;	/* credits in 24 h */
};

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
	uint64_t		memory_cache;		/* bytes of hot answers */
	int64_t			idle_timeout;		/* seconds */
	uint64_t		max_connections;
	int			offline;
	enum log_level		log_level;
	enum log_format		log_format;
	char			access_log[CONFIG_PATH_MAX]; /* stderr, off or a path */
	char			media_dir[CONFIG_PATH_MAX]; /* "": no mirror */
	int64_t			media_concurrency;
	uint64_t		max_media_bytes;
	int			rewrite_media_urls;
	char			public_url[CONFIG_URL_MAX]; /* "": from listen */
	char			upstream_token_file[CONFIG_PATH_MAX]; /* "": off */
	int			team_shared;	/* --team-visibility shared */
	struct config_limits	default_limits;	/* of new keys */
	int64_t			watch_max_age;	/* seconds */
	int64_t			max_wait;	/* seconds (SPEC 11) */
	int			watch;		/* fetch submitted jobs until done */

	/* The other commands' own options and operands (SPEC 8). */
	const char		*status;	/* NULL: any; borrowed from argv */
	int64_t			 since;		/* ms since the epoch, -1: none */
	int64_t			 older_than;	/* days, -1: none */
	int			 json;		/* stats --json */
	int			 export_media;	/* export --media */
	char			(*grants)[TOKEN_ID_LEN + 1]; /* token_ids, owned */
	size_t			 ngrants;
	struct {			/* keys' options, -1: not given */
		int		 admin;
		int64_t		 rpm, max_running, daily_credits;
		int64_t		 expires;	/* ms since the epoch, CONFIG_NEVER */
		int64_t		 grace;		/* seconds */
	} key;
	char			*keys_words[32]; /* keys' argv, permuted */
	char *const		*operands;	/* purge's jobids, keys' words */
	int			 noperands;
};

/* Whether job answers link to the mirror (SPEC 9). */
int	config_rewrites_media(const struct config *);

enum config_result {
	CONFIG_OK,
	CONFIG_HELP,		/* -h given: print config_usage(), exit 0 */
	CONFIG_VERSION,		/* -V given: print the version, exit 0 */
	CONFIG_ERROR,		/* print the line in err (if any), exit 2 */
	CONFIG_USAGE,		/* print the line in err, then config_usage() */
};

/* The command called word ("serve", "export", ...) into *cmd; -1: none. */
int	config_find_command(const char *word, enum config_command *cmd);

/* Fills cfg with the defaults of SPEC 5, as the option table gives them. */
void	config_defaults(struct config *);

/*
 * Parses the options and operands of cmd in argv[0..argc) (the command name
 * excluded): defaults, then for serve the -c/--config file, then the command
 * line.  On failure err holds the whole line to print.  Strings in cfg may
 * point into argv; config_free() releases what cfg owns, whatever the result.
 */
enum config_result config_parse(struct config *, enum config_command cmd,
	    int argc, char *const *argv, char *err, size_t errlen);

/* Applies a config file's key = value lines (serve's options) on top of cfg. */
int	config_load_file(struct config *, const char *path, char *err,
	    size_t errlen);

/* Prints cmd's usage: serve's options with their defaults, or the synopses. */
void	config_usage(FILE *, enum config_command cmd);

/* Releases what config_parse() allocated in cfg. */
void	config_free(struct config *);

#endif
