package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
)

// readChunk is the number of messages or change-log entries read per query
// by the streaming readers; callbacks run between queries, outside any
// transaction, so a slow client never holds a snapshot open.
const readChunk = 512

// maxRangesPerQuery bounds the UID ranges sent in one Fetch query.
const maxRangesPerQuery = 256

func encodeKeywords(kw []string) string { return strings.Join(kw, " ") }

func decodeKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

func flagsOf(sys int16, kw string) store.FlagSet {
	return store.FlagSet{System: store.SystemFlag(sys), Keywords: decodeKeywords(kw)}
}

// account adds (sign 1) or removes (sign -1) a message's contribution to
// the mailbox counters.
func (m *mailboxRow) account(f store.FlagSet, size int64, sign int64) {
	m.Messages += sign
	m.Size += sign * size
	if !f.Has(store.FlagSeen) {
		m.Unseen += sign
	}
	if f.Has(store.FlagDeleted) {
		m.Deleted += sign
	}
}

// addKeywords records keywords in the mailbox's keyword list, enforcing
// the per-mailbox limit.
func (m *mailboxRow) addKeywords(kws []string, limit int) (err error) {
	m.Keywords, err = backend.AddKeywords(m.Keywords, kws, limit)
	return err
}

func rangeArrays(set store.UIDSet) (starts, stops []int64) {
	starts, stops = make([]int64, len(set)), make([]int64, len(set))
	for i, r := range set {
		starts[i], stops[i] = int64(r.Start), int64(r.Stop)
	}
	return starts, stops
}

