/*
 * The members of a team gateway in memory.  Keys are found through an
 * open-addressing index on their SHA-256 (the index position says nothing
 * about a key nobody has); the digest found there is compared in constant
 * time.  Running jobs and the credits of the last 24 h are short arrays per
 * member, pruned as they are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "team.h"
#include "util.h"

#define MEMBER_MAGIC	0x4d454d42u
#define TEAM_MAGIC	0x5445414du

/* One key in the index: a member's current key or its rotated one. */
struct key_slot {
	const char	*hash;		/* borrowed from the member, NULL: free */
	struct member	*m;
	int		 old;		/* the rotated key */
};

struct team {
	unsigned	 magic;
	int64_t		 watch_max_age_ms;
	struct member	**members;	/* owned */
	size_t		 n, cap;
	struct key_slot	*index;		/* owned, nindex slots (power of 2) */
	size_t		 nindex;
};

struct team *
team_new(int64_t watch_max_age_ms)
{
	struct team *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->magic = TEAM_MAGIC;
	t->watch_max_age_ms = watch_max_age_ms;
	return t;
}

static void
member_free(struct member *m)
{
	for (size_t i = 0; i < m->nrunning; i++)
		free(m->running[i].jobid);
	free(m->running);
	free(m->spend);
	explicit_bzero(m, sizeof(*m));
	free(m);
}

void
team_free(struct team *t)
{
	if (t == NULL)
		return;
	CHECK_OBJ(t, TEAM_MAGIC);
	for (size_t i = 0; i < t->n; i++)
		member_free(t->members[i]);
	free(t->members);
	free(t->index);
	memset(t, 0, sizeof(*t));
	free(t);
}

size_t
team_count(const struct team *t)
{
	CHECK_OBJ(t, TEAM_MAGIC);
	return t->n;
}

struct member *
team_at(struct team *t, size_t i)
{
	CHECK_OBJ(t, TEAM_MAGIC);
	assert(i < t->n);
	return t->members[i];
}

struct member *
team_find_name(struct team *t, const char *name)
{
	CHECK_OBJ(t, TEAM_MAGIC);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->members[i]->key.name, name) == 0)
			return t->members[i];
	return NULL;
}

void
team_load_begin(struct team *t)
{
	CHECK_OBJ(t, TEAM_MAGIC);
	for (size_t i = 0; i < t->n; i++)
		t->members[i]->present = 0;
}

int
team_load(struct team *t, const struct team_key *k)
{
	struct member *m, **p;

	CHECK_OBJ(t, TEAM_MAGIC);
	if ((m = team_find_name(t, k->name)) == NULL) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;

			if ((p = realloc(t->members, cap * sizeof(*p))) == NULL)
				return -1;
			t->members = p;
			t->cap = cap;
		}
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return -1;
		m->magic = MEMBER_MAGIC;
		snprintf(m->tag, sizeof(m->tag), "@%s", k->name);
		t->members[t->n++] = m;
	}
	/* A new rpm starts with a full bucket, as a new member does. */
	if (m->key.rpm != k->rpm)
		m->bucket_at = 0;
	m->key = *k;
	m->max_age = t->watch_max_age_ms;
	m->present = 1;
	return 0;
}

/* The index position of a hex digest: its first 16 digits, masked. */
static size_t
key_pos(const char *hash, size_t mask)
{
	uint64_t v = 0;

	for (int i = 0; i < 16 && hash[i] != '\0'; i++)
		v = v << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' :
		    (hash[i] | 0x20) - 'a' + 10);
	return (size_t)v & mask;
}

static void
index_put(struct team *t, const char *hash, struct member *m, int old)
{
	size_t mask = t->nindex - 1, i = key_pos(hash, mask);

	while (t->index[i].hash != NULL)
		i = (i + 1) & mask;
	t->index[i].hash = hash;
	t->index[i].m = m;
	t->index[i].old = old;
}

int
team_load_end(struct team *t)
{
	struct key_slot *idx;
	size_t want = 16, keys = 0, i;

	CHECK_OBJ(t, TEAM_MAGIC);
	for (i = 0; i < t->n; i++)
		if (t->members[i]->present)
			keys += t->members[i]->key.old_hash[0] ? 2 : 1;
	while (want < keys * 2)
		want *= 2;
	if ((idx = calloc(want, sizeof(*idx))) == NULL)
		return -1;
	free(t->index);
	t->index = idx;
	t->nindex = want;
	for (i = 0; i < t->n; i++) {
		struct member *m = t->members[i];

		if (!m->present)
			continue;
		index_put(t, m->key.key_hash, m, 0);
		if (m->key.old_hash[0] != '\0')
			index_put(t, m->key.old_hash, m, 1);
	}
	return 0;
}

