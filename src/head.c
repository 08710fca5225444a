/*
 * The request head reader.  Two passes over a complete head: the first
 * decides (request line, framing headers, anything two HTTP parsers could
 * read differently), the second copies the head for evhttp without its
 * framing headers.  What it refuses is answered before any body is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "head.h"
#include "util.h"

/* Case-insensitive comparison of p[0..len) with the string s. */
static int
token_eq(const char *p, size_t len, const char *s)
{
	return strlen(s) == len && strncasecmp(p, s, len) == 0;
}

/*
 * Where the head that starts at p ends (after its empty line), or 0 when
 * no end is in p[0..n).  Lines end in LF or CRLF.
 */
static size_t
head_end(const char *p, size_t n)
{
	const char *nl = p, *end = p + n;

	while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
		nl++;
		if (nl < end && *nl == '\n')
			return (size_t)(nl + 1 - p);
		if (nl + 1 < end && nl[0] == '\r' && nl[1] == '\n')
			return (size_t)(nl + 2 - p);
	}
	return 0;
}

/* Whether the Connection value v[0..len) lists "close". */
static int
lists_close(const char *v, size_t len)
{
	const char *end = v + len, *e, *t;

	for (; v < end; v = e + 1) {
		for (e = v; e < end && *e != ','; e++)
			;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		for (t = e; t > v && (t[-1] == ' ' || t[-1] == '\t'); t--)
			;
		if (token_eq(v, (size_t)(t - v), "close"))
			return 1;
	}
	return 0;
}

/* The request line, as far as it could be read. */
struct reqline {
	const char	*method;	/* NULL: none */
	size_t		 mlen;
	const char	*target;	/* NULL: none */
	size_t		 tlen;
	int		 http10;
	int		 passable;	/* evhttp parses method and target */
};

/* What evhttp 2.1 parses; any other method it would answer itself. */
static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH",
	"CONNECT",
};

/* Whether evhttp's URI parser (which would answer a failure itself) takes t. */
static int
target_parses(const char *t, size_t len)
{
	struct evhttp_uri *u;
	char *s;

	if (len == 0)
		return 0;
	/* An origin-form path not starting "//" has no authority to fail. */
	if (t[0] == '/' && (len == 1 || t[1] != '/'))
		return 1;
	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, t, len);
	s[len] = '\0';
	u = evhttp_uri_parse_with_flags(s, EVHTTP_URI_NONCONFORMANT);
	free(s);
	if (u == NULL)
		return 0;
	evhttp_uri_free(u);
	return 1;
}

/*
 * Checks a request line: method SP request-target SP HTTP-version, nothing
 * else (RFC 9112, 3).  Returns 0 when evhttp may have it as it is, else the
 * status to refuse it with, and *msg; rl says what could be read of it.
 */
