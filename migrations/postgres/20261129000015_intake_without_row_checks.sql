-- Intake writes an intent's recipients and messages in the transaction that writes the
-- intent itself (`Db::insert_intent`), and nothing ever deletes an intent, so these two
-- foreign keys could only ever fail on a bug in that one function. On PostgreSQL each
-- one is an after-row trigger that looks the intent up again for every row: measured on
-- 100,000 recipients and their 100,000 messages, the inserts took 2.4 s with the checks
-- and 1.26 s without (README "Performance"). SQLite keeps them: there the check is a
-- b-tree probe inside the same process and costs nothing measurable.
-- `receipts → messages` stays: a receipt comes from outside, one row at a time.
ALTER TABLE recipients DROP CONSTRAINT recipients_intent_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_intent_id_fkey;