struct member *
team_find_key(struct team *t, const char *token_id, int64_t now)
{
	struct key_slot *ks;
	size_t mask, i;

	CHECK_OBJ(t, TEAM_MAGIC);
	if (t->nindex == 0 || strlen(token_id) != TOKEN_ID_LEN)
		return NULL;
	mask = t->nindex - 1;
	for (i = key_pos(token_id, mask); (ks = &t->index[i])->hash != NULL;
	    i = (i + 1) & mask) {
		if (CRYPTO_memcmp(ks->hash, token_id, TOKEN_ID_LEN) != 0)
			continue;
		if (!ks->m->present)
			return NULL;	/* revoked, the index not rebuilt */
		if (ks->m->key.expires != 0 && now >= ks->m->key.expires)
			return NULL;
		if (ks->old && now >= ks->m->key.old_until)
			return NULL;
		if (ks->m->key.last_used / 1000 != now / 1000) {
			ks->m->key.last_used = now;
			ks->m->used = 1;
		}
		return ks->m;
	}
	return NULL;
}

/* Drops running jobs nobody has asked about for watch-max-age. */
static void
prune_running(struct member *m, int64_t now, int64_t max_age)
{
	size_t i = 0;

	while (i < m->nrunning)
		if (now - m->running[i].seen >= max_age) {
			free(m->running[i].jobid);
			m->running[i] = m->running[--m->nrunning];
		} else
			i++;
}

/* Drops credits older than 24 h. */
static void
prune_spend(struct member *m, int64_t now)
{
	size_t k = 0;

	while (k < m->nspend && now - m->spend[k].at >= TEAM_DAY_MS)
		m->spent -= m->spend[k++].credits;
	if (k > 0) {
		memmove(m->spend, m->spend + k, (m->nspend - k) *
		    sizeof(*m->spend));
		m->nspend -= k;
	}
	if (m->nspend == 0)
		m->spent = 0;	/* no drift from adding and taking */
}

/* Refills m's rpm bucket to now. */
static void
refill(struct member *m, int64_t now)
{
	double rpm = (double)m->key.rpm;

	if (m->bucket_at == 0)
		m->bucket = rpm;
	else if (now > m->bucket_at)	/* a clock set back refills nothing */
		m->bucket += rpm * (double)(now - m->bucket_at) / 60000.0;
	if (m->bucket > rpm)
		m->bucket = rpm;
	m->bucket_at = now;
}

size_t
team_running_count(struct member *m, int64_t now)
{
	CHECK_OBJ(m, MEMBER_MAGIC);
	prune_running(m, now, m->max_age);
	return m->nrunning;
}

double
team_spent(struct member *m, int64_t now)
{
	CHECK_OBJ(m, MEMBER_MAGIC);
	prune_spend(m, now);
	return m->spent;
}

enum team_limit
team_submit(struct member *m, int64_t now, int64_t interval_s,
    int64_t *retry_s)
{
	enum team_limit which = TEAM_LIMIT_NONE;
	int64_t retry = 0;
	double need;
	size_t k;

	CHECK_OBJ(m, MEMBER_MAGIC);
	if (m->key.rpm > 0) {
		refill(m, now);
		if (m->bucket < 1.0) {
			which = TEAM_LIMIT_RPM;
			retry = (int64_t)((1.0 - m->bucket) * 60.0 /
			    (double)m->key.rpm + 0.999);
		}
	}
	if (which == TEAM_LIMIT_NONE && m->key.max_running > 0 &&
	    (int64_t)(team_running_count(m, now) + m->reserved) >=
	    m->key.max_running) {
		which = TEAM_LIMIT_RUNNING;
		retry = interval_s;
	}
	if (which == TEAM_LIMIT_NONE && m->key.daily_credits > 0 &&
	    team_spent(m, now) >= (double)m->key.daily_credits) {
		which = TEAM_LIMIT_CREDITS;
		/* When enough of the oldest credits have left the window. */
		need = m->spent - (double)m->key.daily_credits;
		for (k = 0; k < m->nspend; k++) {
			need -= m->spend[k].credits;
			if (need < 0)
				break;
		}
		if (k == m->nspend)
			k = m->nspend - 1;
		retry = (m->spend[k].at + TEAM_DAY_MS - now + 999) / 1000;
	}
	if (which != TEAM_LIMIT_NONE) {
		m->total.refused[which]++;
		m->unflushed.refused[which]++;
		*retry_s = retry < 1 ? 1 : retry;
		return which;
	}
	if (m->key.rpm > 0)
		m->bucket -= 1.0;
	m->reserved++;
	*retry_s = 0;
	return TEAM_LIMIT_NONE;
}

