-- Which claim holds a 'sending' message. Outcomes are written only by the claim that
-- still holds it: a worker whose lease ran out (and whose messages another worker took)
-- cannot overwrite the newer attempt's result.
ALTER TABLE messages ADD COLUMN claim_id TEXT;