func toInt64s(v []uint32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// queueLog adds the change-log entry of m's current MODSEQ to b, and the
// trimming of the oldest entries beyond the configured bound.
func (u *user) queueLog(b *pgx.Batch, m *mailboxRow, kind store.ChangeKind, uids store.UIDSet) {
	starts, stops := rangeArrays(uids)
	b.Queue(`INSERT INTO changes (mailbox_id, modseq, kind, uid_starts, uid_stops) VALUES ($1, $2, $3, $4, $5)`,
		m.ID, m.ModSeq, int16(kind), starts, stops)
	m.LogCount++
	if excess := m.LogCount - int64(u.s.opts.MaxChangeLog); excess > 0 {
		b.Queue(`WITH gone AS (
				DELETE FROM changes WHERE mailbox_id = $1 AND modseq IN (
					SELECT modseq FROM changes WHERE mailbox_id = $1 ORDER BY modseq LIMIT $2)
				RETURNING modseq)
			UPDATE mailboxes SET log_floor = greatest(log_floor, (SELECT coalesce(max(modseq), 0) FROM gone))
			WHERE id = $1`, m.ID, excess)
		m.LogCount -= excess
	}
}

// queueSave adds the update of m's allocators and counters to b. It must
// be queued after queueLog, which counts the new entry.
func queueSave(b *pgx.Batch, m *mailboxRow) {
	b.Queue(`UPDATE mailboxes SET uid_next = $2, highest_modseq = $3, messages = $4, unseen = $5,
		deleted = $6, size = $7, log_count = $8, keywords = $9 WHERE id = $1`,
		m.ID, m.UIDNext, m.ModSeq, m.Messages, m.Unseen, m.Deleted, m.Size, m.LogCount, m.Keywords)
}

// sendBatch runs b, with the NOTIFY of every pending notification, and
// reports the first error.
func (t *txn) sendBatch(ctx context.Context, b *pgx.Batch) error {
	for _, n := range t.notes[t.flushed:] {
		b.Queue(`SELECT pg_notify($1, $2)`, t.s.opts.Channel, encodePayload(t.s.node, n))
	}
	t.flushed = len(t.notes)
	return t.SendBatch(ctx, b).Close()
}

// readBody reads a message body, enforcing the size limit.
func (s *Store) readBody(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := backend.CopyBody(&buf, r, s.opts.MaxMessageSize); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Append implements store.MessageWriter. The body is buffered, analysed,
// and then stored with its metadata in one transaction: content row first
// (no lock held while it uploads), then the mailbox row is locked by the
// UPDATE that allocates UID and MODSEQ, and everything else is pipelined.
func (u *user) Append(ctx context.Context, mailbox string, msg store.NewMessage) (store.AppendResult, error) {
	var res store.AppendResult
	name, checked, err := u.beginNew(ctx, mailbox, []store.NewMessage{msg}, false)
	if err != nil {
		return res, err
	}
	defer u.s.leave()
	nm := checked[0]
	flags := nm.Flags
	body, err := u.s.readBody(msg.Body)
	if err != nil {
		return res, err
	}
	structure := backend.Analyze(u.s.opts.Analyzer, bytes.NewReader(body))
	size := int64(len(body))
	seen := int64(0)
	if !flags.Has(store.FlagSeen) {
		seen = 1
	}
	del := int64(0)
	if flags.Has(store.FlagDeleted) {
		del = 1
	}
	_, err = u.s.write(ctx, func(t *txn) error {
		res = store.AppendResult{}
		var content int64
		if err := t.QueryRow(ctx, `INSERT INTO contents (body) VALUES ($1) RETURNING id`, body).Scan(&content); err != nil {
			return err
		}
		// The account row (when limited) before the mailbox row, as
		// hierarchy changes lock them.
		q, err := u.lockQuota(ctx, t)
		if err != nil {
			return err
		}
		if err := u.checkQuota(ctx, t, q, 1, size); err != nil {
			return err
		}
		m, err := scanMailbox(t.QueryRow(ctx, `UPDATE mailboxes SET uid_next = uid_next + 1,
				highest_modseq = highest_modseq + 1, messages = messages + 1, size = size + $3,
				unseen = unseen + $4, deleted = deleted + $5
			WHERE user_id = $1 AND name = $2 AND attr & $6 = 0 AND uid_next < $7
			RETURNING `+mailboxCols, u.id, name, size, seen, del, int32(store.AttrNoselect), int64(math.MaxUint32)))
		if errors.Is(err, pgx.ErrNoRows) {
			m, err := u.mailboxByName(ctx, t, name, false)
			switch {
			case err != nil:
				return err
			case store.MailboxAttr(m.Attr)&store.AttrNoselect != 0:
				return store.ErrNoselect
			}
			return store.ErrLimit // UID space exhausted; UIDs are never reused
		}
		if err != nil {
			return err
		}
		uid := m.UIDNext - 1
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO messages (mailbox_id, uid, content_id, size, internal_date, modseq, sys_flags, keywords, structure, save_date)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			m.ID, uid, content, size, nm.Date.UnixNano(), m.ModSeq, int16(flags.System), encodeKeywords(flags.Keywords), structure,
			time.Now().UnixNano())
		queueRunsAdd(b, m.ID, uid, uid)
		if err := m.addKeywords(flags.Keywords, u.s.opts.MaxKeywords); err != nil {
			return err
		}
		u.queueLog(b, m, store.ChangeAppend, store.UIDSet{{Start: uint32(uid), Stop: uint32(uid)}})
		b.Queue(`UPDATE mailboxes SET keywords = $2, log_count = $3 WHERE id = $1`, m.ID, m.Keywords, m.LogCount)
		res = store.AppendResult{Mailbox: store.MailboxID(m.ID), UIDValidity: uint32(m.UIDValidity), UID: uint32(uid), ModSeq: uint64(m.ModSeq)}
		t.notify(store.Notification{User: u.name, Mailbox: res.Mailbox, HighestModSeq: res.ModSeq})
		return t.sendBatch(ctx, b)
	})
	if err != nil {
		return store.AppendResult{}, err
	}
	return res, nil
}

// View implements store.MessageReader. Status and UID list come from one
// statement, hence one snapshot. The UID list is read from the mailbox's
// UID runs (see uidruns.go), one row per run of consecutive UIDs, and
// expanded here: O(runs) rows instead of O(messages). Runs that disagree
// with the message count are rebuilt from the messages, with an error
// logged, before the view is read again.
func (u *user) View(ctx context.Context, mailbox store.MailboxID) (store.View, error) {
	if err := u.s.enter(ctx); err != nil {
		return store.View{}, err
	}
	defer u.s.leave()
	v, err := u.view(ctx, mailbox)
	if errors.Is(err, errRunsMismatch) {
		u.s.opts.Logger.Error("pgstore: rebuilding the UID runs of a mailbox", "mailbox", int64(mailbox), "err", err)
		if err := u.rebuildRuns(ctx, int64(mailbox)); err != nil {
			return store.View{}, err
		}
		v, err = u.view(ctx, mailbox)
	}
	return v, err
}

// view reads a mailbox's status and UID list in one statement.
func (u *user) view(ctx context.Context, mailbox store.MailboxID) (store.View, error) {
	var v store.View
	m := new(mailboxRow)
	var los, his []int64
	err := u.s.pool.QueryRow(ctx, `SELECT `+mailboxCols+`,
		ARRAY(SELECT lo FROM uid_runs WHERE mailbox_id = mb.id ORDER BY lo),
		ARRAY(SELECT hi FROM uid_runs WHERE mailbox_id = mb.id ORDER BY lo)
		FROM mailboxes mb WHERE user_id = $1 AND id = $2`, u.id, int64(mailbox)).Scan(
		&m.ID, &m.Name, &m.Attr, &m.UIDValidity, &m.UIDNext, &m.ModSeq, &m.Messages,
		&m.Unseen, &m.Deleted, &m.Size, &m.LogCount, &m.LogFloor, &m.Keywords, &m.RecentFrom, &los, &his)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, u.missing(ctx, u.s.pool)
	}
	if err != nil {
		return v, err
	}
	if store.MailboxAttr(m.Attr)&store.AttrNoselect != 0 {
		return v, store.ErrNoselect
	}
	if v.UIDs, err = expandRuns(los, his, m.Messages); err != nil {
		return store.View{}, err
	}
	v.MailboxStatus = m.status()
	v.Keywords = m.Keywords
	if len(v.Keywords) == 0 {
		v.Keywords = nil
	}
	first := uint32(m.RecentFrom)
	v.Recent = uint32(len(v.UIDs) - sort.Search(len(v.UIDs), func(i int) bool { return v.UIDs[i] >= first }))
	return v, nil
}

