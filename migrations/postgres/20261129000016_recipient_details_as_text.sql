-- A recipient's details (name, contacts, kind-specific fields) are written once at intake
-- and read back whole; no query looks inside them. As JSONB, PostgreSQL parsed and
-- re-encoded each one on the way in: inserting 100,000 recipients took 0.48–0.51 s with
-- JSONB and 0.37 s as TEXT (psql replay, README "Performance"). SQLite has always kept
-- them as text, so both backends now store the same thing. Existing rows are rewritten
-- once, here.
ALTER TABLE recipients ALTER COLUMN details TYPE TEXT USING details::text;
