/*
 * The commands that work on a cache file rather than serve it: export,
 * import, stats, purge (SPEC 5 and 8) and mirror (SPEC 9).  Each parses its own options and
 * returns the process's exit status: 0, 1 when the work failed, 2 for a
 * bad command line.
 */
#ifndef ADMIN_H
#define ADMIN_H

int	admin_export(int argc, char **argv);
int	admin_import(int argc, char **argv);
int	admin_stats(int argc, char **argv);
int	admin_purge(int argc, char **argv);
int	admin_mirror(int argc, char **argv);

#endif