int
team_add_running(struct member *m, const char *jobid, int64_t seen)
{
	struct team_running *p;
	char *id;

	CHECK_OBJ(m, MEMBER_MAGIC);
	for (size_t i = 0; i < m->nrunning; i++)
		if (strcmp(m->running[i].jobid, jobid) == 0) {
			m->running[i].seen = seen;
			return 0;
		}
	if (m->nrunning == m->caprunning) {
		size_t cap = m->caprunning ? m->caprunning * 2 : 8;

		if ((p = realloc(m->running, cap * sizeof(*p))) == NULL)
			return -1;
		m->running = p;
		m->caprunning = cap;
	}
	if ((id = strdup(jobid)) == NULL)
		return -1;
	m->running[m->nrunning].jobid = id;
	m->running[m->nrunning++].seen = seen;
	return 0;
}

void
team_submit_done(struct member *m, const char *jobid, int64_t now)
{
	CHECK_OBJ(m, MEMBER_MAGIC);
	assert(m->reserved > 0);
	m->reserved--;
	if (jobid == NULL)
		return;
	m->total.submissions++;
	m->unflushed.submissions++;
	/* Out of memory, the job is not counted: it never blocks anyone. */
	(void)team_add_running(m, jobid, now);
}

int
team_add_spend(struct member *m, int64_t at, double credits)
{
	struct team_spend *p;

	CHECK_OBJ(m, MEMBER_MAGIC);
	if (credits <= 0)
		return 0;
	if (m->nspend == m->capspend) {
		size_t cap = m->capspend ? m->capspend * 2 : 16;

		if ((p = realloc(m->spend, cap * sizeof(*p))) == NULL)
			return -1;
		m->spend = p;
		m->capspend = cap;
	}
	/* Kept in time order: a clock that went back joins at the end. */
	if (m->nspend > 0 && at < m->spend[m->nspend - 1].at)
		at = m->spend[m->nspend - 1].at;
	m->spend[m->nspend].at = at;
	m->spend[m->nspend++].credits = credits;
	m->spent += credits;
	return 0;
}

void
team_job_seen(struct member *m, const char *jobid, int64_t now)
{
	CHECK_OBJ(m, MEMBER_MAGIC);
	for (size_t i = 0; i < m->nrunning; i++)
		if (strcmp(m->running[i].jobid, jobid) == 0) {
			m->running[i].seen = now;
			return;
		}
}

void
team_job_ended(struct member *m, const char *jobid)
{
	CHECK_OBJ(m, MEMBER_MAGIC);
	for (size_t i = 0; i < m->nrunning; i++)
		if (strcmp(m->running[i].jobid, jobid) == 0) {
			free(m->running[i].jobid);
			m->running[i] = m->running[--m->nrunning];
			return;
		}
}

void
team_job_finished(struct member *m, const char *jobid, int completed,
    double credits, int64_t now)
{
	team_job_ended(m, jobid);
	if (completed) {
		m->total.completed++;
		m->unflushed.completed++;
		m->total.credits += credits;
		m->unflushed.credits += credits;
		(void)team_add_spend(m, now, credits);
	} else {
		m->total.failed++;
		m->unflushed.failed++;
	}
}

int
team_may_see(const struct member *m, const char *owner, int shared)
{
	if (m->key.admin || shared)
		return 1;
	return owner != NULL && strcmp(owner, m->key.name) == 0;
}

void
team_refusal(const struct member *m, enum team_limit which, char *buf,
    size_t len)
{
	switch (which) {
	case TEAM_LIMIT_RPM:
		snprintf(buf, len, "Submission limit reached: rpm %lld"
		    " submissions per minute", (long long)m->key.rpm);
		break;
	case TEAM_LIMIT_RUNNING:
		snprintf(buf, len, "Submission limit reached: max-running %lld"
		    " jobs running", (long long)m->key.max_running);
		break;
	case TEAM_LIMIT_CREDITS:
		snprintf(buf, len, "Submission limit reached: daily-credits"
		    " %lld credits used in 24 h", (long long)m->key.daily_credits);
		break;
	case TEAM_LIMIT_NONE:
		snprintf(buf, len, "No limit reached");
		break;
	}
}

const char *
team_limit_label(enum team_limit which)
{
	static const char *const labels[] = {
		[TEAM_LIMIT_RPM] = "rpm",
		[TEAM_LIMIT_RUNNING] = "max_running",
		[TEAM_LIMIT_CREDITS] = "daily_credits",
	};

	return which < TEAM_LIMIT__MAX ? labels[which] : "none";
}

int
team_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TEAM_NAME_MAX)
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}
