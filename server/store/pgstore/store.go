package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/internal/backend"
	"github.com/imapfsm/imapfsm/server/store/password"
)

// Defaults of [Options]. The limits both stores share are store's.
const (
	DefaultMaxMessageSize = store.DefaultMaxMessageSize
	DefaultMaxChangeLog   = store.DefaultMaxChangeLog
	DefaultMaxKeywords    = store.DefaultMaxKeywords
	DefaultChannel        = "imapfsm_changes"
)

// ErrSchemaTooNew is returned by [Open] when the database was migrated by a
// newer program than this one.
var ErrSchemaTooNew = errors.New("pgstore: database schema is newer than this program")

// Options configures a [Store]: the settings shared with the other bundled
// store, and PostgreSQL's own. The zero value selects the defaults. The
// shared Notifier receives every committed change of every node; message
// bodies (at most MaxMessageSize) are buffered in memory on their way to
// and from the database; the AuthCache is this node's.
type Options struct {
	store.Options
	// Schema, if set, is the PostgreSQL schema holding the tables; it is
	// created if missing and put first on every connection's search_path.
	// Empty uses the connection's search_path (normally "public").
	Schema string
	// Channel is the LISTEN/NOTIFY channel of change notifications. Every
	// node of one installation must use the same channel; installations
	// sharing a database in different schemas must use different ones.
	// Default: DefaultChannel, or DefaultChannel + "_" + Schema, or, when
	// Schema is empty and the URL sets search_path, DefaultChannel + "_" +
	// the first schema of that path (other than public).
	Channel string
	// MaxConns bounds the connection pool (default: pgxpool's, 4 or the
	// number of CPUs, whichever is larger; also settable as pool_max_conns
	// in the URL). The listener uses one more connection.
	MaxConns int32
	// Logger receives listener state changes and store repairs; nil uses
	// slog.Default().
	Logger *slog.Logger
	// ReconnectMin and ReconnectMax bound the listener's reconnect backoff
	// (defaults 100ms and 10s).
	ReconnectMin, ReconnectMax time.Duration
}

