/*
 * The mirror command (lumaproxy mirror): one run over the media of every
 * completed job, driven through the scheduler's media_fetch().
 */
#ifndef MEDIA_MIRROR_H
#define MEDIA_MIRROR_H

#include <stdint.h>

struct event_base;
struct media;
struct media_mirror;

/* Called once per URL of the run; reason NULL: ok; already: it was here. */
typedef void media_done_fn(const char *url, const char *reason,
	    int already, void *arg);

/* A run on m, whose timer goes on base; it starts with media_mirror_start(). */
struct media_mirror	*media_mirror_new(struct media *, struct event_base *,
	    media_done_fn *done, void *arg);

/*
 * Scans completed jobs never scanned, then downloads every media URL whose
 * file is not in the directory yet (failed ones too, three tries each),
 * calling done for each: at once for the files already there, from the
 * loop for the others.  Returns how many URLs there are, -1 on error.
 */
int64_t	media_mirror_start(struct media_mirror *);

/* Frees the run; downloads it started are media_free()'s.  NULL: no-op. */
void	media_mirror_free(struct media_mirror *);

#endif
