package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// user is the store.User of one account. It holds the account's internal
// ID; every query is restricted to that ID, so neither a name nor a
// MailboxID of another account can resolve, and a handle of a deleted (or
// deleted and re-created) account stops working.
type user struct {
	s    *Store
	name string
	id   int64
}

var _ store.User = (*user)(nil)

// Name implements store.User.
func (u *user) Name() string { return u.name }

// querier is what both the pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (u *user) normalize(name string) (string, error) {
	return store.NormalizeMailboxName(name, u.s.opts.MaxMailboxNameLen)
}

// missing returns the error for a mailbox that did not resolve: the
// account is gone, or the mailbox is.
func (u *user) missing(ctx context.Context, q querier) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, u.id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrNoSuchUser
	}
	return store.ErrNoSuchMailbox
}

// lockAccount locks the account row against other hierarchy changes
// (create, delete, rename of mailboxes) of the same account; message
// operations are not blocked by it.
func (u *user) lockAccount(ctx context.Context, t *txn) error {
	err := t.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, u.id).Scan(new(int64))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNoSuchUser
	}
	return err
}

// mailboxRow is a row of the mailboxes table.
type mailboxRow struct {
	ID          int64
	Name        string
	Attr        int32
	UIDValidity int64
	UIDNext     int64
	ModSeq      int64
	Messages    int64
	Unseen      int64
	Deleted     int64
	Size        int64
	LogCount    int64
	LogFloor    int64
	Keywords    []string
	RecentFrom  int64
}

const mailboxCols = `id, name, attr, uid_validity, uid_next, highest_modseq, messages, unseen, deleted, size, log_count, log_floor, keywords, recent_from`

func scanMailbox(row pgx.Row) (*mailboxRow, error) {
	m := new(mailboxRow)
	err := row.Scan(&m.ID, &m.Name, &m.Attr, &m.UIDValidity, &m.UIDNext, &m.ModSeq, &m.Messages,
		&m.Unseen, &m.Deleted, &m.Size, &m.LogCount, &m.LogFloor, &m.Keywords, &m.RecentFrom)
	return m, err
}

func (m *mailboxRow) status() store.MailboxStatus {
	return store.MailboxStatus{
		ID: store.MailboxID(m.ID), Name: m.Name, Messages: uint32(m.Messages), UIDNext: uint32(m.UIDNext),
		UIDValidity: uint32(m.UIDValidity), Unseen: uint32(m.Unseen), Deleted: uint32(m.Deleted),
		Size: m.Size, HighestModSeq: uint64(m.ModSeq),
	}
}

// mailboxByName reads (and with lock, locks) a mailbox of the account.
func (u *user) mailboxByName(ctx context.Context, q querier, name string, lock bool) (*mailboxRow, error) {
	sql := `SELECT ` + mailboxCols + ` FROM mailboxes WHERE user_id = $1 AND name = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	m, err := scanMailbox(q.QueryRow(ctx, sql, u.id, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, u.missing(ctx, q)
	}
	return m, err
}

// mailboxByID reads (and with lock, locks) a mailbox of the account.
func (u *user) mailboxByID(ctx context.Context, q querier, id store.MailboxID, lock bool) (*mailboxRow, error) {
	sql := `SELECT ` + mailboxCols + ` FROM mailboxes WHERE user_id = $1 AND id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	m, err := scanMailbox(q.QueryRow(ctx, sql, u.id, int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, u.missing(ctx, q)
	}
	return m, err
}

// selectable is mailboxByID for a mailbox that must not be \Noselect.
func (u *user) selectable(ctx context.Context, q querier, id store.MailboxID, lock bool) (*mailboxRow, error) {
	m, err := u.mailboxByID(ctx, q, id, lock)
	if err != nil {
		return nil, err
	}
	if store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
		return nil, store.ErrNoselect
	}
	return m, nil
}

// createOne creates a mailbox under name, which the caller has checked to
// be free.
func (u *user) createOne(ctx context.Context, t *txn, name string, attr store.MailboxAttr) (*mailboxRow, error) {
	uv, err := t.nextUIDValidity(ctx)
	if err != nil {
		return nil, err
	}
	m, err := scanMailbox(t.QueryRow(ctx, `INSERT INTO mailboxes (user_id, name, attr, uid_validity)
		VALUES ($1, $2, $3, $4) RETURNING `+mailboxCols, u.id, name, int32(attr), int64(uv)))
	if isCode(err, "23503") {
		return nil, store.ErrNoSuchUser
	}
	if isCode(err, "23505") {
		return nil, store.ErrMailboxExists
	}
	return m, err
}

