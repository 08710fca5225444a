-- lumaproxy cache, schema version 5: job counts kept as jobs change.

-- How many jobs have each status (and terminal flag), so that the start
-- line and /metrics read a few rows instead of counting the jobs table.
-- The triggers below keep it in the transaction that changes jobs, whoever
-- writes (the server, import, purge); a count that drops to 0 is deleted,
-- so there is one row per (status, terminal) the jobs hold.
CREATE TABLE job_counts (
	status   TEXT    NOT NULL,
	terminal INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (status, terminal)
) WITHOUT ROWID;

-- The jobs already there, counted once, here.
INSERT INTO job_counts (status, terminal, n)
	SELECT status, terminal, count(*) FROM jobs GROUP BY status, terminal;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
	INSERT INTO job_counts (status, terminal, n)
	VALUES (new.status, new.terminal, 1)
	ON CONFLICT (status, terminal) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
	UPDATE job_counts SET n = n - 1
	WHERE status = old.status AND terminal = old.terminal;
	DELETE FROM job_counts
	WHERE status = old.status AND terminal = old.terminal AND n <= 0;
END;

CREATE TRIGGER job_counts_update AFTER UPDATE OF status, terminal ON jobs
WHEN old.status IS NOT new.status OR old.terminal IS NOT new.terminal BEGIN
	UPDATE job_counts SET n = n - 1
	WHERE status = old.status AND terminal = old.terminal;
	DELETE FROM job_counts
	WHERE status = old.status AND terminal = old.terminal AND n <= 0;
	INSERT INTO job_counts (status, terminal, n)
	VALUES (new.status, new.terminal, 1)
	ON CONFLICT (status, terminal) DO UPDATE SET n = n + 1;
END;
