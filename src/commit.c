/*
 * Group commit.  A fetch that brings a job record queues its rows here
 * instead of committing them alone; an event made active by the first of a
 * group runs after the callbacks already ready in this pass of the loop
 * (the other upstream answers that came in with it), writes every queued
 * row in one transaction with one sync (cache_store_jobs), and only then
 * calls each job's done callback, which answers its clients.  So jobs that
 * finish together share one COMMIT and one fdatasync, and none waits
 * longer than the rest of one loop pass and that commit.  It does not
 * decide what is stored nor answer anyone.
 *
 * Why no client can be answered from a row that is not committed: the rows
 * stay in the callers' memory, not in an open transaction, until the
 * commit, which runs from BEGIN to COMMIT within one call.  Every read on
 * the cache's connection (a HIT, a poll, /healthz) happens between loop
 * callbacks and so sees only committed rows; while a job waits here its
 * slot counts as in flight (jobs_slot_in_flight), so that a request for
 * the same (jobid, token) joins the waiters instead of fetching again.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cache.h"
#include "commit.h"
#include "log.h"
#include "util.h"

#define COMMIT_MAGIC		0x434f4d4du
#define COMMIT_GROUP_MAX	256	/* jobs in one transaction, at most */

TAILQ_HEAD(commit_queue, commit_job);

struct commit {
	unsigned		 magic;
	struct cache		*cache;		/* borrowed */
	struct event		*ev;		/* owned: the commit to come */
	int			 armed;		/* ev is active */
	struct commit_queue	 queue;		/* owned by the callers */
	struct cache_put	*batch[COMMIT_GROUP_MAX];
	uint64_t		 groups, jobs;
};

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct commit *cm = arg;

	(void)fd;
	(void)what;
	CHECK_OBJ(cm, COMMIT_MAGIC);
	cm->armed = 0;
	commit_flush(cm);
}

struct commit *
commit_new(struct event_base *base, struct cache *c)
{
	struct commit *cm;

	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		return NULL;
	cm->magic = COMMIT_MAGIC;
	cm->cache = c;
	TAILQ_INIT(&cm->queue);
	if ((cm->ev = event_new(base, -1, 0, commit_cb, cm)) == NULL) {
		free(cm);
		return NULL;
	}
	return cm;
}

void
commit_free(struct commit *cm)
{
	if (cm == NULL)
		return;
	CHECK_OBJ(cm, COMMIT_MAGIC);
	commit_flush(cm);
	event_free(cm->ev);
	memset(cm, 0, sizeof(*cm));
	free(cm);
}

void
commit_add(struct commit *cm, struct commit_job *cj)
{
	CHECK_OBJ(cm, COMMIT_MAGIC);
	assert(cj->done != NULL && cj->magic != COMMIT_JOB_MAGIC);
	cj->magic = COMMIT_JOB_MAGIC;
	cj->put.stored = 0;
	TAILQ_INSERT_TAIL(&cm->queue, cj, entry);
	if (!cm->armed) {
		cm->armed = 1;
		event_active(cm->ev, EV_TIMEOUT, 1);
	}
}

void
commit_flush(struct commit *cm)
{
	struct commit_queue group, done;
	struct commit_job *cj;
	size_t n;

	CHECK_OBJ(cm, COMMIT_MAGIC);
	if (cm->armed) {
		event_del(cm->ev);
		cm->armed = 0;
	}
	/* What done callbacks queue goes into the next group, not this one. */
	TAILQ_INIT(&group);
	TAILQ_CONCAT(&group, &cm->queue, entry);
	while (!TAILQ_EMPTY(&group)) {
		TAILQ_INIT(&done);
		for (n = 0; n < COMMIT_GROUP_MAX &&
		    (cj = TAILQ_FIRST(&group)) != NULL; n++) {
			CHECK_OBJ(cj, COMMIT_JOB_MAGIC);
			TAILQ_REMOVE(&group, cj, entry);
			TAILQ_INSERT_TAIL(&done, cj, entry);
			cm->batch[n] = &cj->put;
		}
		if (cache_store_jobs(cm->cache, cm->batch, n) < 0)
			log_at(cache_failure_level(cm->cache),
			    "cache: cannot commit %zu job%s", n,
			    n == 1 ? "" : "s");
		else
			log_debug("cache: %zu job%s in one commit", n,
			    n == 1 ? "" : "s");
		cm->groups++;
		cm->jobs += n;
		while ((cj = TAILQ_FIRST(&done)) != NULL) {
			TAILQ_REMOVE(&done, cj, entry);
			cj->magic = 0;
			cj->done(cj, cj->arg);
		}
	}
}

void
commit_get_stats(const struct commit *cm, uint64_t *groups, uint64_t *jobs)
{
	CHECK_OBJ(cm, COMMIT_MAGIC);
	*groups = cm->groups;
	*jobs = cm->jobs;
}
