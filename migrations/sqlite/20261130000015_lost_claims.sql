-- How often a message was claimed and its claim ended with no outcome recorded (its worker
-- died, or an error after the claim): counted apart from attempts, so that a message is
-- given up after `dispatch.max_lost_claims` such claims and not claimed (and perhaps sent)
-- forever, while an outage that only delays it costs it no send attempt.
ALTER TABLE messages ADD COLUMN lost_claims INTEGER NOT NULL DEFAULT 0;
