/*
 * What jobs.c (the route) and jobs_fetch.c (the in-flight table) share and
 * nobody else sees: the table and its slots, the requests waiting in them,
 * and an answer before its headers.  The public API is jobs.h.
 */
#ifndef JOBS_INT_H
#define JOBS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "auth.h"
#include "jobid.h"
#include "record.h"

struct cache_job;
struct cache_negative;
struct client_watch;
struct commit;
struct commit_wait;
struct evbuffer;
struct evhttp_request;
struct evkeyvalq;
struct member;
struct proxy;
struct record;
struct reply_info;
struct upstream_request;

#define JOBS_MAGIC		0x4a4f4253u
#define SLOT_MAGIC		0x534c4f54u
#define WAITER_MAGIC		0x57414954u
#define HELD_MAGIC		0x48454c44u

#define SLOT_BUCKETS		4096		/* power of two */
#define SLOTS_MAX		100000		/* fetches in flight + remembered failures */
#define BACKOFF_BODY_MAX	16384
#define BACKOFF_MAX_S		(86400 * 7)	/* longest Retry-After honoured */
#define SUBMIT_GRACE_MS		60000		/* a new job's 404 is not kept */
#define KEPT_BYTES_MAX		(64 * 1024 * 1024) /* unstored answers, all slots */

/* What a request asked for instead of a plain answer (SPEC 11). */
struct push_ask {
	int64_t			 wait_s;	/* long poll: seconds, 0: none */
	int			 prefer;	/* asked by Prefer: say it was applied */
	int			 stream;	/* an event stream */
};

/* One request waiting for a fetch. */
struct waiter {
	unsigned		 magic;
	struct slot		*slot;		/* borrowed */
	struct evhttp_request	*req;		/* borrowed from evhttp */
	struct client_watch	*watch;		/* owned: the client's hang-up */
	struct member		*member;	/* team gateway: who asks */
	struct push_ask		 ask;
	int64_t			 started;
	TAILQ_ENTRY(waiter)	 entry;
};

struct held;

/* What is in flight, or remembered, for one (jobid, token). */
struct slot {
	unsigned		 magic;
	struct jobs		*jobs;		/* borrowed */
	char			 jobid[JOBID_MAX + 1];
	char			 token_id[TOKEN_ID_LEN + 1];
	char			 fp[FINGERPRINT_LEN + 1];
	struct upstream_request	*fetch;		/* owned while in flight */
	struct commit_wait	*commit;	/* owned: its rows to commit */
	TAILQ_HEAD(, waiter)	 waiters;
	int64_t			 backoff_until;	/* upstream's 429: wait until (ms) */
	int64_t			 hold_until;	/* upstream failing: wait until (ms) */
	struct evbuffer		*backoff_body;	/* owned, upstream's 429 body */
	/*
	 * An unfinished record or a negative answer fetched while the
	 * database could not store it: answered from here until kept_until
	 * (one pending-interval), so that polling stays within its budget.
	 */
	unsigned char		*kept;		/* owned: its body, or NULL */
	size_t			 kept_len;
	int			 kept_status;	/* 200: a record; else negative */
	char			 kept_job[RECORD_FIELD_MAX]; /* a record's status */
	int64_t			 kept_at;	/* fetched (ms) */
	int64_t			 kept_until;
	struct slot		*next;		/* bucket chain */
	/* jobs_push.c: long polls, event streams, the background watch. */
	TAILQ_HEAD(, held)	 holds;
	struct event		*refresh;	/* owned: their next fetch */
	int64_t			 refresh_at;	/* when it is planned (ms) */
	int64_t			 fetched_at;	/* the last fetch started (ms) */
	int			 self_fetch;	/* it was the slot's own */
	char			*token;		/* owned: the token it is made with */
	size_t			 token_len;
	int64_t			 watch_from;	/* watched since (ms), 0: not */
	int64_t			 watch_until;
};

struct jobs {
	unsigned		 magic;
	struct proxy		*px;		/* borrowed */
	struct slot		*buckets[SLOT_BUCKETS];
	size_t			 nslots;
	struct event		*sweep;		/* owned: housekeeping timer */
	struct commit		*commit;	/* owned: the group commit */
	uint64_t		 upstream_calls;	/* for jobs_get_stats() */
	uint64_t		 coalesced;
	uint64_t		 rate_limited;
	size_t			 kept_bytes;	/* of every slot's kept body */
	const struct slot_events *events; /* jobs_push.c's */
	size_t			 nheld;		/* long polls and streams */
	size_t			 nwatched;
};

