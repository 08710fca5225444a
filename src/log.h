/*
 * Logging to stderr: leveled messages and the one-line-per-request access
 * log, as text or as JSON objects.  Nothing here ever sees a raw token; the
 * access entry carries only its fingerprint.
 */
#ifndef LOG_H
#define LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

/* One request, as the access log shows it.  All strings are borrowed. */
struct log_access {
	const char	*client;	/* "127.0.0.1:5555" */
	const char	*method;
	const char	*path;		/* without the query string */
	int		 status;
	const char	*cache;		/* "HIT", "MISS", "STALE" or NULL */
	int		 upstream_status; /* 0: no upstream answer */
	int64_t		 duration_ms;
	const char	*token;		/* fingerprint, or NULL */
};

void	log_init(enum log_level, enum log_format);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
/* A line at a level chosen at run time. */
void	log_at(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* An info line printed whatever the level (start and stop). */
void	log_always(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Writes one access line for a finished request. */
void	log_access(const struct log_access *);

/*
 * Where access lines go (SPEC 7): "stderr" (the default), "off", or a
 * file appended to, buffered until log_access_flush().  0, or -1 with
 * errno when the file cannot be opened (lines then go where they went).
 */
int	log_access_open(const char *dest);

/* Writes out what the access file holds in its buffer. */
void	log_access_flush(void);

/* Opens the access file anew (it was moved away); -1 with errno, kept. */
int	log_access_reopen(void);

/* Flushes and closes the access file; lines go to stderr again. */
void	log_access_close(void);

/*
 * A progress line: on a terminal it is updated in place below the log
 * (done: for the last time); elsewhere each call is a plain log line.
 */
void	log_progress(int done, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Whether stderr is a terminal, where progress lines are redrawn in place. */
int	log_is_tty(void);

#endif