// removeOne deletes a mailbox with its messages, change log and the
// contents only it referenced.
func removeOne(ctx context.Context, t *txn, id int64) error {
	rows, err := t.Query(ctx, `DELETE FROM messages WHERE mailbox_id = $1 RETURNING content_id`, id)
	if err != nil {
		return err
	}
	contents, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `DELETE FROM mailboxes WHERE id = $1`, id); err != nil {
		return err
	}
	return deleteOrphans(ctx, t, contents)
}

func (u *user) exists(ctx context.Context, q querier, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2)`, u.id, name).Scan(&ok)
	return ok, err
}

func (u *user) hasInferiors(ctx context.Context, q querier, name string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE user_id = $1 AND name >= $2 AND name < $3)`,
		u.id, name+string(store.Separator), name+string(store.Separator+1)).Scan(&ok)
	return ok, err
}

// ensureSuperiors creates the missing superior levels of name, each
// announced as created.
func (u *user) ensureSuperiors(ctx context.Context, t *txn, name string) error {
	for _, sup := range store.Superiors(name) {
		ok, err := u.exists(ctx, t, sup)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := u.createOne(ctx, t, sup, 0); err != nil {
				return err
			}
			t.notify(u.accountEvent(store.MailboxCreated, sup, ""))
		}
	}
	return nil
}

// listSQL returns mailboxes with computed children and subscription state.
// The children test is a range scan of the (user_id, name) index: with
// byte order, the inferiors of "a" are exactly the names in ["a/", "a0").
const listSQL = `SELECT m.id, m.name, m.attr, m.uid_validity,
	EXISTS (SELECT 1 FROM mailboxes c WHERE c.user_id = m.user_id AND c.name >= m.name || '/' AND c.name < m.name || '0'),
	EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name)
	FROM mailboxes m WHERE m.user_id = $1`

func scanInfo(rows pgx.Rows) ([]store.MailboxInfo, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.MailboxInfo, error) {
		var id, uv int64
		var attr int32
		var name string
		var children, subscribed bool
		if err := r.Scan(&id, &name, &attr, &uv, &children, &subscribed); err != nil {
			return store.MailboxInfo{}, err
		}
		a := store.MailboxAttr(attr)
		if children {
			a |= store.AttrHasChildren
		} else {
			a |= store.AttrHasNoChildren
		}
		return store.MailboxInfo{ID: store.MailboxID(id), Name: name, Attr: a, Subscribed: subscribed, UIDValidity: uint32(uv)}, nil
	})
}

func (u *user) info(ctx context.Context, q querier, name string) (store.MailboxInfo, error) {
	rows, err := q.Query(ctx, listSQL+` AND m.name = $2`, u.id, name)
	if err != nil {
		return store.MailboxInfo{}, err
	}
	list, err := scanInfo(rows)
	if err != nil {
		return store.MailboxInfo{}, err
	}
	if len(list) == 0 {
		return store.MailboxInfo{}, u.missing(ctx, q)
	}
	return list[0], nil
}

// ListMailboxes implements store.MailboxAdmin.
func (u *user) ListMailboxes(ctx context.Context) ([]store.MailboxInfo, error) {
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	rows, err := u.s.pool.Query(ctx, listSQL+` ORDER BY m.name`, u.id)
	if err != nil {
		return nil, err
	}
	list, err := scanInfo(rows)
	if err == nil && len(list) == 0 {
		// Every account has INBOX: no mailbox at all means no account.
		err = u.missing(ctx, u.s.pool)
	}
	return list, err
}

// Mailbox implements store.MailboxAdmin.
func (u *user) Mailbox(ctx context.Context, name string) (store.MailboxInfo, error) {
	name, err := u.normalize(name)
	if err != nil {
		return store.MailboxInfo{}, err
	}
	if err := u.s.enter(ctx); err != nil {
		return store.MailboxInfo{}, err
	}
	defer u.s.leave()
	return u.info(ctx, u.s.pool, name)
}

// Status implements store.MailboxAdmin.
func (u *user) Status(ctx context.Context, name string) (store.MailboxStatus, error) {
	name, err := u.normalize(name)
	if err != nil {
		return store.MailboxStatus{}, err
	}
	if err := u.s.enter(ctx); err != nil {
		return store.MailboxStatus{}, err
	}
	defer u.s.leave()
	m, err := u.mailboxByName(ctx, u.s.pool, name, false)
	if err != nil {
		return store.MailboxStatus{}, err
	}
	if store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
		return store.MailboxStatus{}, store.ErrNoselect
	}
	st := m.status()
	if m.RecentFrom < m.UIDNext && m.Messages > 0 {
		var n int64
		err := u.s.pool.QueryRow(ctx, runsRecentSQL, m.ID, m.RecentFrom).Scan(&n)
		if err != nil {
			return store.MailboxStatus{}, err
		}
		st.Recent = uint32(n)
	}
	return st, nil
}

