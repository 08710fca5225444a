-- lumaproxy cache, schema version 1.
-- Times are milliseconds since the Unix epoch (UTC).  token_id is the
-- lowercase hex SHA-256 of a bearer token; raw tokens are never stored.

-- The latest job record upstream sent for a jobid, byte for byte.  A
-- terminal row (status completed or failed) is only ever replaced by another
-- terminal row (a no-cache refetch renewing media URLs).
CREATE TABLE jobs (
	jobid      TEXT    PRIMARY KEY NOT NULL,
	type       TEXT,
	status     TEXT    NOT NULL,
	terminal   INTEGER NOT NULL CHECK (terminal IN (0, 1)),
	etag       TEXT    NOT NULL,	-- strong ETag of body, with quotes
	body       BLOB    NOT NULL,
	fetched_at INTEGER NOT NULL
);
CREATE INDEX jobs_status ON jobs (terminal, status);

-- Which token may see which job: upstream answered 200 for this pair once.
-- fetched_at is the last upstream fetch for the pair (the pending interval).
CREATE TABLE grants (
	jobid      TEXT    NOT NULL REFERENCES jobs (jobid) ON DELETE CASCADE,
	token_id   TEXT    NOT NULL,
	fetched_at INTEGER NOT NULL,
	PRIMARY KEY (jobid, token_id)
) WITHOUT ROWID;

-- Upstream said 400, 403 or 404 for this pair; repeat it until expires_at.
CREATE TABLE negatives (
	jobid      TEXT    NOT NULL,
	token_id   TEXT    NOT NULL,
	status     INTEGER NOT NULL,
	body       BLOB    NOT NULL,
	fetched_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (jobid, token_id)
) WITHOUT ROWID;
CREATE INDEX negatives_expiry ON negatives (expires_at);
