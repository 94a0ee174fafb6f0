-- A legal step deemed received when sent (Decree 442: an SMS or email to a contact the
-- supply contract names): its send record is the proof and it ends the chain when sent,
-- with no delivery report awaited. Set at intake from the plan and the recipient.
ALTER TABLE messages ADD COLUMN received_when_sent BOOLEAN NOT NULL DEFAULT FALSE;
