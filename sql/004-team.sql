-- lumaproxy cache, schema version 4: the team gateway (--upstream-token-file).

-- A member key.  key_hash is the lowercase hex SHA-256 of the key; the key
-- itself is never stored.  old_key_hash works until old_key_until (a
-- rotation's grace period).  Limits: 0 = unlimited.  Times are ms since
-- the epoch; expires NULL = never.  A revoked key's row is deleted.
CREATE TABLE members (
	name          TEXT    PRIMARY KEY NOT NULL,
	key_hash      TEXT    NOT NULL UNIQUE,
	old_key_hash  TEXT,
	old_key_until INTEGER,
	admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
	rpm           INTEGER NOT NULL DEFAULT 0 CHECK (rpm >= 0),
	max_running   INTEGER NOT NULL DEFAULT 0 CHECK (max_running >= 0),
	daily_credits INTEGER NOT NULL DEFAULT 0 CHECK (daily_credits >= 0),
	created       INTEGER NOT NULL,
	expires       INTEGER,
	last_used     INTEGER
) WITHOUT ROWID;

-- Bumped by every keys command in its own transaction: a running server
-- reloads the members when it sees a new value.
CREATE TABLE members_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO members_version (id, version) VALUES (1, 0);

-- The audit trail of the keys commands, in order.
CREATE TABLE members_log (
	time    INTEGER NOT NULL,
	action  TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	changes TEXT    NOT NULL
);

-- Jobs submitted through the gateway, by member.  finished_at and status
-- are set when the job is stored finished; credits is its
-- credits.dm_usage when it completed.
CREATE TABLE job_owners (
	jobid        TEXT    PRIMARY KEY NOT NULL,
	owner        TEXT    NOT NULL,
	submitted_at INTEGER NOT NULL,
	finished_at  INTEGER,
	status       TEXT,
	credits      REAL    NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX job_owners_owner ON job_owners (owner, finished_at);

-- Counters per member and hour (hour = ms since the epoch / 3600000),
-- added to by the server at least every 10 s and at shutdown.
CREATE TABLE usage (
	name            TEXT    NOT NULL,
	hour            INTEGER NOT NULL,
	requests        INTEGER NOT NULL DEFAULT 0,
	hits            INTEGER NOT NULL DEFAULT 0,
	upstream_calls  INTEGER NOT NULL DEFAULT 0,
	submissions     INTEGER NOT NULL DEFAULT 0,
	completed       INTEGER NOT NULL DEFAULT 0,
	failed          INTEGER NOT NULL DEFAULT 0,
	credits         REAL    NOT NULL DEFAULT 0,
	refused_rpm     INTEGER NOT NULL DEFAULT 0,
	refused_running INTEGER NOT NULL DEFAULT 0,
	refused_credits INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (name, hour)
) WITHOUT ROWID;
