-- The first UID of each mailbox that no session has claimed as \Recent
-- (RFC 3501 2.3.2). A session claims the messages from it up to the UIDs
-- it knows and advances it, in one UPDATE, so exactly one session on any
-- node sees each message as recent.

ALTER TABLE mailboxes ADD COLUMN recent_from bigint NOT NULL DEFAULT 1;
