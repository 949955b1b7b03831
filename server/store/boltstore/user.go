package boltstore

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// user is the store.User of one account. It holds only the account's
// internal ID; every lookup goes through that account's own buckets, so
// neither a name nor a MailboxID of another account can resolve.
type user struct {
	s    *Store
	name string
	id   uint64
}

var _ store.User = (*user)(nil)

// Name implements store.User.
func (u *user) Name() string { return u.name }

func (u *user) acct(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketAccts).Bucket(u64key(u.id))
	if b == nil {
		return nil, store.ErrNoSuchUser
	}
	return b, nil
}

func getMailbox(acct *bolt.Bucket, id uint64) (*mailboxRec, error) {
	v := acct.Bucket(bucketMB).Get(u64key(id))
	if v == nil {
		return nil, store.ErrNoSuchMailbox
	}
	rec := new(mailboxRec)
	if err := decodeJSON(v, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func putMailbox(acct *bolt.Bucket, rec *mailboxRec) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return acct.Bucket(bucketMB).Put(u64key(rec.ID), b)
}

func mailboxByName(acct *bolt.Bucket, name string) (*mailboxRec, error) {
	v := acct.Bucket(bucketNames).Get([]byte(name))
	if v == nil {
		return nil, store.ErrNoSuchMailbox
	}
	return getMailbox(acct, keyU64(v))
}

func (u *user) normalize(name string) (string, error) {
	return store.NormalizeMailboxName(name, u.s.opts.MaxMailboxNameLen)
}

// createOne creates a mailbox record and its data buckets under name,
// which the caller has checked to be free.
func (u *user) createOne(tx *bolt.Tx, acct *bolt.Bucket, name string, attr store.MailboxAttr) (*mailboxRec, error) {
	mboxes := tx.Bucket(bucketMboxes)
	id, err := mboxes.NextSequence()
	if err != nil {
		return nil, err
	}
	uv, err := nextUIDValidity(tx)
	if err != nil {
		return nil, err
	}
	data, err := mboxes.CreateBucket(u64key(id))
	if err != nil {
		return nil, err
	}
	for _, b := range [][]byte{bucketMsg, bucketStruct, bucketUIDIdx, bucketDeleted, bucketLog} {
		if _, err := data.CreateBucket(b); err != nil {
			return nil, err
		}
	}
	rec := &mailboxRec{ID: id, Name: name, Attr: attr, UIDValidity: uv, UIDNext: 1, ModSeq: 1}
	if err := putMailbox(acct, rec); err != nil {
		return nil, err
	}
	return rec, acct.Bucket(bucketNames).Put([]byte(name), u64key(id))
}

// removeOne deletes a mailbox record, its name entry and its data, and
// returns the content IDs whose last reference went away.
func removeOne(tx *bolt.Tx, acct *bolt.Bucket, rec *mailboxRec) ([]uint64, error) {
	freed, err := purgeMailboxData(tx, rec.ID)
	if err != nil {
		return nil, err
	}
	if err := acct.Bucket(bucketMB).Delete(u64key(rec.ID)); err != nil {
		return nil, err
	}
	if err := removeAnnots(acct, rec.ID); err != nil {
		return nil, err
	}
	return freed, acct.Bucket(bucketNames).Delete([]byte(rec.Name))
}

// purgeMailboxData drops the data bucket of a mailbox, releasing its
// references to content files.
func purgeMailboxData(tx *bolt.Tx, id uint64) ([]uint64, error) {
	mboxes := tx.Bucket(bucketMboxes)
	data := mboxes.Bucket(u64key(id))
	if data == nil {
		return nil, nil
	}
	var freed []uint64
	var m msgRec
	err := data.Bucket(bucketMsg).ForEach(func(_, v []byte) error {
		if err := decodeMsg(v, &m); err != nil {
			return err
		}
		f, err := unref(tx, m.Content)
		if f {
			freed = append(freed, m.Content)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return freed, mboxes.DeleteBucket(u64key(id))
}

// unref drops one reference to a content; at zero an inline body is
// deleted with the transaction, and a content file is recorded in the trash
// bucket (the file is removed after commit) and freed is true.
func unref(tx *bolt.Tx, content uint64) (freed bool, err error) {
	refs := tx.Bucket(bucketBlobs)
	k := u64key(content)
	n := decodeRefs(refs.Get(k))
	if n > 1 {
		return false, refs.Put(k, encodeRefs(n-1))
	}
	if err := refs.Delete(k); err != nil {
		return false, err
	}
	if in := tx.Bucket(bucketInline); in.Get(k) != nil {
		// An inline body goes with the transaction; there is no file.
		return false, in.Delete(k)
	}
	return true, tx.Bucket(bucketTrash).Put(k, nil)
}

func addRef(tx *bolt.Tx, content uint64) error {
	refs := tx.Bucket(bucketBlobs)
	k := u64key(content)
	return refs.Put(k, encodeRefs(decodeRefs(refs.Get(k))+1))
}

func hasInferiors(acct *bolt.Bucket, name string) bool {
	prefix := []byte(name + string(store.Separator))
	k, _ := acct.Bucket(bucketNames).Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// ensureSuperiors creates the missing superior levels of name and appends
// their names to created.
func (u *user) ensureSuperiors(tx *bolt.Tx, acct *bolt.Bucket, name string, created *[]string) error {
	for _, sup := range store.Superiors(name) {
		if acct.Bucket(bucketNames).Get([]byte(sup)) != nil {
			continue
		}
		if _, err := u.createOne(tx, acct, sup, 0); err != nil {
			return err
		}
		*created = append(*created, sup)
	}
	return nil
}

func (u *user) view(ctx context.Context, fn func(tx *bolt.Tx, acct *bolt.Bucket) error) error {
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	return u.s.db.View(func(tx *bolt.Tx) error {
		acct, err := u.acct(tx)
		if err != nil {
			return err
		}
		return fn(tx, acct)
	})
}

// write runs fn in a group-committed transaction (see Store.update). The
// caller must hold the store via enter.
func (u *user) write(ctx context.Context, syncDirs []string, fn func(tx *bolt.Tx, acct *bolt.Bucket) error) error {
	return u.s.update(ctx, syncDirs, func(tx *bolt.Tx) error {
		acct, err := u.acct(tx)
		if err != nil {
			return err
		}
		return fn(tx, acct)
	})
}

func (u *user) info(acct *bolt.Bucket, rec *mailboxRec) store.MailboxInfo {
	attr := rec.Attr
	if hasInferiors(acct, rec.Name) {
		attr |= store.AttrHasChildren
	} else {
		attr |= store.AttrHasNoChildren
	}
	return store.MailboxInfo{
		ID: store.MailboxID(rec.ID), Name: rec.Name, Attr: attr, UIDValidity: rec.UIDValidity,
		Subscribed: acct.Bucket(bucketSubs).Get([]byte(rec.Name)) != nil,
	}
}

// ListMailboxes implements store.MailboxAdmin.
func (u *user) ListMailboxes(ctx context.Context) ([]store.MailboxInfo, error) {
	var out []store.MailboxInfo
	err := u.view(ctx, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		return acct.Bucket(bucketNames).ForEach(func(_, v []byte) error {
			rec, err := getMailbox(acct, keyU64(v))
			if err != nil {
				return err
			}
			out = append(out, u.info(acct, rec))
			return nil
		})
	})
	return out, err
}

// Mailbox implements store.MailboxAdmin.
func (u *user) Mailbox(ctx context.Context, name string) (store.MailboxInfo, error) {
	name, err := u.normalize(name)
	if err != nil {
		return store.MailboxInfo{}, err
	}
	var out store.MailboxInfo
	err = u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, err := mailboxByName(acct, name)
		if err != nil {
			return err
		}
		out = u.info(acct, rec)
		return nil
	})
	return out, err
}

// Status implements store.MailboxAdmin.
func (u *user) Status(ctx context.Context, name string) (store.MailboxStatus, error) {
	name, err := u.normalize(name)
	if err != nil {
		return store.MailboxStatus{}, err
	}
	var out store.MailboxStatus
	err = u.view(ctx, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, err := mailboxByName(acct, name)
		if err != nil {
			return err
		}
		if rec.Attr&store.AttrNoselect != 0 {
			return store.ErrNoselect
		}
		out = rec.status()
		if first := u.s.firstRecent(rec); first < rec.UIDNext && rec.Messages > 0 {
			data := tx.Bucket(bucketMboxes).Bucket(u64key(rec.ID))
			if data == nil {
				return errCorrupt
			}
			out.Recent = uidxCountFrom(data.Bucket(bucketUIDIdx), first)
		}
		return nil
	})
	return out, err
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
	var freed []uint64
	var supers []string
	err = u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		freed, supers = nil, nil
		if old, err := mailboxByName(acct, name); err == nil {
			if old.Attr&store.AttrNoselect == 0 {
				return store.ErrMailboxExists
			}
			if freed, err = removeOne(tx, acct, old); err != nil {
				return err
			}
		}
		if err := u.ensureSuperiors(tx, acct, name, &supers); err != nil {
			return err
		}
		rec, err := u.createOne(tx, acct, name, specialUse)
		if err != nil {
			return err
		}
		out = u.info(acct, rec)
		return nil
	})
	if err != nil {
		return store.MailboxInfo{}, err
	}
	u.s.blobs.remove(freed)
	for _, sup := range supers {
		u.accountEvent(ctx, store.MailboxCreated, sup, "")
	}
	u.accountEvent(ctx, store.MailboxCreated, out.Name, "")
	return out, nil
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
	var freed []uint64
	var gone uint64
	err = u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		rec, err := mailboxByName(acct, name)
		if err != nil {
			return err
		}
		gone = rec.ID
		inferiors := hasInferiors(acct, name)
		if inferiors && rec.Attr&store.AttrNoselect != 0 {
			return store.ErrHasChildren
		}
		if freed, err = removeOne(tx, acct, rec); err != nil {
			return err
		}
		if inferiors {
			// RFC 9051 6.3.5: the name stays as a \Noselect placeholder.
			_, err = u.createOne(tx, acct, name, store.AttrNoselect)
		}
		return err
	})
	if err != nil {
		return err
	}
	u.s.blobs.remove(freed)
	u.publish(ctx, []store.Notification{{User: u.name, Mailbox: store.MailboxID(gone)}})
	u.accountEvent(ctx, store.MailboxDeleted, name, "")
	return nil
}