// ClaimRecent implements store.MessageWriter. One UPDATE reads and
// advances the mailbox's first recent UID under the row lock, so that
// concurrent claims on any node take disjoint ranges; a claim that finds
// nothing to take changes no row. The claim commits asynchronously
// (synchronous_commit off for its transaction only).
func (u *user) ClaimRecent(ctx context.Context, mailbox store.MailboxID, upTo uint32) (uint32, error) {
	if err := u.s.enter(ctx); err != nil {
		return 0, err
	}
	defer u.s.leave()
	var first int64
	_, err := u.s.write(ctx, func(t *txn) error {
		m, err := u.selectable(ctx, t, mailbox, false)
		if err != nil {
			return err
		}
		if m.RecentFrom >= int64(upTo) {
			first = m.RecentFrom
			return nil
		}
		// Atomic and isolated like every commit, but not waiting for the
		// WAL flush: a claim lost in a crash makes its messages recent
		// once more, which RFC 3501 tolerates; giving them to two
		// sessions it does not, and the row lock prevents that.
		if _, err := t.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		err = t.QueryRow(ctx, `WITH old AS (
				SELECT recent_from FROM mailboxes WHERE id = $1 FOR UPDATE)
			UPDATE mailboxes SET recent_from = greatest(mailboxes.recent_from, $2)
			FROM old WHERE mailboxes.id = $1 RETURNING old.recent_from`, m.ID, int64(upTo)).Scan(&first)
		if errors.Is(err, pgx.ErrNoRows) {
			return u.missing(ctx, t)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return uint32(first), nil
}

// Fetch implements store.MessageReader.
func (u *user) Fetch(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	set := uids.Normalize()
	cols := `m.uid, m.size, m.internal_date, m.modseq, m.sys_flags, m.keywords, m.content_id, m.save_date, NULL::bytea`
	if opts.Structure {
		cols = `m.uid, m.size, m.internal_date, m.modseq, m.sys_flags, m.keywords, m.content_id, m.save_date, m.structure`
	}
	header, join := `NULL::bytea`, ``
	if opts.Header {
		// The header block, cut from the content in the same query
		// (SEARCH HEADER would otherwise read each body with a query of
		// its own): up to the first CRLF CRLF, or LF LF before it, as
		// store.HeaderLen.
		header = `substring(c.body FOR h2.n)`
		join = ` JOIN contents c ON c.id = m.content_id
		CROSS JOIN LATERAL (SELECT coalesce(nullif(position('\x0d0a0d0a'::bytea IN c.body), 0) + 3, length(c.body)) AS n) h1
		CROSS JOIN LATERAL (SELECT coalesce(nullif(position('\x0a0a'::bytea IN substring(c.body FOR h1.n)), 0) + 1, h1.n) AS n) h2`
	}
	// Wide ranges: the planner chooses between the primary key and
	// messages_modseq (with ChangedSince, a walk of the messages changed
	// since is the cheaper one when they are few).
	query := `SELECT ` + cols + `, ` + header + ` FROM unnest($2::bigint[], $3::bigint[]) AS r(a, b)
		CROSS JOIN LATERAL (SELECT * FROM messages WHERE mailbox_id = $1 AND uid BETWEEN r.a AND r.b
			AND modseq > $4 ORDER BY uid LIMIT $5) m` + join + `
		ORDER BY m.uid LIMIT $5`
	// Narrow ranges (a QRESYNC's changed messages, a FETCH chunk): each
	// range through the primary key, so the cost is O(ranges + UIDs)
	// whatever the statistics say. With statistics taken before the
	// changes, the planner believed messages_modseq to hold almost
	// nothing above ChangedSince and walked it once per range, discarding
	// every other changed message each time; so here the MODSEQ test is
	// written so that the index cannot serve it ("+ 0"), which leaves
	// the primary key as the only ordered path.
	narrow := `SELECT ` + cols + `, ` + header + ` FROM unnest($2::bigint[], $3::bigint[]) AS r(a, b)
		CROSS JOIN LATERAL (SELECT * FROM messages WHERE mailbox_id = $1 AND uid BETWEEN r.a AND r.b
			AND modseq + 0 > $4 ORDER BY uid LIMIT $5) m` + join + `
		ORDER BY m.uid LIMIT $5`
	buf := make([]store.Message, 0, readChunk)
	for len(set) > 0 {
		part, isNarrow := fetchPart(set)
		buf = buf[:0]
		err := func() error {
			if err := u.s.enter(ctx); err != nil {
				return err
			}
			defer u.s.leave()
			if _, err := u.selectable(ctx, u.s.pool, mailbox, false); err != nil {
				return err
			}
			q := query
			if isNarrow {
				q = narrow
			}
			starts, stops := rangeArrays(part)
			rows, err := u.s.pool.Query(ctx, q, int64(mailbox), starts, stops, int64(opts.ChangedSince), readChunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var uid, size, date, modseq, content int64
				var saved *int64
				var sys int16
				var kw string
				var st, hdr []byte
				if err := rows.Scan(&uid, &size, &date, &modseq, &sys, &kw, &content, &saved, &st, &hdr); err != nil {
					return err
				}
				msg := store.Message{
					UID: uint32(uid), Size: size, InternalDate: time.Unix(0, date),
					Flags: flagsOf(sys, kw).Strings(), ModSeq: uint64(modseq), ContentID: uint64(content), Structure: st,
					Header: hdr,
				}
				if saved != nil {
					msg.SaveDate = time.Unix(0, *saved)
				}
				buf = append(buf, msg)
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		for i := range buf {
			if err := fn(&buf[i]); err != nil {
				return err
			}
		}
		if len(buf) < readChunk {
			set = set[len(part):] // every range of part is exhausted
		} else {
			next := uint64(buf[len(buf)-1].UID) + 1
			for len(set) > 0 && uint64(set[0].Stop) < next {
				set = set[1:]
			}
			if len(set) > 0 && uint64(set[0].Start) < next {
				set = slices.Clone(set)
				set[0].Start = uint32(next)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// maxNarrowUIDs is the most UIDs that the ranges of a narrow Fetch
// query span together.
const maxNarrowUIDs = 2048

// fetchPart returns the ranges at the start of set that the next Fetch
// query reads, at most maxRangesPerQuery. They are narrow when they span
// at most maxNarrowUIDs UIDs together: the first ranges that do;
// otherwise the part starts with a wider range.
func fetchPart(set store.UIDSet) (part store.UIDSet, narrow bool) {
	var width uint64
	n := 0
	for ; n < min(len(set), maxRangesPerQuery); n++ {
		w := uint64(set[n].Stop) - uint64(set[n].Start) + 1
		if width+w > maxNarrowUIDs {
			break
		}
		width += w
	}
	if n == 0 {
		return set[:min(len(set), maxRangesPerQuery)], false
	}
	return set[:n], true
}

// SearchFlags implements store.FlagSearcher with one query, whose
// conditions are written as the predicates of the partial flag indexes
// (migration 0006) so that the planner can use them: a flag set, or
// \Seen unset, reads only the matching index entries; the other
// conditions filter the mailbox's rows in the database.
func (u *user) SearchFlags(ctx context.Context, mailbox store.MailboxID, q store.FlagQuery) ([]uint32, []uint64, error) {
	if err := q.Validate(); err != nil {
		return nil, nil, err
	}
	if err := u.s.enter(ctx); err != nil {
		return nil, nil, err
	}
	defer u.s.leave()
	if _, err := u.selectable(ctx, u.s.pool, mailbox, false); err != nil {
		return nil, nil, err
	}
	query, args := flagQuerySQL(int64(mailbox), q)
	rows, err := u.s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var uids []uint32
	var modseqs []uint64
	for rows.Next() {
		var uid, modseq int64
		if err := rows.Scan(&uid, &modseq); err != nil {
			return nil, nil, err
		}
		uids = append(uids, uint32(uid))
		modseqs = append(modseqs, uint64(modseq))
	}
	return uids, modseqs, rows.Err()
}

// flagQuerySQL returns the query of SearchFlags and its arguments.
func flagQuerySQL(mailbox int64, q store.FlagQuery) (string, []any) {
	query, args := flagMatchSQL(mailbox, q)
	return query + ` ORDER BY uid`, args
}

// firstFlagSQL returns the query of FirstFlagMatch and its arguments:
// on a partial flag index, ordered by UID, it reads one index entry.
func firstFlagSQL(mailbox int64, q store.FlagQuery, from, to uint32) (string, []any) {
	query, args := flagMatchSQL(mailbox, q)
	args = append(args, int64(from), int64(to))
	return fmt.Sprintf(`%s AND uid BETWEEN $%d AND $%d ORDER BY uid LIMIT 1`, query, len(args)-1, len(args)), args
}

// flagMatchSQL returns a query of the UIDs and MODSEQs of the messages
// of a mailbox that match q, and its arguments. The flag bits are
// literals (a parameter would keep the planner from proving that a
// partial index applies); keywords are parameters, as the keys of the
// messages_keywords index.
func flagMatchSQL(mailbox int64, q store.FlagQuery) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT uid, modseq FROM messages WHERE mailbox_id = $1`)
	for bit := store.FlagSeen; bit <= store.FlagDraft; bit <<= 1 {
		if q.Set.System&bit != 0 {
			fmt.Fprintf(&b, ` AND sys_flags & %d <> 0`, bit)
		}
		if q.Unset.System&bit != 0 {
			fmt.Fprintf(&b, ` AND sys_flags & %d = 0`, bit)
		}
	}
	args := []any{mailbox}
	keys := func(kws []string) []string {
		out := make([]string, len(kws))
		for i, k := range kws {
			out[i] = fmt.Sprintf("%d %s", mailbox, strings.ToLower(k))
		}
		return out
	}
	if len(q.Set.Keywords) > 0 {
		args = append(args, keys(q.Set.Keywords))
		fmt.Fprintf(&b, ` AND keywords <> '' AND message_keyword_keys(mailbox_id, keywords) @> $%d::text[]`, len(args))
	}
	if len(q.Unset.Keywords) > 0 {
		args = append(args, keys(q.Unset.Keywords))
		fmt.Fprintf(&b, ` AND NOT (keywords <> '' AND message_keyword_keys(mailbox_id, keywords) && $%d::text[])`, len(args))
	}
	return b.String(), args
}

// FirstFlagMatch implements store.FirstFlagMatcher with one query, on
// the partial flag index of its conditions where there is one (\Seen
// unset, for the UNSEEN response code): O(log n).
func (u *user) FirstFlagMatch(ctx context.Context, mailbox store.MailboxID, q store.FlagQuery, from, to uint32) (uint32, error) {
	if err := q.Validate(); err != nil {
		return 0, err
	}
	if err := u.s.enter(ctx); err != nil {
		return 0, err
	}
	defer u.s.leave()
	if _, err := u.selectable(ctx, u.s.pool, mailbox, false); err != nil {
		return 0, err
	}
	query, args := firstFlagSQL(int64(mailbox), q, from, to)
	var uid, modseq int64
	err := u.s.pool.QueryRow(ctx, query, args...).Scan(&uid, &modseq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return uint32(uid), nil
}

// body is a message content held in memory.
type body struct {
	*bytes.Reader
}

func (b body) Close() error { return nil }

// OpenBody implements store.MessageReader. The content is read whole; the
// returned Body holds it in memory (see the package doc on sizes).
func (u *user) OpenBody(ctx context.Context, mailbox store.MailboxID, uid uint32) (store.Body, error) {
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	if _, err := u.selectable(ctx, u.s.pool, mailbox, false); err != nil {
		return nil, err
	}
	var data []byte
	err := u.s.pool.QueryRow(ctx, `SELECT c.body FROM messages m JOIN contents c ON c.id = m.content_id
		WHERE m.mailbox_id = $1 AND m.uid = $2`, int64(mailbox), int64(uid)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoSuchMessage
	}
	if err != nil {
		return nil, err
	}
	return body{bytes.NewReader(data)}, nil
}

// ChangesSince implements store.MessageReader.
func (u *user) ChangesSince(ctx context.Context, mailbox store.MailboxID, modseq uint64, fn func(store.Change) error) error {
	from := int64(modseq)
	first := true
	buf := make([]store.Change, 0, readChunk)
	for {
		buf = buf[:0]
		err := func() error {
			if err := u.s.enter(ctx); err != nil {
				return err
			}
			defer u.s.leave()
			m, err := u.selectable(ctx, u.s.pool, mailbox, false)
			if err != nil {
				return err
			}
			if first && modseq < uint64(m.LogFloor) {
				return store.ErrChangesTruncated
			}
			rows, err := u.s.pool.Query(ctx, `SELECT modseq, kind, uid_starts, uid_stops FROM changes
				WHERE mailbox_id = $1 AND modseq > $2 ORDER BY modseq LIMIT $3`, int64(mailbox), from, readChunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var ms int64
				var kind int16
				var starts, stops []int64
				if err := rows.Scan(&ms, &kind, &starts, &stops); err != nil {
					return err
				}
				if len(starts) != len(stops) {
					return fmt.Errorf("pgstore: corrupt change log entry %d of mailbox %d", ms, mailbox)
				}
				c := store.Change{ModSeq: uint64(ms), Kind: store.ChangeKind(kind), UIDs: make(store.UIDSet, len(starts))}
				for i := range starts {
					c.UIDs[i] = store.UIDRange{Start: uint32(starts[i]), Stop: uint32(stops[i])}
				}
				buf = append(buf, c)
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		first = false
		for _, c := range buf {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(buf) < readChunk {
			return nil
		}
		from = int64(buf[len(buf)-1].ModSeq)
	}
}

// selectRanges returns the messages of a mailbox in set as rows for fn.
func selectRanges(ctx context.Context, t *txn, mailbox int64, set store.UIDSet, cols string, fn func(pgx.Rows) error) error {
	starts, stops := rangeArrays(set)
	rows, err := t.Query(ctx, `SELECT `+cols+` FROM messages m
		JOIN unnest($2::bigint[], $3::bigint[]) AS r(a, b) ON m.uid BETWEEN r.a AND r.b
		WHERE m.mailbox_id = $1 ORDER BY m.uid`, mailbox, starts, stops)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StoreFlags implements store.MessageWriter.
func (u *user) StoreFlags(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, req store.FlagChange) (store.StoreResult, error) {
	change, err := store.ParseFlags(req.Flags)
	if err != nil {
		return store.StoreResult{}, err
	}
	set := uids.Normalize()
	if err := u.s.enter(ctx); err != nil {
		return store.StoreResult{}, err
	}
	defer u.s.leave()
	var res store.StoreResult
	_, err = u.s.write(ctx, func(t *txn) error {
		res = store.StoreResult{}
		m, err := u.selectable(ctx, t, mailbox, true)
		if err != nil {
			return err
		}
		fs := backend.NewFlagStore(req, change)
		bump := func() uint64 { m.ModSeq++; return uint64(m.ModSeq) }
		var chUIDs []int64
		var chSys []int16
		var chKw []string
		err = selectRanges(ctx, t, m.ID, set, `m.uid, m.modseq, m.sys_flags, m.keywords, m.size`, func(rows pgx.Rows) error {
			var uid, modseq, size int64
			var sys int16
			var kw string
			if err := rows.Scan(&uid, &modseq, &sys, &kw, &size); err != nil {
				return err
			}
			old := flagsOf(sys, kw)
			nf, changed := fs.Apply(uint32(uid), uint64(modseq), old, bump)
			if !changed {
				return nil
			}
			if err := m.addKeywords(nf.Keywords, u.s.opts.MaxKeywords); err != nil {
				return err
			}
			m.account(old, size, -1)
			m.account(nf, size, 1)
			chUIDs = append(chUIDs, uid)
			chSys = append(chSys, int16(nf.System))
			chKw = append(chKw, encodeKeywords(nf.Keywords))
			return nil
		})
		if err != nil {
			return err
		}
		res = fs.Result()
		if len(fs.Changed()) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE messages m SET sys_flags = c.sys, keywords = c.kw, modseq = $2
			FROM unnest($3::bigint[], $4::smallint[], $5::text[]) AS c(uid, sys, kw)
			WHERE m.mailbox_id = $1 AND m.uid = c.uid`, m.ID, m.ModSeq, chUIDs, chSys, chKw)
		u.queueLog(b, m, store.ChangeFlags, backend.Ranges(fs.Changed()))
		queueSave(b, m)
		t.notify(store.Notification{User: u.name, Mailbox: mailbox, HighestModSeq: res.ModSeq})
		return t.sendBatch(ctx, b)
	})
	if err != nil {
		return store.StoreResult{}, err
	}
	return res, nil
}

// Expunge implements store.MessageWriter.
func (u *user) Expunge(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet) ([]uint32, error) {
	set := backend.ExpungeSet(uids)
	if err := u.s.enter(ctx); err != nil {
		return nil, err
	}
	defer u.s.leave()
	var out []uint32
	_, err := u.s.write(ctx, func(t *txn) error {
		out = nil
		m, err := u.selectable(ctx, t, mailbox, true)
		if err != nil {
			return err
		}
		if len(set) == 0 {
			return nil
		}
		starts, stops := rangeArrays(set)
		rows, err := t.Query(ctx, `DELETE FROM messages m USING unnest($2::bigint[], $3::bigint[]) AS r(a, b)
			WHERE m.mailbox_id = $1 AND m.sys_flags & 8 <> 0 AND m.uid BETWEEN r.a AND r.b
			RETURNING m.uid, m.size, m.sys_flags, m.content_id`, m.ID, starts, stops)
		if err != nil {
			return err
		}
		var contents []int64
		for rows.Next() {
			var uid, size, content int64
			var sys int16
			if err := rows.Scan(&uid, &size, &sys, &content); err != nil {
				rows.Close()
				return err
			}
			m.account(store.FlagSet{System: store.SystemFlag(sys)}, size, -1)
			out = append(out, uint32(uid))
			contents = append(contents, content)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		slices.Sort(out)
		m.ModSeq++
		b := &pgx.Batch{}
		gone := backend.Ranges(out)
		queueRunsRemove(b, m.ID, gone)
		u.queueLog(b, m, store.ChangeExpunge, gone)
		queueSave(b, m)
		t.notify(store.Notification{User: u.name, Mailbox: mailbox, HighestModSeq: uint64(m.ModSeq)})
		if err := t.sendBatch(ctx, b); err != nil {
			return err
		}
		return deleteOrphans(ctx, t, contents)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// transfer copies (or moves) the messages of src in uids to dst within t.
// Both mailbox rows must be locked by t; src and dst may be the same row.
// The destination shares the source's content rows.
//
// A copy (not a move) is checked against q, the account's limits read by
// lockQuota before the rows were locked.
func (u *user) transfer(ctx context.Context, t *txn, src *mailboxRow, uids store.UIDSet, dst *mailboxRow, move bool, q store.Quota) (store.CopyResult, error) {
	var res store.CopyResult
	if dst.ID == src.ID {
		dst = src
	}
	res.DestID, res.DestUIDValidity = store.MailboxID(dst.ID), uint32(dst.UIDValidity)
	type srcMsg struct {
		flags store.FlagSet
		size  int64
	}
	var msgs []srcMsg
	err := selectRanges(ctx, t, src.ID, uids.Normalize(), `m.uid, m.sys_flags, m.keywords, m.size`, func(rows pgx.Rows) error {
		var uid, size int64
		var sys int16
		var kw string
		if err := rows.Scan(&uid, &sys, &kw, &size); err != nil {
			return err
		}
		res.SourceUIDs = append(res.SourceUIDs, uint32(uid))
		msgs = append(msgs, srcMsg{flagsOf(sys, kw), size})
		return nil
	})
	if err != nil || len(msgs) == 0 {
		return res, err
	}
	if !move {
		var bytes int64
		for _, sm := range msgs {
			bytes += sm.size
		}
		if err := u.checkQuota(ctx, t, q, int64(len(msgs)), bytes); err != nil {
			return res, err
		}
	}
	if dst.UIDNext+int64(len(msgs)) > math.MaxUint32 {
		return res, store.ErrLimit // UID space exhausted; UIDs are never reused
	}
	dst.ModSeq++
	dstMod := dst.ModSeq
	for _, sm := range msgs {
		if err := dst.addKeywords(sm.flags.Keywords, u.s.opts.MaxKeywords); err != nil {
			return res, err
		}
		res.DestUIDs = append(res.DestUIDs, uint32(dst.UIDNext))
		dst.UIDNext++
		dst.account(sm.flags, sm.size, 1)
	}
	olds, news := toInt64s(res.SourceUIDs), toInt64s(res.DestUIDs)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO messages (mailbox_id, uid, content_id, size, internal_date, modseq, sys_flags, keywords, structure, save_date)
		SELECT $1, r.nu, m.content_id, m.size, m.internal_date, $2, m.sys_flags, m.keywords, m.structure, $6
		FROM unnest($4::bigint[], $5::bigint[]) AS r(ou, nu) JOIN messages m ON m.mailbox_id = $3 AND m.uid = r.ou`,
		dst.ID, dstMod, src.ID, olds, news, time.Now().UnixNano())
	queueRunsAdd(b, dst.ID, news[0], news[len(news)-1])
	// With src == dst the append is logged at dstMod and the expunge of
	// the originals at the next MODSEQ.
	u.queueLog(b, dst, store.ChangeAppend, backend.Ranges(res.DestUIDs))
	if move {
		b.Queue(`DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`, src.ID, olds)
		queueRunsRemove(b, src.ID, backend.Ranges(res.SourceUIDs))
		for _, sm := range msgs {
			src.account(sm.flags, sm.size, -1)
		}
		src.ModSeq++
		u.queueLog(b, src, store.ChangeExpunge, backend.Ranges(res.SourceUIDs))
		t.notify(store.Notification{User: u.name, Mailbox: store.MailboxID(src.ID), HighestModSeq: uint64(src.ModSeq)})
	}
	queueSave(b, dst)
	if move && dst != src {
		queueSave(b, src)
	}
	if dst != src || !move {
		t.notify(store.Notification{User: u.name, Mailbox: store.MailboxID(dst.ID), HighestModSeq: uint64(dst.ModSeq)})
	}
	return res, t.sendBatch(ctx, b)
}

func (u *user) copyOrMove(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string, move bool) (store.CopyResult, error) {
	dest, err := u.normalize(dest)
	if err != nil {
		return store.CopyResult{}, err
	}
	if err := u.s.enter(ctx); err != nil {
		return store.CopyResult{}, err
	}
	defer u.s.leave()
	var res store.CopyResult
	_, err = u.s.write(ctx, func(t *txn) error {
		res = store.CopyResult{}
		var q store.Quota
		if !move {
			// The account row first, as hierarchy changes lock it.
			var err error
			if q, err = u.lockQuota(ctx, t); err != nil {
				return err
			}
		}
		src, dst, err := u.lockSourceAndTarget(ctx, t, mailbox, dest)
		if err != nil {
			return err
		}
		if dst.Name != dest {
			return store.ErrNoSuchMailbox // renamed meanwhile
		}
		res, err = u.transfer(ctx, t, src, uids, dst, move, q)
		return err
	})
	if err != nil {
		return store.CopyResult{}, err
	}
	return res, nil
}

// Copy implements store.MessageWriter.
func (u *user) Copy(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string) (store.CopyResult, error) {
	return u.copyOrMove(ctx, mailbox, uids, dest, false)
}

// Move implements store.MessageWriter.
func (u *user) Move(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, dest string) (store.CopyResult, error) {
	return u.copyOrMove(ctx, mailbox, uids, dest, true)
}

// lockSourceAndTarget locks the rows of the selected mailbox and of the
// mailbox named dest, in ID order so that two opposite transfers cannot
// deadlock, and returns both (the same row when they are one mailbox).
func (u *user) lockSourceAndTarget(ctx context.Context, t *txn, mailbox store.MailboxID, dest string) (src, dst *mailboxRow, err error) {
	if _, err := u.selectable(ctx, t, mailbox, false); err != nil {
		return nil, nil, err
	}
	d, err := u.mailboxByName(ctx, t, dest, false)
	if err != nil {
		return nil, nil, err
	}
	first, second := int64(mailbox), d.ID
	if second < first {
		first, second = second, first
	}
	locked := map[int64]*mailboxRow{}
	for _, id := range []int64{first, second} {
		if locked[id] != nil {
			continue
		}
		if locked[id], err = u.selectable(ctx, t, store.MailboxID(id), true); err != nil {
			return nil, nil, err
		}
	}
	return locked[int64(mailbox)], locked[d.ID], nil
}
