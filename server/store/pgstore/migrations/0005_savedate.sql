-- The save date of each message (RFC 8514): when it was added to its
-- mailbox by APPEND, COPY, MOVE or delivery, in Unix nanoseconds. Messages
-- stored before this migration have none (NULL); readers then report their
-- internal date.

ALTER TABLE messages ADD COLUMN save_date bigint;