static int
check_request_line(const char *p, size_t len, struct reqline *rl,
    const char **msg)
{
	const char *sp1, *sp2, *v;
	size_t i;
	int known, connect, supported;

	memset(rl, 0, sizeof(*rl));
	*msg = "Bad request";
	if ((sp1 = memchr(p, ' ', len)) == NULL ||
	    !util_http_token(p, (size_t)(sp1 - p)))
		return 400;
	rl->method = p;
	rl->mlen = (size_t)(sp1 - p);
	sp2 = p + len;
	while (sp2 > sp1 && sp2[-1] != ' ')
		sp2--;
	if (--sp2 <= sp1 + 1)		/* one space, or no target */
		return 400;
	for (i = 1; sp1 + i < sp2; i++)
		if ((unsigned char)sp1[i] <= 0x20 || sp1[i] == 0x7f)
			return 400;
	rl->target = sp1 + 1;
	rl->tlen = (size_t)(sp2 - sp1 - 1);
	v = sp2 + 1;
	if (p + len - v != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return 400;
	supported = v[5] == '1' && (v[7] == '0' || v[7] == '1');
	rl->http10 = supported && v[7] == '0';
	for (i = 0; i < nitems(known_methods); i++)
		if (strlen(known_methods[i]) == rl->mlen &&
		    memcmp(p, known_methods[i], rl->mlen) == 0)
			break;
	known = i < nitems(known_methods);
	/* evhttp keeps CONNECT's connection without a length: never. */
	connect = known && strcmp(known_methods[i], "CONNECT") == 0;
	rl->passable = known && !connect && target_parses(rl->target, rl->tlen);
	if (!supported) {
		*msg = "HTTP version not supported";
		return 505;
	}
	if (!known) {
		*msg = "Method not implemented";
		return 501;
	}
	if (connect) {
		*msg = "Method not allowed";
		return 405;
	}
	return rl->passable ? 0 : 400;
}

/* Notes where the request line's parts are, as offsets from p. */
static void
note_line(struct head *h, const char *p, const struct reqline *rl)
{
	if (rl->method != NULL) {
		h->method = (size_t)(rl->method - p);
		h->method_len = rl->mlen;
	}
	if (rl->target != NULL) {
		h->target = (size_t)(rl->target - p);
		h->target_len = rl->tlen;
	}
	h->passable = rl->passable;
	h->http10 = rl->http10;
}

/* Refuses the head with status and msg. */
static int
refuse(struct head *h, int status, const char *msg)
{
	h->status = status;
	h->msg = msg;
	h->plain = 0;
	return 1;
}

/*
 * Hands evhttp the request line of a refused request, without its
 * headers: the client's own (version as 1.0 or 1.1) when evhttp can parse
 * it, else a stand-in (the access log then shows the client's method and
 * no path).
 */
static void
emit_refused(const char *p, struct head *h, struct evbuffer *dst)
{
	const char *version = h->http10 ? "HTTP/1.0" : "HTTP/1.1";

	if (h->passable) {
		evbuffer_add(dst, p + h->method, h->method_len);
		evbuffer_add(dst, " ", 1);
		evbuffer_add(dst, p + h->target, h->target_len);
		evbuffer_add_printf(dst, " %s\r\n\r\n", version);
		return;
	}
	if (h->method_len > 0 && h->method_len < sizeof(h->standin)) {
		memcpy(h->standin, p + h->method, h->method_len);
		h->standin[h->method_len] = '\0';
	} else
		snprintf(h->standin, sizeof(h->standin), "-");
	evbuffer_add_printf(dst, "GET / %s\r\n\r\n", version);
}

int
head_method_is(const char *p, const struct head *h, const char *m)
{
	return h->method_len == strlen(m) &&
	    memcmp(p + h->method, m, h->method_len) == 0;
}

int
head_plain_read(const char *p, const struct head *h)
{
	if (!h->plain || h->http10 || h->close)
		return 0;
	return head_method_is(p, h, "GET") ? 1 :
	    head_method_is(p, h, "HEAD") ? 2 : 0;
}

int
head_parse(const char *p, size_t n, struct head *h, struct evbuffer *out)
{
	size_t skip, end, len, vlen;
	const char *line, *nl, *colon, *v, *msg;
	struct reqline rl;
	int have_cl = 0, have_te = 0, bad = 0, status, auths = 0, accepts = 0;

	memset(h, 0, sizeof(*h));
	/* Empty lines before a request line are ignored (RFC 9112, 2.2). */
	for (skip = 0; skip < n && (p[skip] == '\n' ||
	    (p[skip] == '\r' && skip + 1 < n && p[skip + 1] == '\n')); )
		skip += p[skip] == '\r' ? 2 : 1;
	end = head_end(p + skip, n - skip);
	if (end == 0 && n < HEAD_MAX)
		return 0;
	line = p + skip;
	h->line = skip;
	nl = memchr(line, '\n', n - skip);
	if (end == 0) {
		/* Over the limit: the line, if there is one, is for the log. */
		h->len = n;
		len = nl != NULL ? (size_t)(nl - line) : 0;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		(void)check_request_line(line, len, &rl, &msg);
		note_line(h, p, &rl);
		refuse(h, 431, "Request header too large");
		goto emit;
	}
	h->len = end += skip;

	/* The request line. */
	len = (size_t)(nl - line);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	status = check_request_line(line, len, &rl, &msg);
	note_line(h, p, &rl);
	if (status != 0) {
		refuse(h, status, msg);
		goto emit;
	}
	h->plain = 1;

	/*
	 * First pass over the header lines: the framing, and whether we
	 * understand it.  What evhttp would read otherwise than we do is
	 * refused: CR or NUL, folded lines, names that are not tokens
	 * ("Name : v"), several lengths, a length and a coding, a coding other
	 * than chunked, a coding in HTTP/1.0 (RFC 9112, 6.1), a body after
	 * HEAD or TRACE.
	 */
	for (line = nl + 1; line < p + end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(p + end - line));
		len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		if (memchr(line, '\0', len) != NULL ||
		    memchr(line, '\r', len) != NULL ||
		    (colon = memchr(line, ':', len)) == NULL ||
		    !util_http_token(line, (size_t)(colon - line))) {
			bad = 1;
			break;
		}
		v = colon + 1;
		vlen = len - (size_t)(v - line);
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (token_eq(line, (size_t)(colon - line), "Content-Length")) {
			if (have_cl++ || vlen == 0 || vlen > 18)
				bad = 1;
			h->length = 0;
			for (size_t i = 0; i < vlen && !bad; i++) {
				if (v[i] < '0' || v[i] > '9')
					bad = 1;
				h->length = h->length * 10 + (uint64_t)(v[i] - '0');
			}
		} else if (token_eq(line, (size_t)(colon - line),
		    "Transfer-Encoding")) {
			if (have_te++ || !token_eq(v, vlen, "chunked"))
				bad = 1;
			h->chunked = 1;
		} else if (token_eq(line, (size_t)(colon - line), "Expect"))
			h->expect = token_eq(v, vlen, "100-continue");
		else if (token_eq(line, (size_t)(colon - line), "Connection"))
			h->close |= lists_close(v, vlen);
		else if (token_eq(line, (size_t)(colon - line), "Authorization")) {
			h->auth = (size_t)(v - p);
			h->auth_len = vlen;
			auths++;
		} else if (token_eq(line, (size_t)(colon - line), "Accept")) {
			h->accept = (size_t)(v - p);
			h->accept_len = vlen;
			accepts++;
		} else if (token_eq(line, (size_t)(colon - line),
		    "Cache-Control") || token_eq(line, (size_t)(colon - line),
		    "If-None-Match") || token_eq(line, (size_t)(colon - line),
		    "Prefer"))
			h->plain = 0;
	}
	if (auths > 1 || accepts > 1)
		h->plain = 0;
	if ((have_cl && have_te) || (have_te && rl.http10))
		bad = 1;
	/* evhttp and curl read no body after HEAD or TRACE: none may come. */
	if ((h->chunked || h->length > 0) && (head_method_is(p, h, "HEAD") ||
	    head_method_is(p, h, "TRACE")))
		bad = 1;
	if (bad) {
		h->chunked = 0;
		h->length = 0;
		refuse(h, 400, "Bad header");
	}
emit:
	if (out != NULL)
		head_emit(p, h, out);
	return 1;
}

void
head_emit(const char *p, struct head *h, struct evbuffer *out)
{
	const char *line, *nl, *colon, *end = p + h->len;
	size_t len;

	if (h->status != 0) {
		emit_refused(p, h, out);
		return;
	}
	/*
	 * The head without its framing headers, to evhttp.  evhttp reads only
	 * the first Connection header, and as one word: when any lists
	 * "close", one saying just that goes first.
	 */
	for (line = p + h->line; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		len = (size_t)(nl - line);

		if ((colon = memchr(line, ':', len)) != NULL &&
		    (token_eq(line, (size_t)(colon - line), "Content-Length") ||
		    token_eq(line, (size_t)(colon - line), "Transfer-Encoding") ||
		    token_eq(line, (size_t)(colon - line), "Expect")))
			continue;
		evbuffer_add(out, line, len + 1);
		if (line == p + h->line && h->close)
			evbuffer_add(out, "Connection: close\r\n", 19);
	}
}
