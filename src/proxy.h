/*
 * The one context of a running server, handed explicitly to whoever needs
 * it.  server.c creates and tears it down; the others borrow it.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdint.h>

#include "policy.h"

struct cache;
struct config;
struct event_base;
struct evhttp;
struct gateway;
struct hot;
struct jobs;
struct media;
struct metrics;
struct passthru_set;
struct upstream;

#define PROXY_MAGIC	0x50525859u

struct proxy {
	unsigned		 magic;
	const struct config	*cfg;		/* borrowed, read-only */
	struct event_base	*base;		/* owned */
	struct evhttp		*http;		/* owned */
	struct upstream		*up;		/* owned */
	struct cache		*cache;		/* owned */
	struct jobs		*jobs;		/* owned */
	struct passthru_set	*passthrus;	/* owned */
	struct metrics		*metrics;	/* owned */
	struct server		*server;	/* owned: listener, limits */
	struct media		*media;		/* owned, NULL: no mirror */
	struct gateway		*gateway;	/* owned, NULL: clients' own tokens */
	struct hot		*hot;		/* owned: answers kept in memory */
	struct policy_config	 policy;
	int			 draining;	/* stopping: see reply_drain() */
	int64_t			 pending;	/* requests not yet answered */
	int64_t			 unsent;	/* answers being written while draining */
};

#endif
