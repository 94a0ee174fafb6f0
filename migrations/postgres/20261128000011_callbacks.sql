-- Status callbacks: an intent may name a URL that hears of every status change of its
-- messages. The outbox of those events is filled by a trigger, so an event is written in
-- the very transaction that changes the status, whichever statement does it (a batch of
-- send outcomes, a receipt, the sweeper's escalation or `unconfirmed`), and cannot be
-- lost or invented by a crash between the two. A background task in the worker delivers
-- them (see src/callbacks/).
ALTER TABLE intents ADD COLUMN callback_url TEXT;
-- A token may name one for all its intents (`vestnik token create --callback-url`); an
-- intent's own wins, and is what is stored with the intent.
ALTER TABLE tokens ADD COLUMN callback_url TEXT;

CREATE TABLE callback_events (
    -- The event id receivers de-duplicate by (delivery is at-least-once).
    id TEXT PRIMARY KEY,
    intent_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    -- sent, delivered, failed, unconfirmed, escalated
    status TEXT NOT NULL,
    -- When the status changed (epoch ms), and the message's facts as of then.
    occurred_at BIGINT NOT NULL,
    gateway TEXT,
    gateway_message_id TEXT,
    reason TEXT,
    sent_at BIGINT,
    delivered_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- While a worker posts it, the event is that worker's until then.
    lease_until BIGINT,
    last_error TEXT,
    -- When the receiver answered 2xx; or when we stopped trying (a 4xx, or retry_for ran out).
    acknowledged_at BIGINT,
    gave_up_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX callback_events_due ON callback_events (next_attempt_at)
    WHERE acknowledged_at IS NULL AND gave_up_at IS NULL;

CREATE FUNCTION vestnik_status_callback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM intents WHERE id = NEW.intent_id AND callback_url IS NOT NULL) THEN
        INSERT INTO callback_events (id, intent_id, message_id, status, occurred_at, gateway,
            gateway_message_id, reason, sent_at, delivered_at, next_attempt_at, created_at)
        VALUES (replace(gen_random_uuid()::text, '-', ''), NEW.intent_id, NEW.id,
            CASE WHEN NEW.status = 'queued' THEN 'escalated' ELSE NEW.status END,
            NEW.updated_at, NEW.gateway, NEW.gateway_message_id, NEW.last_error, NEW.sent_at,
            NEW.delivered_at, NEW.updated_at, NEW.updated_at);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_status_callback AFTER UPDATE OF status ON messages
FOR EACH ROW
WHEN (NEW.status <> OLD.status
      AND (NEW.status IN ('sent', 'delivered', 'failed', 'unconfirmed')
           OR (OLD.status = 'held' AND NEW.status = 'queued')))
EXECUTE FUNCTION vestnik_status_callback();
