/*
 * Reading a request head (RFC 9112): empty lines before it, the request
 * line, header lines up to an empty one.  A pure function of the bytes:
 * what the head says about framing, whether it is refused and why, and the
 * head as evhttp is to see it.  The framer (framer.c) runs it on each
 * head; it does not know sockets or connections.
 */
#ifndef HEAD_H
#define HEAD_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* A head (request line, header lines, the empty line, every line end
 * counted) is at most this many bytes; a longer one is refused with 431. */
#define HEAD_MAX	16384

/* What a head says. */
struct head {
	size_t		 len;		/* bytes it took, empty lines before it too */
	int		 status;	/* 0, or the refusal: 400 405 431 501 505 */
	const char	*msg;		/* static: the refusal's error message */
	int		 http10;	/* HTTP/1.0 (else 1.1) */
	int		 chunked;	/* Transfer-Encoding: chunked */
	uint64_t	 length;	/* Content-Length, 0 without one */
	int		 expect;	/* Expect: 100-continue */
	char		 standin[17];	/* "" or, when evhttp gets a stand-in
					 * request line, the client's method
					 * ("-" when none could be read) */
	/* Where its parts are: offsets from the start of its bytes. */
	size_t		 line;		/* the request line (after empty lines) */
	size_t		 method, method_len;	/* method_len 0: none read */
	size_t		 target, target_len;
	int		 passable;	/* evhttp parses method and target */
	int		 close;		/* a Connection header lists "close" */
	/*
	 * For an answer made without evhttp: the Authorization and Accept
	 * values (offset, length; length 0 when absent), and whether the
	 * head is plain: no Cache-Control, If-None-Match or Prefer, and at
	 * most one Authorization and one Accept.
	 */
	size_t		 auth, auth_len;
	size_t		 accept, accept_len;
	int		 plain;
};

/*
 * Reads the head at the start of p[0..n), n being at most HEAD_MAX.
 * Returns 0 when its end is not there yet and n < HEAD_MAX (more bytes are
 * needed), else 1 with *h filled and, when out is not NULL, head_emit()'s
 * bytes appended to out.  A head over HEAD_MAX has h->len == n.
 */
int	head_parse(const char *p, size_t n, struct head *h, struct evbuffer *out);

/*
 * Appends to out what evhttp is to see of the head h read from p: the head
 * without its framing headers (Content-Length, Transfer-Encoding, Expect),
 * or for a refused head its request line alone (the client's, with its
 * version as HTTP/1.0 or 1.1, or the stand-in "GET /").
 */
void	head_emit(const char *p, struct head *h, struct evbuffer *out);

/* Whether h's method is m ("GET"). */
int	head_method_is(const char *p, const struct head *h, const char *m);

/*
 * What an answer made without evhttp may take: a plain (see struct head)
 * HTTP/1.1 GET (1) or HEAD (2) that keeps its connection; else 0.
 */
int	head_plain_read(const char *p, const struct head *h);

#endif
