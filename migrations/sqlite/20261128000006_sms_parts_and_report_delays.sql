-- SMS encoding and part count as the operator bills them (GSM-7 or UCS-2), kept with the
-- message; both NULL for other channels.
ALTER TABLE messages ADD COLUMN sms_encoding TEXT;
ALTER TABLE messages ADD COLUMN sms_parts BIGINT;

-- The sweep measures each provider's delivery-report delay over recent sends.
CREATE INDEX messages_by_gateway_sent ON messages (gateway, sent_at);
CREATE INDEX receipts_by_gateway_time ON receipts (gateway, received_at);
