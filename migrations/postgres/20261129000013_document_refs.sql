-- The retention purge asks, for each document it would delete, whether an intent not yet
-- purged still points to it (documents are content-addressed and may be shared). Only
-- letters and faxes (their content hash) and return-receipt scans are documents.
CREATE INDEX messages_document ON messages (content_sha256) WHERE channel IN ('mail', 'fax');
CREATE INDEX receipts_evidence ON receipts (evidence_sha256) WHERE evidence_sha256 IS NOT NULL;
