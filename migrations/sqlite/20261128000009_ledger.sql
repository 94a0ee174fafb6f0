-- The proof ledger (docs/ledger.md): every fact about a notice, hash-chained.
-- `body` is the entry's canonical JSON (RFC 8785), its predecessor's hash included;
-- `hash` is the hex SHA-256 of `body`. Rows are never changed or removed: the triggers
-- below refuse it, and `vestnik ledger verify` finds any row changed behind their back.
CREATE TABLE ledger (
    seq BIGINT PRIMARY KEY,
    intent_id TEXT,
    message_id TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_by_intent ON ledger (intent_id, seq);
CREATE INDEX ledger_by_message ON ledger (message_id);
CREATE TRIGGER ledger_refuses_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE refused'); END;
CREATE TRIGGER ledger_refuses_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE refused'); END;

-- The chain's head: one row, updated by every append. Appends lock it (the writer's lock
-- on SQLite), so entries are numbered and linked in one order.
CREATE TABLE ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO ledger_head (id, seq, hash, updated_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

-- The head as it was every N entries, append-only too: a truncated or rewritten chain
-- no longer ends in (or passes through) its checkpoints.
CREATE TABLE ledger_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TRIGGER ledger_checkpoints_refuse_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only: UPDATE refused'); END;
CREATE TRIGGER ledger_checkpoints_refuse_delete BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger checkpoints are append-only: DELETE refused'); END;

-- The exact bytes handed to the gateway (the .eml, the SMS as sent), whose SHA-256 the
-- ledger carries; letters are in the documents store under that hash instead. Personal
-- data: NULL after the retention purge.
ALTER TABLE messages ADD COLUMN content BLOB;
-- When the intent's personal data was purged (retention.personal_data_after).
ALTER TABLE intents ADD COLUMN purged_at BIGINT;
