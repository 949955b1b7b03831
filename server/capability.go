package server

import (
	"strconv"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// condstore reports whether CONDSTORE is enabled for the session: by
// ENABLE, or implicitly by any CONDSTORE-enabling command (RFC 7162 3.1).
// Once enabled, untagged FETCH responses for flag changes carry UID and
// MODSEQ, and SELECT/EXAMINE report HIGHESTMODSEQ.
func (c *conn) condstore() bool { return c.enabled["CONDSTORE"] }

// enable marks the extension name (upper case) enabled for the rest of
// the session. The set is made on first use, so that a session that
// enables nothing holds none.
func (c *conn) enable(name string) {
	if c.enabled == nil {
		c.enabled = map[string]bool{}
	}
	c.enabled[name] = true
}

// enableCondstore marks CONDSTORE enabled for the rest of the session.
// When that happens while a mailbox is selected (a CONDSTORE-enabling
// FETCH, SEARCH, STORE or STATUS), the command's tagged
// completion is preceded by an untagged OK [HIGHESTMODSEQ] for the
// selected mailbox (RFC 7162 3.1), written by the engine once the command
// has caught up with the mailbox (see announceCondstore).
func (c *conn) enableCondstore() {
	if c.enabled["CONDSTORE"] {
		return
	}
	c.enable("CONDSTORE")
	c.condstoreNew = c.mailbox != nil
}

// announceCondstore writes the untagged OK [HIGHESTMODSEQ] owed by a
// command that enabled CONDSTORE with a mailbox selected. The value is
// the mod-sequence the session's view has caught up to, so it is never
// above a change the client was not told of.
func (c *conn) announceCondstore() {
	if !c.condstoreNew {
		return
	}
	c.condstoreNew = false
	if m := c.mailbox; m != nil {
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw("OK [HIGHESTMODSEQ ").Number64(m.modseq).Raw("] Highest").CRLF()
		})
	}
}

// rev2 reports whether the client enabled IMAP4rev2 (RFC 9051 6.3.1).
// Until it does, the session speaks IMAP4rev1 (RFC 3501) where the two
// differ: \Recent, the UNSEEN response code of SELECT, SEARCH responses.
func (c *conn) rev2() bool { return c.enabled["IMAP4REV2"] }

// qresync reports whether the client issued ENABLE QRESYNC (RFC 7162
// 3.2.3). Only then are the QRESYNC select parameter and the VANISHED
// fetch modifier accepted, and expunges are reported with VANISHED
// instead of EXPUNGE for the rest of the connection (RFC 7162 3.2.10.2).
func (c *conn) qresync() bool { return c.enabled["QRESYNC"] }

// capabilities lists what the server advertises (RFC 9051 7.2.2). Before
// authentication (loggedIn false) it shows how to log in, as the machine
// decides under the session's facts: STARTTLS while the machine would run
// it, AUTH=PLAIN where it would run LOGIN, LOGINDISABLED where it refuses
// credentials. Logged in (the state's authenticated attribute, or a LOGIN
// or AUTHENTICATE that has just succeeded and writes OK [CAPABILITY ...]
// before the machine moves) it lists every implemented extension. Each
// entry names an extension this server implements; nothing is advertised
// that is not.
func (c *conn) capabilities(loggedIn bool) string {
	caps := []string{"IMAP4rev2", "IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "SASL-IR"}
	if !loggedIn {
		if c.srv.cfg.TLSConfig != nil && c.wouldExecute(fsm.InputStarttls) {
			caps = append(caps, "STARTTLS")
		}
		if c.wouldExecute(fsm.InputLogin) {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
		return strings.Join(caps, " ")
	}
	caps = append(caps,
		"NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN",
		"LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE",
		"STATUS=SIZE", "APPENDLIMIT="+strconv.FormatInt(c.srv.cfg.Limits.MaxAppendLiteral, 10),
		"UTF8=ACCEPT",
	)
	caps = append(caps, messageCapabilities...)
	caps = append(caps, sortCapabilities...)
	caps = append(caps, contextCapabilities...)
	caps = append(caps, "CONDSTORE", "QRESYNC") // RFC 7162 3.1, 3.2
	caps = append(caps, compressCapability)     // RFC 4978
	if c.hasQuota() {
		caps = append(caps, quotaCapabilities...) // RFC 9208
	}
	if c.hasNotify() {
		caps = append(caps, "NOTIFY") // RFC 5465
	}
	if c.hasMetadata() {
		caps = append(caps, "METADATA") // RFC 5464; implies METADATA-SERVER
	}
	if c.multiAppend() {
		caps = append(caps, "MULTIAPPEND") // RFC 3502
	}
	caps = append(caps, "REPLACE") // RFC 8508
	return strings.Join(caps, " ")
}

// hasNotify reports whether NOTIFY is offered: it needs a notifier that
// calls a function for each notification, which a session subscribes
// for its whole account (both bundled stores have one).
func (c *conn) hasNotify() bool {
	_, ok := c.srv.cfg.Store.Notifier().(funcNotifier)
	return ok
}