// accountEvent publishes an account event (store.Notification.Event).
func (u *user) accountEvent(ctx context.Context, ev store.MailboxEvent, name, oldName string) {
	u.publish(ctx, []store.Notification{{User: u.name, Mailbox: store.AccountEvents, Event: ev, Name: name, OldName: oldName}})
}

// RenameMailbox implements store.MailboxAdmin.
func (u *user) RenameMailbox(ctx context.Context, from, to string) error {
	from, to, err := backend.RenameNames(from, to, u.s.opts.MaxMailboxNameLen)
	if err != nil {
		return err
	}
	if from == store.Inbox {
		return u.renameInbox(ctx, to)
	}
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	var renamed [][2]string
	var supers []string
	err = u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		renamed, supers = nil, nil
		names := acct.Bucket(bucketNames)
		subs := acct.Bucket(bucketSubs)
		rec, err := mailboxByName(acct, from)
		if err != nil {
			return err
		}
		if names.Get([]byte(to)) != nil {
			return store.ErrMailboxExists
		}
		moving := []*mailboxRec{rec}
		prefix := []byte(from + string(store.Separator))
		c := names.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			r, err := getMailbox(acct, keyU64(v))
			if err != nil {
				return err
			}
			moving = append(moving, r)
		}
		newNames := make([]string, len(moving))
		for i, r := range moving {
			if newNames[i], err = backend.RenamedName(r.Name, from, to, u.s.opts.MaxMailboxNameLen); err != nil {
				return err
			}
			if names.Get([]byte(newNames[i])) != nil {
				return store.ErrMailboxExists
			}
		}
		var subscribed []bool
		for _, r := range moving {
			subscribed = append(subscribed, subs.Get([]byte(r.Name)) != nil)
			if err := names.Delete([]byte(r.Name)); err != nil {
				return err
			}
			if subscribed[len(subscribed)-1] {
				if err := subs.Delete([]byte(r.Name)); err != nil {
					return err
				}
			}
		}
		if err := u.ensureSuperiors(tx, acct, to, &supers); err != nil {
			return err
		}
		for i, r := range moving {
			renamed = append(renamed, [2]string{r.Name, newNames[i]})
			r.Name = newNames[i]
			if err := putMailbox(acct, r); err != nil {
				return err
			}
			if err := names.Put([]byte(r.Name), u64key(r.ID)); err != nil {
				return err
			}
			if subscribed[i] {
				if err := subs.Put([]byte(r.Name), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range renamed {
		u.accountEvent(ctx, store.MailboxRenamed, r[1], r[0])
	}
	for _, sup := range supers {
		u.accountEvent(ctx, store.MailboxCreated, sup, "")
	}
	return nil
}

// renameInbox implements RFC 9051 6.3.6 for INBOX: all messages move to a
// new mailbox named to; INBOX stays, empty; INBOX's inferiors stay.
func (u *user) renameInbox(ctx context.Context, to string) error {
	if err := u.s.enter(ctx); err != nil {
		return err
	}
	defer u.s.leave()
	var notes []store.Notification
	var supers []string
	err := u.write(ctx, nil, func(tx *bolt.Tx, acct *bolt.Bucket) error {
		notes, supers = nil, nil
		inbox, err := mailboxByName(acct, store.Inbox)
		if err != nil {
			return err
		}
		if acct.Bucket(bucketNames).Get([]byte(to)) != nil {
			return store.ErrMailboxExists
		}
		if err := u.ensureSuperiors(tx, acct, to, &supers); err != nil {
			return err
		}
		dst, err := u.createOne(tx, acct, to, 0)
		if err != nil {
			return err
		}
		// RFC 5464 4.1: the new mailbox gets a copy of INBOX's
		// annotations, and INBOX keeps them.
		if err := copyAnnots(acct, inbox.ID, dst.ID); err != nil {
			return err
		}
		res, err := u.transfer(tx, acct, inbox, store.AllUIDs(), dst, true)
		if err != nil {
			return err
		}
		notes = res.notes
		return nil
	})
	if err != nil {
		return err
	}
	u.publish(ctx, notes)
	for _, sup := range supers {
		u.accountEvent(ctx, store.MailboxCreated, sup, "")
	}
	u.accountEvent(ctx, store.MailboxCreated, to, "")
	return nil
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
	err = u.write(ctx, nil, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		subs := acct.Bucket(bucketSubs)
		if !on {
			return subs.Delete([]byte(name))
		}
		if acct.Bucket(bucketNames).Get([]byte(name)) == nil {
			return store.ErrNoSuchMailbox
		}
		return subs.Put([]byte(name), nil)
	})
	if err != nil {
		return err
	}
	ev := store.MailboxSubscribed
	if !on {
		ev = store.MailboxUnsubscribed
	}
	u.accountEvent(ctx, ev, name, "")
	return nil
}

// Subscriptions implements store.MailboxAdmin.
func (u *user) Subscriptions(ctx context.Context) ([]string, error) {
	var out []string
	err := u.view(ctx, func(_ *bolt.Tx, acct *bolt.Bucket) error {
		return acct.Bucket(bucketSubs).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// publish announces committed changes, stamped with the Origin of ctx.
func (u *user) publish(ctx context.Context, notes []store.Notification) {
	origin := store.OriginOf(ctx)
	for _, n := range notes {
		n.Origin = origin
		u.s.opts.Notifier.Publish(n)
	}
}
