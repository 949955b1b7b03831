package store

import "sync"

// LocalNotifier is the in-process [Notifier]. Each subscription owns a
// one-slot channel; Publish replaces an undelivered notification by the newer
// one (keeping the larger HIGHESTMODSEQ, and the Origin only when both had
// the same), so a slow subscriber never blocks a writer and never receives
// a stale value after a fresh one.
// The zero value is not usable; call [NewLocalNotifier].
type LocalNotifier struct {
	mu   sync.Mutex
	subs map[subKey]map[*subscription]struct{}
}

type subKey struct {
	user    string
	mailbox MailboxID
}

type subscription struct {
	ch chan Notification  // nil for a SubscribeFunc subscription
	fn func(Notification) // called by Publish instead of sending on ch
}

// NewLocalNotifier returns an empty in-process notifier.
func NewLocalNotifier() *LocalNotifier {
	return &LocalNotifier{subs: make(map[subKey]map[*subscription]struct{})}
}

// Subscribe implements [Notifier].
func (n *LocalNotifier) Subscribe(user string, mailbox MailboxID) (<-chan Notification, func()) {
	s := &subscription{ch: make(chan Notification, 1)}
	return s.ch, n.add(user, mailbox, s)
}

// SubscribeFunc registers fn for the changes of one mailbox of one user and
// returns the function that unregisters it. Publish calls fn synchronously,
// once per notification and with the notifier's lock held: fn must return
// quickly and must not call the notifier. It spares a subscriber that
// fans notifications out to many sessions a goroutine waiting on a
// channel.
func (n *LocalNotifier) SubscribeFunc(user string, mailbox MailboxID, fn func(Notification)) (cancel func()) {
	return n.add(user, mailbox, &subscription{fn: fn})
}

// add registers s and returns its cancel function.
func (n *LocalNotifier) add(user string, mailbox MailboxID, s *subscription) func() {
	k := subKey{user, mailbox}
	n.mu.Lock()
	m := n.subs[k]
	if m == nil {
		m = make(map[*subscription]struct{})
		n.subs[k] = m
	}
	m[s] = struct{}{}
	n.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(m, s)
			if len(m) == 0 && n.subs[k] != nil && len(n.subs[k]) == 0 {
				delete(n.subs, k)
			}
		})
	}
}

// Publish implements [Notifier]. It holds the notifier's lock only for
// non-blocking channel operations.
// A notification of a mailbox reaches the subscribers of that mailbox and
// those of [AccountEvents]; an account event reaches the latter only.
func (n *LocalNotifier) Publish(note Notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.publishTo(subKey{note.User, note.Mailbox}, note)
	if note.Mailbox != AccountEvents {
		n.publishTo(subKey{note.User, AccountEvents}, note)
	}
}

// publishTo delivers note to the subscribers of k; n.mu must be held.
func (n *LocalNotifier) publishTo(k subKey, note Notification) {
	for s := range n.subs[k] {
		if s.fn != nil {
			s.fn(note)
			continue
		}
		out := note
		// Publish is serialised by n.mu and receivers only remove values,
		// so after draining the slot the send below cannot block.
		select {
		case s.ch <- out:
			continue
		default:
		}
		select {
		case old := <-s.ch:
			if old.HighestModSeq > out.HighestModSeq && out.HighestModSeq != 0 {
				out.HighestModSeq = old.HighestModSeq
			}
			if old.Origin != out.Origin {
				// The slot now stands for changes of different
				// origins: nobody's own (a receiver filtering its own
				// changes would otherwise lose the other's).
				out.Origin = 0
			}
		default:
		}
		select {
		case s.ch <- out:
		default:
		}
	}
}

// Subscribers returns the number of live subscriptions, for monitoring.
func (n *LocalNotifier) Subscribers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, m := range n.subs {
		c += len(m)
	}
	return c
}
