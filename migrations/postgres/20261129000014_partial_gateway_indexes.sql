-- A message has no gateway until it is sent, and both indexes on it are only ever searched
-- for a given gateway (`gateway = $1`, `gateway LIKE $1`), which implies NOT NULL, so both
-- can skip the NULLs. Before, intake wrote two index entries per message just to say
-- "not sent yet", and recording each send deleted them again: on SQLite, inside the one
-- write lock that every delivery job queues for.
DROP INDEX messages_by_gateway_id;
CREATE INDEX messages_by_gateway_id ON messages (gateway, gateway_message_id) WHERE gateway IS NOT NULL;
DROP INDEX messages_by_gateway_sent;
CREATE INDEX messages_by_gateway_sent ON messages (gateway, sent_at) WHERE gateway IS NOT NULL;
