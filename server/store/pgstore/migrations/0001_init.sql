-- Initial schema of the PostgreSQL mail store. Names are compared byte for
-- byte (COLLATE "C"), as in the embedded store, so that hierarchy prefix
-- ranges ("a/" <= name < "a0") use the unique indexes.

CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text COLLATE "C" NOT NULL UNIQUE,
    hash       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The UIDVALIDITY allocator: one row, strictly increasing, normally the
-- current Unix time.
CREATE TABLE uidvalidity (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last      bigint NOT NULL
);
INSERT INTO uidvalidity (last) VALUES (0);

-- One row per mailbox, holding the STATUS counters and the UID and MODSEQ
-- allocators. Every write to a mailbox's messages updates this row, so the
-- row lock orders the writers of one mailbox and their commits.
CREATE TABLE mailboxes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text COLLATE "C" NOT NULL,
    attr           integer NOT NULL DEFAULT 0,
    uid_validity   bigint NOT NULL,
    uid_next       bigint NOT NULL DEFAULT 1,
    highest_modseq bigint NOT NULL DEFAULT 1,
    messages       bigint NOT NULL DEFAULT 0,
    unseen         bigint NOT NULL DEFAULT 0,
    deleted        bigint NOT NULL DEFAULT 0,
    size           bigint NOT NULL DEFAULT 0,
    log_count      bigint NOT NULL DEFAULT 0,
    log_floor      bigint NOT NULL DEFAULT 0,
    keywords       text[] NOT NULL DEFAULT '{}',
    UNIQUE (user_id, name)
);

CREATE TABLE subscriptions (
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    text COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Message contents, shared by the copies of a message (COPY adds a
-- reference, it does not duplicate the body).
CREATE TABLE contents (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body bytea NOT NULL
);

CREATE TABLE messages (
    mailbox_id    bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid           bigint NOT NULL,
    content_id    bigint NOT NULL REFERENCES contents (id),
    size          bigint NOT NULL,
    internal_date bigint NOT NULL, -- Unix nanoseconds
    modseq        bigint NOT NULL,
    sys_flags     smallint NOT NULL,
    keywords      text NOT NULL DEFAULT '', -- space-separated IMAP atoms
    structure     bytea,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_deleted ON messages (mailbox_id, uid) WHERE sys_flags & 8 <> 0;
CREATE INDEX messages_content ON messages (content_id);

-- The per-mailbox change log read by sessions to catch up by MODSEQ.
CREATE TABLE changes (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    modseq     bigint NOT NULL,
    kind       smallint NOT NULL,
    uid_starts bigint[] NOT NULL,
    uid_stops  bigint[] NOT NULL,
    PRIMARY KEY (mailbox_id, modseq)
);
