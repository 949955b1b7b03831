package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imapfsm/imapfsm/server/store"
)

// payload is the NOTIFY payload of one committed change. Node identifies
// the sending Store, which has already published the change locally.
type payload struct {
	Node    string `json:"n"`
	User    string `json:"u"`
	Mailbox uint64 `json:"m"`
	ModSeq  uint64 `json:"s"`
	// Event, Name and OldName carry an account event.
	Event   uint8  `json:"e,omitempty"`
	Name    string `json:"nm,omitempty"`
	OldName string `json:"on,omitempty"`
	Entry   string `json:"en,omitempty"`
	// Origin is the change's store.Origin (0: unknown).
	Origin uint64 `json:"o,omitempty"`
}

// encodePayload returns the JSON payload; user names are at most 255 bytes,
// far below NOTIFY's 8000-byte limit.
func encodePayload(node string, n store.Notification) string {
	b, _ := json.Marshal(payload{Node: node, User: n.User, Mailbox: uint64(n.Mailbox), ModSeq: n.HighestModSeq,
		Event: uint8(n.Event), Name: n.Name, OldName: n.OldName, Entry: n.Entry, Origin: uint64(n.Origin)})
	return string(b)
}

// notification is the notification p carries, as the sending node
// published it.
func (p payload) notification() store.Notification {
	return store.Notification{User: p.User, Mailbox: store.MailboxID(p.Mailbox), HighestModSeq: p.ModSeq,
		Event: store.MailboxEvent(p.Event), Name: p.Name, OldName: p.OldName, Entry: p.Entry, Origin: store.Origin(p.Origin)}
}

func decodePayload(s string) (payload, error) {
	var p payload
	err := json.Unmarshal([]byte(s), &p)
	return p, err
}

// trackingNotifier wraps the configured notifier and remembers which
// mailboxes have local subscribers, so that after the listener lost its
// connection (and possibly notifications) every such subscriber can be
// told to catch up from the change log.
type trackingNotifier struct {
	inner store.Notifier
	mu    sync.Mutex
	subs  map[watchKey]int
}

type watchKey struct {
	user    string
	mailbox store.MailboxID
}

func newTrackingNotifier(inner store.Notifier) *trackingNotifier {
	return &trackingNotifier{inner: inner, subs: map[watchKey]int{}}
}

// Subscribe implements store.Notifier.
func (n *trackingNotifier) Subscribe(user string, mailbox store.MailboxID) (<-chan store.Notification, func()) {
	k := watchKey{user, mailbox}
	n.mu.Lock()
	n.subs[k]++
	n.mu.Unlock()
	ch, cancel := n.inner.Subscribe(user, mailbox)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			n.mu.Lock()
			if n.subs[k]--; n.subs[k] <= 0 {
				delete(n.subs, k)
			}
			n.mu.Unlock()
		})
	}
}

// SubscribeFunc registers fn for the notifications of one mailbox (or,
// with store.AccountEvents, of the whole account). The wrapped notifier
// calls fn itself when it can (store.LocalNotifier does); otherwise a
// goroutine calls it from a Subscribe channel.
func (n *trackingNotifier) SubscribeFunc(user string, mailbox store.MailboxID, fn func(store.Notification)) (cancel func()) {
	fnn, ok := n.inner.(interface {
		SubscribeFunc(string, store.MailboxID, func(store.Notification)) func()
	})
	if !ok {
		// Deliver from a channel instead; coalescing may merge
		// notifications of one mailbox, as Subscribe documents.
		ch, cancelSub := n.Subscribe(user, mailbox)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case note := <-ch:
					fn(note)
				case <-done:
					return
				}
			}
		}()
		var once sync.Once
		return func() { once.Do(func() { cancelSub(); close(done) }) }
	}
	k := watchKey{user, mailbox}
	n.mu.Lock()
	n.subs[k]++
	n.mu.Unlock()
	inner := fnn.SubscribeFunc(user, mailbox, fn)
	var once sync.Once
	return func() {
		once.Do(func() {
			inner()
			n.mu.Lock()
			if n.subs[k]--; n.subs[k] <= 0 {
				delete(n.subs, k)
			}
			n.mu.Unlock()
		})
	}
}

