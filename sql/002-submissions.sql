-- lumaproxy cache, schema version 2.

-- Jobs submitted through the proxy (POST /v1/luma/videos or /images), with
-- the token that submitted them: that token may poll the job from the start.
CREATE TABLE submissions (
	jobid        TEXT    PRIMARY KEY NOT NULL,
	type         TEXT    NOT NULL,
	token_id     TEXT    NOT NULL,
	submitted_at INTEGER NOT NULL
) WITHOUT ROWID;
