-- GET /v1/intents/{id} counts an intent's messages by status on every call; without this
-- index that is a sort of every message of a 100,000-recipient intent.
CREATE INDEX messages_by_status ON messages (intent_id, status);
