-- Vestnik's own tables (apalis keeps its queue in schema `apalis`).
-- Times are milliseconds since the Unix epoch (UTC): one comparable form on both backends.

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    -- The client this token belongs to; idempotency keys are scoped by it.
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- SHA-256 of the secret; the secret itself is shown once and never stored.
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE intents (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request body: a retry must repeat it byte for byte.
    request_sha256 TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event JSONB NOT NULL,
    recipient_count BIGINT NOT NULL,
    message_count BIGINT NOT NULL,
    accept_late BOOLEAN NOT NULL,
    request_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (client, idempotency_key)
);
CREATE INDEX intents_by_external_id ON intents (external_id);

CREATE TABLE recipients (
    intent_id TEXT NOT NULL REFERENCES intents (id),
    idx BIGINT NOT NULL,
    account_number TEXT NOT NULL,
    customer_type TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    -- Name, contact points and kind-specific fields (JSON): personal data, purgeable.
    details JSONB NOT NULL,
    deadline_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (intent_id, idx)
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    intent_id TEXT NOT NULL REFERENCES intents (id),
    recipient_idx BIGINT NOT NULL,
    channel TEXT NOT NULL,
    -- queued → sending → sent → delivered, or failed.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- While status = 'sending': the claiming worker owns the message until then.
    lease_until BIGINT,
    last_error TEXT,
    gateway TEXT,
    gateway_message_id TEXT,
    content_sha256 TEXT,
    template TEXT,
    sent_at BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX messages_by_recipient ON messages (intent_id, recipient_idx);
CREATE INDEX messages_leased ON messages (lease_until) WHERE status = 'sending';
