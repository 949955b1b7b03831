package lmtpprop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/imapfsm/imapfsm/server/store"
)

// middle returns a Middle that passes the client's bytes to the server
// unchanged and every reply line of the server through edit, which may
// drop it (nil), keep it, or add lines.
func middle(edit func(line string) []string) func(net.Conn) net.Conn {
	return func(server net.Conn) net.Conn {
		client, inner := net.Pipe()
		go func() {
			_, _ = io.Copy(server, inner)
			server.Close()
		}()
		go func() {
			defer inner.Close()
			br := bufio.NewReader(server)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				for _, out := range edit(l) {
					if _, err := io.WriteString(inner, out); err != nil {
						return
					}
				}
			}
		}()
		return client
	}
}

// twiceStore stores every message twice; lostStore acknowledges it without
// storing it.
type mutantStore struct {
	store.Store
	copies int
}

type mutantUser struct {
	store.User
	copies int
}

func (s mutantStore) OpenUser(ctx context.Context, name string) (store.User, error) {
	u, err := s.Store.OpenUser(ctx, name)
	if err != nil {
		return nil, err
	}
	return mutantUser{u, s.copies}, nil
}

func (u mutantUser) Append(ctx context.Context, mailbox string, msg store.NewMessage) (store.AppendResult, error) {
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return store.AppendResult{}, err
	}
	if u.copies == 0 {
		return store.AppendResult{UID: 1}, nil
	}
	var res store.AppendResult
	for i := 0; i < u.copies; i++ {
		m := msg
		m.Body = bytes.NewReader(body)
		if res, err = u.User.Append(ctx, mailbox, m); err != nil {
			return res, err
		}
	}
	return res, nil
}

// TestLMTPWireMutantsAreCaught breaks the live server between client and
// server, or in its store, and requires the wire run to fail on the
// property each break violates.
func TestLMTPWireMutantsAreCaught(t *testing.T) {
	seed, _ := runSettings(t)
	ref := loadRef(t)
	perRecipient := 0
	mutants := []struct {
		name   string
		prop   Property
		change func(*WireTarget)
	}{
		{"a reply sent twice", PropOneReply, func(w *WireTarget) {
			w.Middle = middle(func(l string) []string {
				if strings.HasPrefix(l, "252 ") {
					return []string{l, l}
				}
				return []string{l}
			})
		}},
		{"the reply to QUIT withheld", PropOneReply, func(w *WireTarget) {
			w.Middle = middle(func(l string) []string {
				if strings.HasPrefix(l, "221 ") {
					return nil
				}
				return []string{l}
			})
		}},
		{"one per-recipient reply dropped", PropPerRecipient, func(w *WireTarget) {
			perRecipient = 0
			w.Middle = middle(func(l string) []string {
				if strings.HasPrefix(l, "250 2.0.0 <") {
					perRecipient++
					if perRecipient%2 == 0 {
						return nil
					}
				}
				return []string{l}
			})
		}},
		{"a message stored twice", PropPerRecipient, func(w *WireTarget) { w.Store = mutantStore{w.Store, 2} }},
		{"a message acknowledged but not stored", PropPerRecipient, func(w *WireTarget) { w.Store = mutantStore{w.Store, 0} }},
		{"a sequence error with another text", PropMatchesSpec, func(w *WireTarget) {
			w.Middle = middle(func(l string) []string {
				return []string{strings.Replace(l, "Need MAIL command first", "Bad sequence of commands", 1)}
			})
		}},
	}
	// alsoViolated names another property a mutant violates as well, which
	// a run may report first: a dropped per-recipient reply also leaves the
	// command without its reply while the client waits for it.
	alsoViolated := map[string]Property{"one per-recipient reply dropped": PropOneReply}
	for _, mu := range mutants {
		t.Run(mu.name, func(t *testing.T) {
			target := newTarget(t)
			mu.change(&target)
			r := newWireRun(t, ref, target, seed)
			err := r.random(30)
			if err == nil {
				err = r.seeds()
			}
			if !assert.Error(t, err, "the wire run misses the mutant") {
				return
			}
			var we *WireError
			if assert.True(t, errors.As(err, &we), "%v", err) {
				if also, ok := alsoViolated[mu.name]; !ok || we.Property != also {
					assert.Equal(t, mu.prop, we.Property, "%v", err)
				}
			}
			t.Logf("caught: %s", strings.SplitN(err.Error(), "\n", 2)[0])
		})
	}
}