// CreateMailbox implements store.MailboxAdmin.
func (u *user) CreateMailbox(ctx context.Context, name string, specialUse store.MailboxAttr) (store.MailboxInfo, error) {
	name, err := backend.CreateName(name, specialUse, u.s.opts.MaxMailboxNameLen)
	if err != nil {
		return store.MailboxInfo{}, err
	}
	if err := u.s.enter(ctx); err != nil {
		return store.MailboxInfo{}, err
	}
	defer u.s.leave()
	var out store.MailboxInfo
	_, err = u.s.write(ctx, func(t *txn) error {
		if err := u.lockAccount(ctx, t); err != nil {
			return err
		}
		old, err := u.mailboxByName(ctx, t, name, true)
		switch {
		case err == nil:
			if store.MailboxAttr(old.Attr)&store.AttrNoselect == 0 {
				return store.ErrMailboxExists
			}
			if err := removeOne(ctx, t, old.ID); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNoSuchMailbox):
			return err
		}
		if err := u.ensureSuperiors(ctx, t, name); err != nil {
			return err
		}
		if _, err := u.createOne(ctx, t, name, specialUse); err != nil {
			return err
		}
		out, err = u.info(ctx, t, name)
		t.notify(u.accountEvent(store.MailboxCreated, name, ""))
		return err
	})
	return out, err
}

// DeleteMailbox implements store.MailboxAdmin.
func (u *user) DeleteMailbox(ctx context.Context, name string) error {
	name, err := backend.DeleteName(name, u.s.opts.MaxMailboxNameLen)
	if err != nil {
		return err
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	_, err = u.s.write(ctx, func(t *txn) error {
		if err := u.lockAccount(ctx, t); err != nil {
			return err
		}
		m, err := u.mailboxByName(ctx, t, name, true)
		if err != nil {
			return err
		}
		inferiors, err := u.hasInferiors(ctx, t, name)
		if err != nil {
			return err
		}
		if inferiors && store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
			return store.ErrHasChildren
		}
		if err := removeOne(ctx, t, m.ID); err != nil {
			return err
		}
		if inferiors {
			// RFC 9051 6.3.5: the name stays as a \Noselect placeholder.
			if _, err := u.createOne(ctx, t, name, store.AttrNoselect); err != nil {
				return err
			}
		}
		t.notify(store.Notification{User: u.name, Mailbox: store.MailboxID(m.ID)})
		t.notify(u.accountEvent(store.MailboxDeleted, name, ""))
		return nil
	})
	return err
}

// accountEvent returns the notification of an account event.
func (u *user) accountEvent(ev store.MailboxEvent, name, oldName string) store.Notification {
	return store.Notification{User: u.name, Mailbox: store.AccountEvents, Event: ev, Name: name, OldName: oldName}
}

