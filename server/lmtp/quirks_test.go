package lmtp

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/lmtp/lmtpfsm"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// modes returns the default modes with the given quirks set to md.
func modes(md lmtpfsm.Mode, qs ...lmtpfsm.Quirk) *lmtpfsm.Modes {
	m := lmtpfsm.DefaultModes()
	for _, q := range qs {
		m = m.With(q, md)
	}
	return &m
}

// sendRaw writes s as it is, without adding line endings.
func (c *client) sendRaw(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.c, s)
	require.NoError(c.t, err)
}

func TestQuirkBareLF(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice", "bob")
	t.Run("lenient", func(t *testing.T) {
		c := pipe(t, newServer(t, Config{Store: st}))
		c.sendRaw("LHLO client.test\n")
		c.expect("250-mx.test")
		c.sendRaw("MAIL FROM:<a@b>\nRCPT TO:<alice>\nDATA\n")
		c.expect("250 2.1.0 ")
		c.expect("250 2.1.5 ")
		c.expect("354 ")
		c.sendRaw("Subject: lf\n\nbody\n.\n")
		c.expect("250 2.0.0 ")
		assert.Equal(t, []string{"Subject: lf\r\n\r\nbody\r\n"}, messages(t, st, "alice", "INBOX"))
	})
	t.Run("strict", func(t *testing.T) {
		c := pipe(t, newServer(t, Config{Store: st, Modes: modes(lmtpfsm.Strict, lmtpfsm.QuirkBareLF)}))
		c.sendRaw("LHLO client.test\n")
		c.expect("500 5.5.2 Line must end with CRLF")
		c.hello()
		c.send("MAIL FROM:<a@b>", "RCPT TO:<bob>", "DATA")
		c.expect("250 2.1.0 ")
		c.expect("250 2.1.5 ")
		c.expect("354 ")
		c.sendRaw("Subject: lf\r\n\nbody\r\n.\r\n")
		c.expect("554 5.6.0 ", "a bare LF in the data refuses the message (SMTP smuggling)")
		assert.Empty(t, messages(t, st, "bob", "INBOX"))
	})
}

func TestQuirkMailFromSpace(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	c := pipe(t, newServer(t, Config{Store: st, Modes: modes(lmtpfsm.Strict, lmtpfsm.QuirkMailFromSpace)}))
	c.hello()
	c.send("MAIL FROM: <a@b>")
	c.expect("501 5.5.4 ")
	c.send("MAIL FROM:<a@b>", "RCPT TO: <alice>", "RCPT TO:<alice>")
	c.expect("250 2.1.0 ")
	c.expect("501 5.5.4 ")
	c.expect("250 2.1.5 ")
}

func TestQuirkHeloInsteadOfLHLO(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	c := pipe(t, newServer(t, Config{Store: st, Modes: modes(lmtpfsm.Lenient, lmtpfsm.QuirkHeloInsteadOfLHLO)}))
	c.send("EHLO client.test")
	r := c.expect("250-mx.test")
	assert.Contains(t, r, "ENHANCEDSTATUSCODES")
	c.send("MAIL FROM:<a@b>", "RCPT TO:<alice>", "DATA")
	c.expect("250 2.1.0 ")
	c.expect("250 2.1.5 ")
	c.expect("354 ")
	c.send("Subject: x", "", ".")
	c.expect("250 2.0.0 ")
	assert.Equal(t, lmtpfsm.Strict, lmtpfsm.DefaultModes().Of(lmtpfsm.QuirkHeloInsteadOfLHLO), "strict is the spec's default")
}

func TestQuirkDataBefore354(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	message := "DATA\r\nSubject: early\r\n\r\nQUIT\r\n.\r\n"
	t.Run("lenient", func(t *testing.T) {
		c := pipe(t, newServer(t, Config{Store: st}))
		c.hello()
		c.send("MAIL FROM:<a@b>", "RCPT TO:<nobody>")
		c.expect("250 2.1.0 ")
		c.expect("550 5.1.1 ")
		c.sendRaw(message + "NOOP\r\n")
		c.expect("503 5.5.1 No valid recipients")
		c.expect("250 2.0.0 ", "the data was dropped, QUIT in it included; NOOP is the next command")
		c.send("RCPT TO:<alice>")
		c.expect("503 5.5.1 ", "the transaction went with the data")
	})
	t.Run("strict", func(t *testing.T) {
		c := pipe(t, newServer(t, Config{Store: st, Modes: modes(lmtpfsm.Strict, lmtpfsm.QuirkDataBefore354)}))
		c.hello()
		c.send("MAIL FROM:<a@b>")
		c.expect("250 2.1.0 ")
		c.sendRaw(message)
		c.expect("503 5.5.1 No valid recipients")
		c.expect("500 5.5.1 ", "Subject: is read as a command")
		c.expect("500 5.5.1 ", "the empty line too")
		c.expect("221 ", "and the QUIT in the message ends the session")
	})
}

func TestLowerCaseCommandsInBothModes(t *testing.T) {
	st := newStore(t, boltstore.Options{}, "alice")
	c := pipe(t, newServer(t, Config{Store: st, Modes: modes(lmtpfsm.Strict, lmtpfsm.QuirkLowerCaseCommands)}))
	c.send("lhlo client.test")
	c.expect("250-mx.test")
	c.send("Noop")
	c.expect("250 2.0.0 ")
	assert.True(t, strings.HasPrefix(lmtpfsm.QuirkLowerCaseCommands.Behaviour(lmtpfsm.Strict), "Accept"))
}
