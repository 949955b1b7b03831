package load

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

// keywordPool is the number of keywords the keywords mix draws from; each
// run names them afresh, so every one is new to the mailbox once.
const keywordPool = 100

var keywordsMix = &Mix{
	Name: "keywords",
	Summary: "concurrent keywords: per iteration STORE +FLAGS of a keyword from a pool of 100 named afresh each run " +
		"(so each is new to the mailbox once) on a seeded message, every third iteration -FLAGS of it, every fourth " +
		"an APPEND with a keyword that is then flagged \\Deleted and expunged, every second FETCH 1:* (UID FLAGS), " +
		"and NOOP, in one selected session per client (figure: all commands/s)",
	Commands: []Command{Store, Append, Fetch, Expunge, Noop},
	prepare:  seedMailbox,
	run: func(r *run) ([]*worker, error) {
		prefix := fmt.Sprintf("$Load%d_", time.Now().UnixNano()%1_000_000)
		keyword := func() string { return prefix + fmt.Sprint(rand.IntN(keywordPool)) }
		return r.clients(func(w *worker) error {
			s, err := w.sessionUnmeasured()
			if err != nil {
				return err
			}
			s.iters++
			seeded := min(s.exists, w.r.seeded)
			if seeded == 0 {
				return imapc.Verifyf("keywords: no seeded message in the mailbox")
			}
			n := 1 + rand.Uint32N(seeded)
			kw := keyword()
			if err := s.storeKeyword(n, "+", kw); err != nil {
				return err
			}
			if s.iters%3 == 0 {
				if err := s.storeKeyword(n, "-", kw); err != nil {
					return err
				}
			}
			if s.iters%4 == 0 {
				if err := s.appendAndExpunge(keyword()); err != nil {
					return err
				}
			}
			if s.iters%2 == 0 {
				if err := s.fetchAll(); err != nil {
					return err
				}
			}
			return w.op(Noop, func() error {
				res, err := s.c.Expect("NOOP")
				if err == nil {
					s.track(res.Untagged)
				}
				return err
			})
		}), nil
	},
}

// storeKeyword adds (sign "+") or removes ("-") keyword kw on message n,
// which the run never expunges. The FETCH response is left to the checker:
// its flags may already include another client's next change, and a STORE
// that changes nothing may get none (Dovecot sends none then).
func (s *session) storeKeyword(n uint32, sign, kw string) error {
	return s.w.op(Store, func() error {
		res, err := s.c.Expect(fmt.Sprintf("STORE %d %sFLAGS (%s)", n, sign, kw))
		if err == nil {
			s.track(res.Untagged)
		}
		return err
	})
}

// appendAndExpunge appends a message with keyword kw, flags it \Deleted
// and expunges.
func (s *session) appendAndExpunge(kw string) error {
	var uid uint32
	err := s.w.op(Append, func() error {
		res, err := s.c.Append(s.w.r.cfg.Mailbox, "("+kw+")", s.w.r.message())
		if err != nil {
			return err
		}
		s.track(res.Untagged)
		var ok bool
		if uid, ok = imapc.AppendUID(res.Text); !ok {
			return imapc.Verifyf("APPEND: no APPENDUID in %q", res.Text)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.w.op(Store, func() error {
		res, err := s.c.Expect(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uid))
		if err == nil {
			s.track(res.Untagged)
		}
		return err
	}); err != nil {
		return err
	}
	return s.expunge()
}