// RenameMailbox implements store.MailboxAdmin.
func (u *user) RenameMailbox(ctx context.Context, from, to string) error {
	from, to, err := backend.RenameNames(from, to, u.s.opts.MaxMailboxNameLen)
	if err != nil {
		return err
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	if from == store.Inbox {
		return u.renameInbox(ctx, to)
	}
	_, err = u.s.write(ctx, func(t *txn) error {
		if err := u.lockAccount(ctx, t); err != nil {
			return err
		}
		if _, err := u.mailboxByName(ctx, t, from, true); err != nil {
			return err
		}
		if ok, err := u.exists(ctx, t, to); err != nil {
			return err
		} else if ok {
			return store.ErrMailboxExists
		}
		sep := string(store.Separator)
		rows, err := t.Query(ctx, `SELECT id, name FROM mailboxes WHERE user_id = $1
			AND (name = $2 OR (name >= $3 AND name < $4)) ORDER BY id FOR UPDATE`,
			u.id, from, from+sep, from+string(store.Separator+1))
		if err != nil {
			return err
		}
		type moving struct {
			id  int64
			old string
		}
		var list []moving
		for rows.Next() {
			var m moving
			if err := rows.Scan(&m.id, &m.old); err != nil {
				rows.Close()
				return err
			}
			list = append(list, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ids := make([]int64, len(list))
		olds := make([]string, len(list))
		news := make([]string, len(list))
		for i, m := range list {
			if news[i], err = backend.RenamedName(m.old, from, to, u.s.opts.MaxMailboxNameLen); err != nil {
				return err
			}
			ids[i], olds[i] = m.id, m.old
		}
		var clash bool
		if err := t.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = ANY($2))`, u.id, news).Scan(&clash); err != nil {
			return err
		}
		if clash {
			return store.ErrMailboxExists
		}
		if _, err := t.Exec(ctx, `UPDATE mailboxes m SET name = r.new FROM unnest($2::bigint[], $3::text[]) AS r(id, new)
			WHERE m.user_id = $1 AND m.id = r.id`, u.id, ids, news); err != nil {
			return err
		}
		// Subscriptions follow the rename.
		if _, err := t.Exec(ctx, `WITH moved AS (
				DELETE FROM subscriptions s USING unnest($2::text[], $3::text[]) AS r(old, new)
				WHERE s.user_id = $1 AND s.name = r.old RETURNING r.new)
			INSERT INTO subscriptions (user_id, name) SELECT $1, new FROM moved ON CONFLICT DO NOTHING`,
			u.id, olds, news); err != nil {
			return err
		}
		for i := range olds {
			t.notify(u.accountEvent(store.MailboxRenamed, news[i], olds[i]))
		}
		return u.ensureSuperiors(ctx, t, to)
	})
	return err
}

// renameInbox implements RFC 9051 6.3.6 for INBOX: all messages move to a
// new mailbox named to; INBOX stays, empty, and keeps its inferiors.
func (u *user) renameInbox(ctx context.Context, to string) error {
	_, err := u.s.write(ctx, func(t *txn) error {
		if err := u.lockAccount(ctx, t); err != nil {
			return err
		}
		inbox, err := u.mailboxByName(ctx, t, store.Inbox, true)
		if err != nil {
			return err
		}
		if ok, err := u.exists(ctx, t, to); err != nil {
			return err
		} else if ok {
			return store.ErrMailboxExists
		}
		if err := u.ensureSuperiors(ctx, t, to); err != nil {
			return err
		}
		dst, err := u.createOne(ctx, t, to, 0)
		if err != nil {
			return err
		}
		// RFC 5464 4.1: the new mailbox gets a copy of INBOX's
		// annotations, and INBOX keeps them.
		if err := copyAnnots(ctx, t, inbox.ID, dst.ID); err != nil {
			return err
		}
		_, err = u.transfer(ctx, t, inbox, store.AllUIDs(), dst, true, store.Quota{})
		t.notify(u.accountEvent(store.MailboxCreated, to, ""))
		return err
	})
	return err
}

// SetSubscribed implements store.MailboxAdmin.
func (u *user) SetSubscribed(ctx context.Context, name string, on bool) error {
	name, err := u.normalize(name)
	if err != nil {
		return err
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	if err := u.setSubscribed(ctx, name, on); err != nil {
		return err
	}
	ev := store.MailboxSubscribed
	if !on {
		ev = store.MailboxUnsubscribed
	}
	if err := u.s.announce(ctx, u.accountEvent(ev, name, "")); err != nil {
		// The change is committed; only other nodes' sessions miss it.
		u.s.opts.Logger.Warn("pgstore: announcing a subscription change", "user", u.name, "mailbox", name, "err", err)
	}
	return nil
}

// setSubscribed is SetSubscribed for a normalised name.
func (u *user) setSubscribed(ctx context.Context, name string, on bool) error {
	if !on {
		tag, err := u.s.pool.Exec(ctx, `DELETE FROM subscriptions WHERE user_id = $1 AND name = $2`, u.id, name)
		if err == nil && tag.RowsAffected() == 0 {
			if err = u.missing(ctx, u.s.pool); errors.Is(err, store.ErrNoSuchMailbox) {
				err = nil
			}
		}
		return err
	}
	tag, err := u.s.pool.Exec(ctx, `INSERT INTO subscriptions (user_id, name)
		SELECT user_id, name FROM mailboxes WHERE user_id = $1 AND name = $2
		ON CONFLICT DO NOTHING`, u.id, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		if ok, err := u.exists(ctx, u.s.pool, name); err != nil || ok {
			return err // already subscribed
		}
		return u.missing(ctx, u.s.pool)
	}
	return nil
}

// Subscriptions implements store.MailboxAdmin.
func (u *user) Subscriptions(ctx context.Context) ([]string, error) {
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	rows, err := u.s.pool.Query(ctx, `SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name`, u.id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(out) == 0 {
		if err = u.missing(ctx, u.s.pool); errors.Is(err, store.ErrNoSuchMailbox) {
			err = nil
		}
	}
	return out, err
}
