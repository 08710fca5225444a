-- lumaproxy cache, schema version 3: the media mirror.

-- One row per media URL found in a completed job.  state is pending (not
-- tried yet, or being downloaded), mirrored (the file DIR/<sha256> holds its
-- bytes, dir being the media directory at download time) or failed (reason
-- says why; tried again from next_at unless next_at is NULL).
CREATE TABLE media (
	url          TEXT    PRIMARY KEY NOT NULL,
	state        TEXT    NOT NULL
	             CHECK (state IN ('pending', 'mirrored', 'failed')),
	sha256       TEXT,
	size         INTEGER,
	content_type TEXT,
	dir          TEXT,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER,
	reason       TEXT,
	updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX media_due ON media (state, next_at);
CREATE INDEX media_sha256 ON media (sha256);

-- The media URLs of each completed job, by field of its response (video,
-- thumbnail, ...).  A job listed in media_jobs has been looked at, even
-- when it had no media.
CREATE TABLE job_media (
	jobid TEXT NOT NULL,
	field TEXT NOT NULL,
	url   TEXT NOT NULL,
	PRIMARY KEY (jobid, field)
) WITHOUT ROWID;
CREATE INDEX job_media_url ON job_media (url);

CREATE TABLE media_jobs (
	jobid TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
