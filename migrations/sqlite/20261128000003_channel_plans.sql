-- Escalation along the channel plan (config/channel_plans.toml).
-- legal_step: the message's place in the recipient's legal-notice chain (0 = first);
-- NULL for a supplementary channel. A later step waits as status 'held' until the one
-- before it fails or goes unconfirmed for confirm_within_ms, or until next_attempt_at,
-- its latest start before the deadline.
ALTER TABLE messages ADD COLUMN legal_step BIGINT;
ALTER TABLE messages ADD COLUMN confirm_within_ms BIGINT;
CREATE INDEX messages_held ON messages (next_attempt_at) WHERE status = 'held';

-- GET /v1/compliance/at-risk walks recipients by deadline.
CREATE INDEX recipients_by_deadline ON recipients (deadline_at);

-- Contact limits (230-FZ) count what was already sent to one account.
CREATE INDEX recipients_by_account ON recipients (account_number);
