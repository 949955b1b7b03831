-- Per-account quota limits (RFC 9208): the sum of message sizes in bytes
-- and the number of messages over all the account's mailboxes. 0 means no
-- limit. The usage is the sum of the mailboxes' counters, read under a lock
-- of the account row by every write that adds messages to a limited account.

ALTER TABLE users
    ADD COLUMN quota_storage  bigint NOT NULL DEFAULT 0 CHECK (quota_storage >= 0),
    ADD COLUMN quota_messages bigint NOT NULL DEFAULT 0 CHECK (quota_messages >= 0);
