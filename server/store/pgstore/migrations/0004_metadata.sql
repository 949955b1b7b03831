-- Annotations (RFC 5464 METADATA) of an account: its server entries
-- (mailbox_id NULL) and its mailboxes' entries. Entries belong to the
-- mailbox row, so they follow a rename and go with the mailbox when it is
-- deleted. Writers lock the account row, which orders them with hierarchy
-- changes and makes the count and size limits exact.

CREATE TABLE metadata (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mailbox_id bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    value      bytea NOT NULL
);
CREATE UNIQUE INDEX metadata_entry ON metadata (user_id, coalesce(mailbox_id, 0), name);
