-- lumaproxy cache, schema version 6: smaller media indexes.

-- Each entry of an index on media repeats the row's URL (its primary key),
-- so an index over every URL costs about as much as the table.  These two
-- hold only the rows their queries look for: the downloads still to try
-- (state pending or failed), and the media whose bytes are known.
DROP INDEX media_due;
CREATE INDEX media_due ON media (state, next_at)
	WHERE state IN ('pending', 'failed');
DROP INDEX media_sha256;
CREATE INDEX media_sha256 ON media (sha256) WHERE sha256 IS NOT NULL;
