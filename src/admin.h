/*
 * The commands that work on a cache file rather than serve it: export,
 * import, stats, purge (SPEC 5 and 8) and mirror (SPEC 9).  Each takes the
 * settings config_parse() read from its command line, read-only, and
 * returns the process's exit status: 0, or 1 when the work failed.
 */
#ifndef ADMIN_H
#define ADMIN_H

struct config;

int	admin_export(const struct config *);
int	admin_import(const struct config *);
int	admin_stats(const struct config *);
int	admin_purge(const struct config *);
int	admin_mirror(const struct config *);

#endif
