-- The UID list of each mailbox as maximal runs of consecutive UIDs, so
-- that SELECT reads one row per run instead of one per message. Every
-- write that adds or removes messages updates the runs in the same
-- transaction, under the mailbox row lock it already holds. UIDs are
-- allocated densely from uid_next, so an append normally extends the last
-- run; an expunge splits or shortens the runs it touches.

CREATE TABLE uid_runs (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    lo         bigint NOT NULL,
    hi         bigint NOT NULL CHECK (hi >= lo),
    PRIMARY KEY (mailbox_id, lo)
);

-- The runs of the messages stored so far (gaps and islands: within one
-- mailbox, uid minus its rank is constant along a run of consecutive
-- UIDs). The same query rebuilds one mailbox's runs (runsRebuildSQL).
INSERT INTO uid_runs (mailbox_id, lo, hi)
SELECT mailbox_id, min(uid), max(uid)
FROM (SELECT mailbox_id, uid, uid - row_number() OVER (PARTITION BY mailbox_id ORDER BY uid) AS island
      FROM messages) s
GROUP BY mailbox_id, island;
