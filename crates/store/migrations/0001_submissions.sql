-- Portable SQL: the same migrations run on SQLite and PostgreSQL.
-- Times are milliseconds since the Unix epoch (UTC), set by the replica that writes them.

-- One row per submission, from the moment it is accepted until retention purges it.
CREATE TABLE submissions (
    seq BIGINT PRIMARY KEY,                 -- arrival order (queue.next_seq): first in, first out
    id TEXT NOT NULL UNIQUE,                -- the public id, a UUID v4
    api TEXT NOT NULL,                      -- the front door it came through
    function TEXT NOT NULL,
    job TEXT NOT NULL,                      -- the core request, JSON
    meta TEXT,                              -- the front door's own fields, JSON
    -- claimed: a replica holds it and is about to run it (waiting for a slot)
    state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'running', 'done', 'cancelled')),
    submitted_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    runner TEXT,                            -- the replica holding (or that last held) the lease
    attempts BIGINT NOT NULL DEFAULT 0,     -- claims so far: a claim's fencing token
    lease_until BIGINT,
    result TEXT,                            -- the report, JSON
    status BIGINT,                          -- the HTTP status the synchronous call would have had
    callback_url TEXT,
    callback_due BIGINT,                    -- the next delivery attempt, or a delivery's lease
    callback_attempts BIGINT NOT NULL DEFAULT 0,
    callback_outcome TEXT
);
CREATE INDEX submissions_queued ON submissions (seq) WHERE state = 'queued';
CREATE INDEX submissions_leased ON submissions (lease_until) WHERE state IN ('claimed', 'running');
CREATE INDEX submissions_callbacks ON submissions (callback_due) WHERE callback_due IS NOT NULL;
CREATE INDEX submissions_finished ON submissions (finished_at) WHERE state IN ('done', 'cancelled');

-- One row. `pending` counts the submissions queued or running and changes in the same
-- transaction as their state, so the pending cap costs one row update, not a count;
-- `next_seq` numbers arrivals on both backends alike.
CREATE TABLE queue (
    singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
    pending BIGINT NOT NULL,
    next_seq BIGINT NOT NULL
);
INSERT INTO queue (singleton, pending, next_seq) VALUES (1, 0, 1);
CREATE INDEX submissions_api ON submissions (api, seq);

-- Files stored ahead of the runs that name them (Jobe's `PUT files/ID`), shared by every
-- replica. Base64 text: one portable type on both backends.
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    contents TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
CREATE INDEX files_stored ON files (stored_at);
