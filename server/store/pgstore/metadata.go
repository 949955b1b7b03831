package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

var _ store.MetadataUser = (*user)(nil)

// normalizeAnnot normalises a mailbox name, keeping "" (server entries).
func (u *user) normalizeAnnot(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	return u.normalize(name)
}

// annotUsageSQL counts and sums the entries of the account ($1) and of
// one of its mailboxes ($2, 0 for the server entries).
const annotUsageSQL = `SELECT
		count(*) FILTER (WHERE coalesce(mailbox_id, 0) = $2),
		coalesce(sum(length(value)) FILTER (WHERE coalesce(mailbox_id, 0) = $2), 0)::bigint,
		count(*), coalesce(sum(length(value)), 0)::bigint
	FROM metadata WHERE user_id = $1`

// Metadata implements store.MetadataUser.
func (u *user) Metadata(ctx context.Context, mailbox string) ([]store.MetadataEntry, error) {
	mailbox, err := u.normalizeAnnot(mailbox)
	if err != nil {
		return nil, err
	}
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	var rows pgx.Rows
	if mailbox == "" {
		rows, err = u.s.pool.Query(ctx, `SELECT true, name, value FROM metadata
			WHERE user_id = $1 AND mailbox_id IS NULL ORDER BY name`, u.id)
	} else {
		// One statement: the mailbox's existence and its entries
		// come from the same snapshot.
		rows, err = u.s.pool.Query(ctx, `SELECT md.name IS NOT NULL, coalesce(md.name, ''), coalesce(md.value, '')
			FROM mailboxes m LEFT JOIN metadata md ON md.mailbox_id = m.id
			WHERE m.user_id = $1 AND m.name = $2 ORDER BY md.name`, u.id, mailbox)
	}
	if err != nil {
		return nil, err
	}
	found := false
	var out []store.MetadataEntry
	for rows.Next() {
		found = true
		var has bool
		var e store.MetadataEntry
		if err := rows.Scan(&has, &e.Name, &e.Value); err != nil {
			rows.Close()
			return nil, err
		}
		if has {
			if e.Value == nil {
				e.Value = []byte{}
			}
			out = append(out, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found && mailbox != "" {
		return nil, u.missing(ctx, u.s.pool)
	}
	return out, nil
}

// SetMetadata implements store.MetadataUser. The account row is locked
// first, so that writers of one account take turns (on any node) and the
// usage each one sums includes the others' commits; the mailbox cannot be
// deleted or renamed meanwhile either.
func (u *user) SetMetadata(ctx context.Context, mailbox string, changes []store.MetadataEntry, lim store.MetadataLimits) error {
	mailbox, err := u.normalizeAnnot(mailbox)
	if err != nil {
		return err
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	final, names := backend.FinalMetadata(changes)
	_, err = u.s.write(ctx, func(t *txn) error {
		if err := u.lockAccount(ctx, t); err != nil {
			return err
		}
		var id int64
		if mailbox != "" {
			m, err := u.mailboxByName(ctx, t, mailbox, false)
			if err != nil {
				return err
			}
			id = m.ID
		}
		var mbBefore, acctBefore store.MetadataUsage
		if err := t.QueryRow(ctx, annotUsageSQL, u.id, id).Scan(&mbBefore.Entries, &mbBefore.Bytes,
			&acctBefore.Entries, &acctBefore.Bytes); err != nil {
			return err
		}
		rows, err := t.Query(ctx, `SELECT name, length(value) FROM metadata
			WHERE user_id = $1 AND coalesce(mailbox_id, 0) = $2 AND name = ANY($3)`, u.id, id, names)
		if err != nil {
			return err
		}
		old := make(map[string]int)
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				rows.Close()
				return err
			}
			old[name] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		mbAfter, acctAfter := mbBefore, acctBefore
		var setNames []string
		var setValues [][]byte
		for _, name := range names {
			if n, ok := old[name]; ok {
				mbAfter, acctAfter = mbAfter.Add(-1, n), acctAfter.Add(-1, n)
			}
			if v := final[name]; v != nil {
				mbAfter, acctAfter = mbAfter.Add(1, len(v)), acctAfter.Add(1, len(v))
				setNames = append(setNames, name)
				setValues = append(setValues, v)
			}
		}
		if err := lim.Check(mbBefore, mbAfter, acctBefore, acctAfter); err != nil {
			return err
		}
		for _, name := range names {
			t.notify(store.Notification{User: u.name, Mailbox: store.AccountEvents,
				Event: store.MetadataChanged, Name: mailbox, Entry: name})
		}
		if _, err := t.Exec(ctx, `DELETE FROM metadata
			WHERE user_id = $1 AND coalesce(mailbox_id, 0) = $2 AND name = ANY($3)`, u.id, id, names); err != nil {
			return err
		}
		if len(setNames) == 0 {
			return nil
		}
		var mb any
		if id != 0 {
			mb = id
		}
		_, err = t.Exec(ctx, `INSERT INTO metadata (user_id, mailbox_id, name, value)
			SELECT $1, $2::bigint, n, v FROM unnest($3::text[], $4::bytea[]) AS r(n, v)`, u.id, mb, setNames, setValues)
		return err
	})
	return err
}

// copyAnnots copies the entries of mailbox from to mailbox to.
func copyAnnots(ctx context.Context, t *txn, from, to int64) error {
	_, err := t.Exec(ctx, `INSERT INTO metadata (user_id, mailbox_id, name, value)
		SELECT user_id, $2, name, value FROM metadata WHERE mailbox_id = $1`, from, to)
	return err
}
