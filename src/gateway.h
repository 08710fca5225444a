/*
 * The team gateway (SPEC 10, --upstream-token-file): the held upstream
 * token, the members (team.c) kept in step with the database within a
 * second of a keys command, who may see which job, job ownership and
 * credits, and the usage counters written back every 10 s.  The routes ask
 * it; it knows no route and answers no request.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "team.h"

struct evbuffer;
struct evkeyvalq;
struct proxy;
struct record;

/* What a path under /v1/ is to the gateway. */
enum gateway_path {
	GATEWAY_OPEN,		/* every member */
	GATEWAY_ADMIN,		/* /v1/luma/accounts and below */
	GATEWAY_SUBMIT_VIDEO,	/* POST /v1/luma/videos */
	GATEWAY_SUBMIT_IMAGE,	/* POST /v1/luma/images */
	GATEWAY_JOBS,		/* the jobs route, spelt otherwise */
	GATEWAY_ODD,		/* a spelling another server may read otherwise */
};

struct gateway;

/*
 * Reads the token file as ssh reads a private key: a regular file, not
 * readable or writable by group or others, whose first line is a token
 * (1-4096 visible ASCII bytes).  0 with the token in tok (cap bytes), or -1
 * with err saying why.
 */
int	gateway_read_token(const char *path, char *tok, size_t cap, char *err,
	    size_t errlen);

/*
 * The gateway of px (its cfg names the token file): the token read, the
 * members, running jobs and credits of the last 24 h loaded, the reload
 * and flush timer started.  NULL with err set.
 */
struct gateway	*gateway_new(struct proxy *, char *err, size_t errlen);

/* Writes the usage counters out and frees g (NULL: no-op). */
void	gateway_free(struct gateway *);

/* The held token, and its token_id (the cache's key for every member). */
const char	*gateway_token(const struct gateway *, size_t *len);
const char	*gateway_token_id(const struct gateway *);

/*
 * The member whose key the request's one Authorization header carries;
 * NULL for none, or for two (which one a balancer in front hashes on,
 * SPEC 12, is anyone's guess).
 */
struct member	*gateway_member(struct gateway *, const struct evkeyvalq *headers,
		    int64_t now);

/* The member whose key token_id (auth_token_id()) is, or NULL. */
struct member	*gateway_member_by_id(struct gateway *, const char *token_id,
		    int64_t now);

/* Whether members see every job of the account (--team-visibility shared). */
int	gateway_shared(const struct gateway *);

/* Whether m may see jobid (SPEC 10): 1, 0, or -1 on a database error. */
int	gateway_may_see(struct gateway *, const struct member *,
	    const char *jobid);

/*
 * What path is, for a request of method POST (post) or another, however
 * a server behind us may read it (case, empty segments, ';' parameters);
 * GATEWAY_ODD when it is spelt so that no two servers need read it alike.
 */
enum gateway_path	gateway_path_kind(const char *path, int post);

/* A submission by m ended: jobid made (NULL: none) at now. */
void	gateway_submitted(struct gateway *, struct member *, const char *jobid,
	    int64_t now);

/*
 * A job record was fetched with the held token (rec read from it), and
 * stored or not (the database could not be written); polled: a client
 * asked for it (not the background watch), so that an unfinished job
 * counts as running on.  A finished one no longer runs; its outcome and
 * credits count once it is stored.
 */
void	gateway_job_fetched(struct gateway *, const char *jobid,
	    const struct record *rec, const void *body, size_t len, int polled,
	    int stored, int64_t now);

/*
 * credits.dm_usage of a completed job's record: 0 with the number (0 for
 * null or absent), -1 when it is something else (counted as 0).
 */
int	gateway_credits(const void *body, size_t len, double *credits);

/*
 * Calls fn for each job a member has running (submitted at ms), as loaded
 * at the start: watching resumes after a restart (SPEC 11).
 */
void	gateway_each_running(struct gateway *,
	    void (*fn)(const char *jobid, int64_t submitted, void *), void *arg);

/* Appends the member="NAME" series to a /metrics page; -1: out of memory. */
int	gateway_metrics(struct gateway *, struct evbuffer *);

#endif