func (o *Options) setDefaults() {
	o.Options.SetDefaults()
	if o.Channel == "" {
		o.Channel = DefaultChannel
		if o.Schema != "" {
			o.Channel += "_" + o.Schema
		}
		if len(o.Channel) > 63 {
			o.Channel = o.Channel[:63]
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 100 * time.Millisecond
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 10 * time.Second
	}
}

// Store is the PostgreSQL-backed [store.Store]. Any number of Stores (one
// per node) may share one database. It is safe for concurrent use.
type Store struct {
	opts     Options
	pool     *pgxpool.Pool
	hasher   *password.Hasher
	notifier *trackingNotifier
	node     string // random ID of this instance, to skip own notifications
	listen   *listener
	repairs  atomic.Int64 // UID runs rebuilt by View (see rebuildRuns)

	gate backend.Gate // admits operations until Close
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string), creates or migrates the schema, and starts the
// change listener. It fails with [ErrSchemaTooNew] if the database schema is
// newer than this program knows.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	channelGiven := opts.Channel != ""
	opts.setDefaults()
	hasher, err := password.NewWithCache(opts.BcryptCost, opts.AuthCache)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	} else if sp := cfg.ConnConfig.RuntimeParams["search_path"]; sp != "" && !channelGiven {
		// Installations told apart by a search_path in the URL get a
		// channel of their own too, as with Options.Schema.
		first, _, _ := strings.Cut(sp, ",")
		if first = strings.Trim(strings.TrimSpace(first), `"`); first != "" && first != "public" {
			opts.Channel = DefaultChannel + "_" + first
			if len(opts.Channel) > 63 {
				opts.Channel = opts.Channel[:63]
			}
		}
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		// The store's queries are index reads of a few hundred rows,
		// which JIT compilation (10-30 ms) never pays for; the planner
		// turns it on whenever its estimate of a many-range read is
		// high. A jit parameter in the URL is kept.
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	from, to, err := migrate(ctx, conn, opts.Schema, ms)
	_ = conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	if from != to {
		opts.Logger.Info("pgstore: schema migrated", "from", from, "to", to, "schema", opts.Schema)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &Store{
		opts: opts, pool: pool, hasher: hasher,
		notifier: newTrackingNotifier(opts.Notifier),
		node:     hex.EncodeToString(id[:]),
	}
	s.listen = newListener(s, cfg.ConnConfig.Copy())
	if err := s.listen.start(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close implements store.Store. It waits for running operations, stops the
// listener and closes the connections.
func (s *Store) Close() error {
	return s.gate.Close(func() error {
		s.listen.stop()
		s.pool.Close()
		return nil
	})
}

// Notifier implements store.Store. Subscribers see changes committed by
// any node sharing the database.
func (s *Store) Notifier() store.Notifier { return s.notifier }

// enter admits an operation; the caller must call leave when done.
func (s *Store) enter(ctx context.Context) error { return s.gate.Enter(ctx) }

func (s *Store) leave() { s.gate.Leave() }

// maxTxAttempts bounds the retries of a transaction that failed with a
// deadlock or serialisation failure.
const maxTxAttempts = 8

// retryable reports whether err is a transient conflict after which the
// whole transaction may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// isCode reports whether err is a PostgreSQL error with SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// write runs fn in a read-committed transaction and commits it; it retries
// the whole transaction on deadlock. fn must reset its result variables
// because it may run more than once. Notifications queued on the
// transaction with notify are delivered to other nodes at commit; notes are
// published locally only after a successful commit.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) ([]store.Notification, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var notes []store.Notification
		err = pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error {
			t := &txn{Tx: ptx, s: s, origin: store.OriginOf(ctx)}
			if err := fn(t); err != nil {
				return err
			}
			notes = t.notes
			return t.flushNotify(ctx)
		})
		if err == nil {
			for _, n := range notes {
				s.notifier.Publish(n)
			}
			return notes, nil
		}
		if !retryable(err) || attempt == maxTxAttempts {
			return nil, err
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
}

// txn is a write transaction with its pending notifications.
type txn struct {
	pgx.Tx
	s       *Store
	notes   []store.Notification
	flushed int // notes[:flushed] were already sent with NOTIFY
	// origin stamps the notes: the Origin of the write's context.
	origin store.Origin
}

// announce publishes a notification of a change committed outside a
// transaction, locally and to the other nodes.
func (s *Store) announce(ctx context.Context, n store.Notification) error {
	n.Origin = store.OriginOf(ctx)
	s.notifier.Publish(n)
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.opts.Channel, encodePayload(s.node, n))
	return err
}

// notify records a change to announce at commit (locally and, through
// NOTIFY, to every other node), with the transaction's origin.
func (t *txn) notify(n store.Notification) {
	n.Origin = t.origin
	t.notes = append(t.notes, n)
}

func (t *txn) flushNotify(ctx context.Context) error {
	if len(t.notes) == t.flushed {
		return nil
	}
	var payloads []string
	for _, n := range t.notes[t.flushed:] {
		payloads = append(payloads, encodePayload(t.s.node, n))
	}
	t.flushed = len(t.notes)
	_, err := t.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, t.s.opts.Channel, payloads)
	return err
}

// nextUIDValidity allocates a UIDVALIDITY strictly greater than any before,
// normally the current Unix time. The single allocator row is locked until
// commit, which serialises mailbox creation across nodes (a rare event).
func (t *txn) nextUIDValidity(ctx context.Context) (uint32, error) {
	var v int64
	err := t.QueryRow(ctx, `UPDATE uidvalidity SET last = greatest(last + 1, extract(epoch FROM clock_timestamp())::bigint) RETURNING last`).Scan(&v)
	if err != nil {
		return 0, err
	}
	if v <= 0 || v >= 1<<32 {
		return 0, store.ErrLimit
	}
	return uint32(v), nil
}

