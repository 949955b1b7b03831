-- Indexes that answer SEARCH on flags (the FlagSearcher of the store)
-- without reading every message of a mailbox. System flags get partial
-- indexes on the side that is usually small: \Answered, \Flagged and
-- \Draft set, \Seen unset (UNSEEN); \Deleted set has messages_deleted.
-- A search for the other side (SEEN, UNFLAGGED, ...) matches most of a
-- mailbox anyway and reads it through the primary key. The predicates
-- must be written exactly so in the queries (with literal bits) for the
-- planner to use them.

CREATE INDEX messages_answered ON messages (mailbox_id, uid) INCLUDE (modseq) WHERE sys_flags & 2 <> 0;
CREATE INDEX messages_flagged ON messages (mailbox_id, uid) INCLUDE (modseq) WHERE sys_flags & 4 <> 0;
CREATE INDEX messages_draft ON messages (mailbox_id, uid) INCLUDE (modseq) WHERE sys_flags & 16 <> 0;
CREATE INDEX messages_unseen ON messages (mailbox_id, uid) INCLUDE (modseq) WHERE sys_flags & 1 = 0;

-- Keywords: one key per keyword of a message, qualified by its mailbox
-- and folded to lower case (keywords are ASCII atoms compared
-- case-insensitively), in a GIN index over the messages that have any.
CREATE FUNCTION message_keyword_keys(mailbox bigint, keywords text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT ARRAY(SELECT mailbox || ' ' || k FROM unnest(string_to_array(lower(keywords COLLATE "C"), ' ')) AS k) $$;
CREATE INDEX messages_keywords ON messages USING gin (message_keyword_keys(mailbox_id, keywords)) WHERE keywords <> '';
