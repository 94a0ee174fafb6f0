-- Why a gateway reported what it did (a letter returned unclaimed, counted as delivered
-- under Civil Code art. 165.1; "3 of 4 pages sent"), and the stored scan of a signed
-- return receipt (documents store, by SHA-256) when the provider sends one.
ALTER TABLE receipts ADD COLUMN reason TEXT;
ALTER TABLE receipts ADD COLUMN evidence_sha256 TEXT;
