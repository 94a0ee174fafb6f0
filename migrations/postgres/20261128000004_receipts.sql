-- Delivery reports from gateways, kept raw as evidence: every report, even one that
-- changes nothing (a late 'sent' after 'delivered'), is a fact an auditor may ask for.
CREATE TABLE receipts (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id),
    gateway TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    -- delivered | failed | expired | pending
    status TEXT NOT NULL,
    provider_status TEXT NOT NULL,
    provider_time BIGINT,
    received_at BIGINT NOT NULL,
    raw TEXT NOT NULL,
    raw_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The same status reported twice for a message is one receipt (providers re-post
    -- webhooks, sometimes with a fresh timestamp); the first copy is the evidence kept.
    UNIQUE (gateway, provider_message_id, provider_status)
);
CREATE INDEX receipts_by_message ON receipts (message_id);

-- Receipts find their message by the gateway's id for it.
CREATE INDEX messages_by_gateway_id ON messages (gateway, gateway_message_id);