// CreateUser implements store.Accounts.
func (s *Store) CreateUser(ctx context.Context, name, pw string) error {
	hash, err := backend.NewAccountHash(s.hasher, name, pw)
	if err != nil {
		return err
	}
	return s.createUser(ctx, name, hash)
}

// CreateUserWithHash implements store.Accounts.
func (s *Store) CreateUserWithHash(ctx context.Context, name, hash string) error {
	if err := backend.CheckImportedAccount(name, hash); err != nil {
		return err
	}
	return s.createUser(ctx, name, hash)
}

func (s *Store) createUser(ctx context.Context, name, hash string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	_, err := s.write(ctx, func(t *txn) error {
		var id int64
		err := t.QueryRow(ctx, `INSERT INTO users (name, hash) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id`, name, hash).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrUserExists
		}
		if err != nil {
			return err
		}
		u := &user{s: s, name: name, id: id}
		for _, d := range store.DefaultMailboxes() {
			if _, err := u.createOne(ctx, t, d.Name, d.Attr); err != nil {
				return err
			}
			if _, err := t.Exec(ctx, `INSERT INTO subscriptions (user_id, name) VALUES ($1, $2)`, id, d.Name); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// SetPassword implements store.Accounts.
func (s *Store) SetPassword(ctx context.Context, name, pw string) error {
	hash, err := backend.HashPassword(s.hasher, pw)
	if err != nil {
		return err
	}
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET hash = $2 WHERE name = $1`, name, hash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNoSuchUser
	}
	return nil
}

// DeleteUser implements store.Accounts. Mailboxes, messages and the change
// log go with the account (ON DELETE CASCADE); contents no other message
// references are deleted in the same transaction.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	_, err := s.write(ctx, func(t *txn) error {
		var id int64
		err := t.QueryRow(ctx, `SELECT id FROM users WHERE name = $1 FOR UPDATE`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNoSuchUser
		}
		if err != nil {
			return err
		}
		var boxes []int64
		rows, err := t.Query(ctx, `SELECT id FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if boxes, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		rows, err = t.Query(ctx, `DELETE FROM messages WHERE mailbox_id = ANY($1) RETURNING content_id`, boxes)
		if err != nil {
			return err
		}
		contents, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if _, err := t.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		if err := deleteOrphans(ctx, t, contents); err != nil {
			return err
		}
		for _, b := range boxes {
			t.notify(store.Notification{User: name, Mailbox: store.MailboxID(b)})
		}
		return nil
	})
	return err
}

// ListUsers implements store.Accounts.
func (s *Store) ListUsers(ctx context.Context) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, `SELECT name FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *Store) lookupUser(ctx context.Context, name string) (id int64, hash string, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT id, hash FROM users WHERE name = $1`, name).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	return id, hash, err == nil, err
}

// Authenticate implements store.Accounts.
func (s *Store) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	id, hash, found, err := s.lookupUser(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := backend.CheckLogin(s.hasher, hash, found, pw); err != nil {
		return nil, err
	}
	return &user{s: s, name: name, id: id}, nil
}

// OpenUser implements store.Store.
func (s *Store) OpenUser(ctx context.Context, name string) (store.User, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	id, _, found, err := s.lookupUser(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNoSuchUser
	}
	return &user{s: s, name: name, id: id}, nil
}

// deleteOrphans deletes the contents among ids that no message references
// any more. The content rows are locked first (in ID order), so that two
// transactions dropping the last two references of one content cannot both
// see the other's reference and leave the content behind.
func deleteOrphans(ctx context.Context, t *txn, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := t.Exec(ctx, `SELECT 1 FROM contents WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
		return err
	}
	_, err := t.Exec(ctx, `DELETE FROM contents c WHERE c.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.content_id = c.id)`, ids)
	return err
}