// Publish implements store.Notifier.
func (n *trackingNotifier) Publish(note store.Notification) { n.inner.Publish(note) }

func (n *trackingNotifier) watched() []watchKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]watchKey, 0, len(n.subs))
	for k := range n.subs {
		out = append(out, k)
	}
	return out
}

// listener holds one dedicated connection (outside the pool) in LISTEN on
// the change channel and republishes other nodes' changes on the local
// notifier. It reconnects with jittered exponential backoff; after every
// reconnect it publishes the current HIGHESTMODSEQ of each mailbox that
// has local subscribers, because notifications sent while it was away are
// lost (sessions then catch up from the change log).
type listener struct {
	s      *Store
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{}

	connects atomic.Int64 // successful (re)connections, for tests
	pid      atomic.Uint32
	ready    chan struct{} // closed after the first LISTEN succeeded
}

func newListener(s *Store, cfg *pgx.ConnConfig) *listener {
	return &listener{s: s, cfg: cfg, done: make(chan struct{}), ready: make(chan struct{})}
}

// start runs the listener and waits until it listens, so that no change
// committed after Open returns can be missed.
func (l *listener) start(ctx context.Context) error {
	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	conn, err := l.connect(ctx)
	if err != nil {
		cancel()
		return err
	}
	close(l.ready)
	go l.run(lctx, conn)
	return nil
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: listener connect: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{l.s.opts.Channel}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("pgstore: LISTEN %s: %w", l.s.opts.Channel, err)
	}
	l.pid.Store(conn.PgConn().PID())
	l.connects.Add(1)
	return conn, nil
}

func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	log := l.s.opts.Logger
	backoff := l.s.opts.ReconnectMin
	for {
		err := l.receive(ctx, conn)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		log.Warn("pgstore: change listener lost its connection; reconnecting", "err", err, "channel", l.s.opts.Channel)
		for {
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			conn, err = l.connect(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			backoff = min(backoff*2, l.s.opts.ReconnectMax)
			log.Warn("pgstore: change listener reconnect failed", "err", err, "next_attempt_within", backoff)
		}
		backoff = l.s.opts.ReconnectMin
		log.Info("pgstore: change listener reconnected", "channel", l.s.opts.Channel)
		if err := l.resync(ctx, conn); err != nil && ctx.Err() == nil {
			log.Warn("pgstore: resynchronising subscribers after reconnect failed", "err", err)
		}
	}
}

// receive republishes notifications until the connection fails or ctx ends.
func (l *listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		p, err := decodePayload(n.Payload)
		if err != nil {
			l.s.opts.Logger.Warn("pgstore: ignoring malformed change notification", "payload", n.Payload, "err", err)
			continue
		}
		if p.Node == l.s.node {
			continue // published locally at commit
		}
		l.s.notifier.Publish(p.notification())
	}
}

// resync publishes the current state of every locally watched mailbox.
func (l *listener) resync(ctx context.Context, conn *pgx.Conn) error {
	keys := l.s.notifier.watched()
	if len(keys) == 0 {
		return nil
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = int64(k.mailbox)
	}
	rows, err := conn.Query(ctx, `SELECT m.id, u.name, m.highest_modseq FROM mailboxes m
		JOIN users u ON u.id = m.user_id WHERE m.id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	current := map[watchKey]uint64{}
	for rows.Next() {
		var id, modseq int64
		var name string
		if err := rows.Scan(&id, &name, &modseq); err != nil {
			rows.Close()
			return err
		}
		current[watchKey{name, store.MailboxID(id)}] = uint64(modseq)
	}
	rows.Close()
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	for _, k := range keys {
		// A mailbox that is gone is announced with HIGHESTMODSEQ 0, as a
		// deletion is.
		l.s.notifier.Publish(store.Notification{User: k.user, Mailbox: k.mailbox, HighestModSeq: current[k]})
	}
	return nil
}
