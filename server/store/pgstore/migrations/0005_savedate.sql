-- The save date of each message (RFC 8514): when it was added to its
-- mailbox by APPEND, COPY, MOVE, REPLACE or delivery, in Unix nanoseconds.
-- Messages stored before this migration have none (NULL): FETCH SAVEDATE is
-- NIL for them and the SAVED* search keys use their internal date.

ALTER TABLE messages ADD COLUMN save_date bigint;