/* An answer, local or from a fetch, before the reply headers are added. */
struct answer {
	int			 status;
	const unsigned char	*body;		/* borrowed, copied when sent */
	size_t			 len;
	const char		*content_type;	/* NULL: JSON */
	const char		*etag;		/* terminal 200s, else NULL */
	const char		*jobid;		/* with etag: media links may change */
	int64_t			 age;		/* seconds, -1: no Age */
	int64_t			 retry_after;	/* seconds, 0: none */
};

/* Seconds from fetched_at to now (ms), 0 when the clock went back. */
static inline int64_t
jobs_age_seconds(int64_t now, int64_t fetched_at)
{
	return now > fetched_at ? (now - fetched_at) / 1000 : 0;
}

/*
 * jobs_answer.c: sends answer a to req (its body copied), with the headers
 * a job answer carries; a 200 whose ETag If-None-Match lists becomes a 304.
 */
void	jobs_send_answer(struct proxy *, struct evhttp_request *,
	    const struct answer *, const struct reply_info *);

/* Adds the header key: v, v in decimal. */
void	jobs_add_header_int(struct evkeyvalq *, const char *key, int64_t v);

/* jobs_fetch.c: the slot of (jobid, token_id), or NULL. */
struct slot	*jobs_slot_find(struct jobs *, const char *jobid,
		    const char *token_id);

/* A new, empty slot for (jobid, token_id); NULL when out of memory. */
struct slot	*jobs_slot_new(struct jobs *, const char *jobid,
		    const char *token_id);

/* Frees s when nothing is in flight and no back-off is worth keeping. */
void	jobs_slot_release(struct slot *, int64_t now);

/*
 * Whether s has a fetch in flight, or its result waiting for the group
 * commit (commit.c): either way its waiters are answered when it ends,
 * and no other fetch of s may start.
 */
static inline int
jobs_slot_in_flight(const struct slot *s)
{
	return s->fetch != NULL || s->commit != NULL;
}

/*
 * Starts the fetch of slot s with the caller's token (the held one for
 * member m of a team gateway, else m is NULL); -1 when it cannot.
 */
int	jobs_slot_fetch(struct slot *, const char *token, size_t token_len,
	    struct member *m);

/* Queues req (of member m, or NULL) on slot s, to be answered by its fetch. */
int	jobs_slot_wait(struct slot *, struct evhttp_request *, int64_t started,
	    struct member *m, const struct push_ask *);

/*
 * The unfinished record slot s keeps because it could not be stored, while
 * it is to be answered from memory: 1 with job (as cache_lookup() fills
 * it) and its body added to body, else 0.
 */
int	jobs_slot_kept_job(const struct slot *, int64_t now, struct cache_job *,
	    struct evbuffer *body);

/* The same for a negative answer that could not be stored: 1 or 0. */
int	jobs_slot_kept_negative(const struct slot *, int64_t now,
	    struct cache_negative *, struct evbuffer *body);

/* Whether slot s must be kept: requests held, or watched. */
int	jobs_slot_busy(const struct slot *, int64_t now);

/*
 * What the in-flight table tells jobs_push.c, the layer above it that
 * holds requests on its slots (SPEC 11), through jobs->events, so that
 * the table knows nothing of it.
 */
struct slot_events {
	/*
	 * Holds req on slot s: a long poll until the job's status differs
	 * from status, or an event stream (its first event, body, sent now;
	 * ended at once when terminal).  The slot fetches for it once per
	 * interval from next_ms on, with token (copied).  0, or -1 when req
	 * could not be held (it is then not answered).
	 */
	int	(*hold)(struct slot *, struct evhttp_request *, int64_t started,
		    struct member *, const struct push_ask *,
		    const char *status, const void *body, size_t len,
		    int terminal, const char *token, size_t token_len,
		    int64_t next_ms);
	/*
	 * A fetch of slot s ended, its waiters answered: rec is the job
	 * record when it is one (else NULL), a the answer they got.
	 */
	void	(*fetched)(struct slot *, const struct record *rec,
		    const struct answer *a, const char *cache, int stored,
		    int upstream_status, int64_t now);
	/* Answers every held request of s now, from the cache (stopping). */
	void	(*release)(struct slot *);
	/* s is freed: what it keeps for them goes (nothing is held). */
	void	(*freed)(struct slot *);
};

/* Releases every slot that holds nothing worth keeping any more. */
void	jobs_slots_sweep(struct jobs *, int64_t now);

/* Shutting down: cancels every fetch, answers every waiter with a, frees. */
void	jobs_slots_free(struct jobs *, const struct answer *a);

#endif
