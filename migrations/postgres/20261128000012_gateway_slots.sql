-- Rate-limit counters shared by every worker process, per gateway and time slot: a
-- gateway's limit holds in total, however many workers send to it. Old slots are swept.
CREATE TABLE gateway_slots (
    gateway TEXT NOT NULL,
    -- The slot's start, epoch ms.
    slot BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (gateway, slot)
);
