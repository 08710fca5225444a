/*
 * A job answer on the wire: its Content-Type, Age, Retry-After and ETag
 * (If-None-Match turns a 200 into a 304), and with --rewrite-media-urls a
 * finished job's links to its mirrored media.  Used by the route for
 * local answers and by the in-flight table for fetched ones.
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config.h"
#include "jobs_int.h"
#include "media_rewrite.h"
#include "proxy.h"
#include "record.h"
#include "reply.h"
#include "util.h"

static const char	*json_ct = "application/json; charset=utf-8";

void
jobs_add_header_int(struct evkeyvalq *h, const char *key, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	evhttp_add_header(h, key, buf);
}

/*
 * Sends answer a to req (its body copied), with the headers a job answer
 * carries; a 200 with an ETag that If-None-Match matches becomes a 304.
 */
void
jobs_send_answer(struct proxy *px, struct evhttp_request *req,
    const struct answer *a, const struct reply_info *ri)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body, *linked = NULL;
	const char *inm, *etag = a->etag;
	const unsigned char *bytes = a->body;
	size_t len = a->len;
	char etag2[ETAG_LEN + 1];
	int status = a->status;

	/* --rewrite-media-urls: a finished job links to its mirrored media. */
	if (etag != NULL && a->jobid != NULL && px->media != NULL &&
	    config_rewrites_media(px->cfg) && status == 200 &&
	    (linked = evbuffer_new()) != NULL) {
		if (media_rewrite(px->media, a->jobid, etag, linked,
		    etag2) == 1) {
			bytes = evbuffer_pullup(linked, -1);
			len = evbuffer_get_length(linked);
			etag = etag2;
		}
	}
	evhttp_add_header(h, "Content-Type",
	    a->content_type != NULL ? a->content_type : json_ct);
	if (a->age >= 0)
		jobs_add_header_int(h, "Age", a->age);
	if (a->retry_after > 0)
		jobs_add_header_int(h, "Retry-After", a->retry_after);
	if (etag != NULL) {
		evhttp_add_header(h, "ETag", etag);
		inm = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "If-None-Match");
		if (status == 200 && inm != NULL && util_etag_listed(inm, etag))
			status = 304;
	}
	if ((body = evbuffer_new()) != NULL && len > 0)
		evbuffer_add(body, bytes, len);
	reply_send(px, req, status, body, ri);
	if (body != NULL)
		evbuffer_free(body);
	if (linked != NULL)
		evbuffer_free(linked);
}

