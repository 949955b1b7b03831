package server

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// Message fixtures shared by the message command tests.
const (
	fixturePlain = "From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.net>\r\n" +
		"Cc: Carol <carol@example.com>\r\n" +
		"Subject: Lunch plans\r\n" +
		"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n" +
		"Message-ID: <plain@example.org>\r\n" +
		"\r\n" +
		"Shall we meet at noon?\r\n"
	fixtureMultipart = "From: Dave <dave@example.org>\r\n" +
		"To: Alice <alice@example.org>\r\n" +
		"Subject: Quarterly report\r\n" +
		"Date: Tue, 8 Feb 1994 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n" +
		"\r\n" +
		"--XX\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n" +
		"See the attached figures.\r\n" +
		"--XX\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"aGVsbG8gYmluYXJ5\r\n" +
		"--XX--\r\n"
)

// appendMsg stores a message through the store (as delivery would) and
// returns its UID. The message is not \Recent: it is claimed as if an
// earlier session had seen it (RFC 3501 2.3.2), so that tests of other
// matters see the same flags in every revision. appendNew leaves it
// recent.
func appendMsg(t testing.TB, ts *testServer, mailbox, body string, flags ...string) uint32 {
	t.Helper()
	uid := appendNew(t, ts, mailbox, body, flags...)
	u, err := ts.srv.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	mi, err := u.Mailbox(context.Background(), mailbox)
	require.NoError(t, err)
	_, err = u.ClaimRecent(context.Background(), mi.ID, uid+1)
	require.NoError(t, err)
	return uid
}

// appendNew stores a message through the store (as delivery would) and
// returns its UID; the first IMAP4rev1 session to select the mailbox sees
// it as \Recent.
func appendNew(t testing.TB, ts *testServer, mailbox, body string, flags ...string) uint32 {
	t.Helper()
	u, err := ts.srv.cfg.Store.OpenUser(context.Background(), "demo")
	require.NoError(t, err)
	res, err := u.Append(context.Background(), mailbox, store.NewMessage{
		Flags:        flags,
		InternalDate: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		Body:         strings.NewReader(body),
	})
	require.NoError(t, err)
	return res.UID
}

// literalRe matches a literal header at the end of a response line.
var literalRe = regexp.MustCompile(`~?\{(\d+)\}$`)

// response reads one complete response, with the octets of its literals
// inlined, so that a FETCH with body literals is a single string.
func (c *client) response() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		b.WriteString(l)
		m := literalRe.FindStringSubmatch(l)
		if m == nil {
			return b.String()
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		_, err := io.ReadFull(c.r, buf)
		require.NoError(c.t, err)
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// full sends a command and returns its complete untagged responses and
// the tagged completion.
func (c *client) full(tag, command string) (untagged []string, done string) {
	c.t.Helper()
	c.send(tag + " " + command + "\r\n")
	for {
		r := c.response()
		if strings.HasPrefix(r, tag+" ") {
			return untagged, r
		}
		untagged = append(untagged, r)
	}
}

// fetchSetup starts a server with the plain and the multipart fixture in
// INBOX and a logged-in client that selected it.
func fetchSetup(t *testing.T) (*testServer, *client) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "INBOX", fixtureMultipart, `\Flagged`)
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	return ts, c
}

// TestFetchItems checks the value of every FETCH data item.
func TestFetchItems(t *testing.T) {
	_, c := fetchSetup(t)
	cases := []struct {
		name, cmd string
		want      []string
	}{
		{"flags", "FETCH 2 FLAGS", []string{`* 2 FETCH (FLAGS (\Flagged))`}},
		{"uid", "FETCH 1:2 UID", []string{`* 1 FETCH (UID 1)`, `* 2 FETCH (UID 2)`}},
		{"internaldate", "FETCH 1 INTERNALDATE", []string{`* 1 FETCH (INTERNALDATE "01-Mar-2024 12:00:00 +0000")`}},
		{"size", "FETCH 1 RFC822.SIZE", []string{`* 1 FETCH (RFC822.SIZE ` + strconv.Itoa(len(fixturePlain)) + `)`}},
		{"envelope", "FETCH 1 ENVELOPE", []string{`* 1 FETCH (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Lunch plans" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.net")) (("Carol" NIL "carol" "example.com")) NIL NIL "<plain@example.org>"))`}},
		{"body short", "FETCH 1 BODY", []string{`* 1 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1))`}},
		{"bodystructure multipart", "FETCH 2 BODYSTRUCTURE", []string{`* 2 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 25 1 NIL NIL NIL NIL)("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" 16 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "XX") NIL NIL NIL))`}},
		{"part 1", "FETCH 2 BODY.PEEK[1]", []string{"* 2 FETCH (BODY[1] {25}\r\nSee the attached figures.)"}},
		{"part 2 raw", "FETCH 2 BODY.PEEK[2]", []string{"* 2 FETCH (BODY[2] {16}\r\naGVsbG8gYmluYXJ5)"}},
		{"part mime", "FETCH 2 BODY.PEEK[1.MIME]", []string{"* 2 FETCH (BODY[1.MIME] {46}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n)"}},
		{"header fields", "FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject \"To\")]", []string{"* 1 FETCH (BODY[HEADER.FIELDS (Subject To)] {51}\r\nTo: Bob <bob@example.net>\r\nSubject: Lunch plans\r\n\r\n)"}},
		{"header fields not", "FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Cc Date Message-ID)]", []string{"* 1 FETCH (BODY[HEADER.FIELDS.NOT (From To Cc Date Message-ID)] {24}\r\nSubject: Lunch plans\r\n\r\n)"}},
		{"text", "FETCH 1 BODY.PEEK[TEXT]", []string{"* 1 FETCH (BODY[TEXT] {24}\r\nShall we meet at noon?\r\n)"}},
		{"partial", "FETCH 1 BODY.PEEK[TEXT]<6.2>", []string{"* 1 FETCH (BODY[TEXT]<6> {2}\r\nwe)"}},
		{"partial past end", "FETCH 1 BODY.PEEK[TEXT]<100.5>", []string{"* 1 FETCH (BODY[TEXT]<100> {0}\r\n)"}},
		{"missing part", "FETCH 1 BODY.PEEK[4]", []string{"* 1 FETCH (BODY[4] {0}\r\n)"}},
		{"rfc822.header", "FETCH 1 RFC822.HEADER", []string{"* 1 FETCH (RFC822.HEADER {" + strconv.Itoa(strings.Index(fixturePlain, "\r\n\r\n")+4) + "}\r\n" + fixturePlain[:strings.Index(fixturePlain, "\r\n\r\n")+4] + ")"}},
		{"binary", "FETCH 2 BINARY.PEEK[2]", []string{"* 2 FETCH (BINARY[2] ~{12}\r\nhello binary)"}},
		{"binary partial", "FETCH 2 BINARY.PEEK[2]<6.6>", []string{"* 2 FETCH (BINARY[2]<6> ~{6}\r\nbinary)"}},
		{"binary size", "FETCH 2 BINARY.SIZE[2]", []string{"* 2 FETCH (BINARY.SIZE[2] 12)"}},
		{"fast macro", "FETCH 2 FAST", []string{`* 2 FETCH (FLAGS (\Flagged) INTERNALDATE "01-Mar-2024 12:00:00 +0000" RFC822.SIZE ` + strconv.Itoa(len(fixtureMultipart)) + `)`}},
		{"uid fetch adds uid", "UID FETCH 2 FLAGS", []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`}},
		{"uid fetch star", "UID FETCH 10:* UID", []string{`* 2 FETCH (UID 2)`}},
		{"uid fetch missing", "UID FETCH 7 UID", nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tag := "F" + strconv.Itoa(i)
			u, done := c.full(tag, tc.cmd)
			assert.Equal(t, tag+" OK FETCH completed", done)
			assert.Equal(t, tc.want, u)
		})
	}
	// Only PEEK items were used: nothing is \Seen.
	u := c.ok("FZ", "FETCH 1:* FLAGS")
	assert.Equal(t, []string{`* 1 FETCH (FLAGS ())`, `* 2 FETCH (FLAGS (\Flagged))`}, u)
}

// TestFetchFull checks RFC822 and the ALL and FULL macros.
func TestFetchFull(t *testing.T) {
	_, c := fetchSetup(t)
	u, done := c.full("A1", "FETCH 1 (RFC822.SIZE RFC822)")
	require.Equal(t, "A1 OK FETCH completed", done)
	require.Len(t, u, 1)
	assert.Equal(t, "* 1 FETCH (RFC822.SIZE "+strconv.Itoa(len(fixturePlain))+" RFC822 {"+strconv.Itoa(len(fixturePlain))+"}\r\n"+fixturePlain+` FLAGS (\Seen))`, u[0])
	u, _ = c.full("A2", "FETCH 1 ALL")
	require.Len(t, u, 1)
	assert.Contains(t, u[0], `FLAGS (\Seen) INTERNALDATE "01-Mar-2024 12:00:00 +0000" RFC822.SIZE `)
	assert.Contains(t, u[0], ` ENVELOPE ("Mon, 7 Feb 1994`)
	u, _ = c.full("A3", "FETCH 2 FULL")
	require.Len(t, u, 1)
	assert.Contains(t, u[0], ` BODY (("TEXT" "PLAIN"`)
}

// TestFetchSetsSeen: BODY[] sets \Seen and reports it, BODY.PEEK[] does
// not, and EXAMINE never sets it (RFC 9051 6.4.5).
func TestFetchSetsSeen(t *testing.T) {
	ts, c := fetchSetup(t)
	u, _ := c.full("A1", "FETCH 1 BODY.PEEK[]")
	require.Len(t, u, 1)
	assert.NotContains(t, u[0], `\Seen`)
	u, _ = c.full("A2", "FETCH 1 BODY[TEXT]")
	assert.Equal(t, []string{"* 1 FETCH (BODY[TEXT] {24}\r\nShall we meet at noon?\r\n FLAGS (\\Seen))"}, u)
	// Already seen: no FLAGS added the second time.
	u, _ = c.full("A3", "FETCH 1 BODY[TEXT]<0.5>")
	assert.Equal(t, []string{"* 1 FETCH (BODY[TEXT]<0> {5}\r\nShall)"}, u)
	// The session's own change is not echoed by NOOP.
	assert.Empty(t, c.ok("A4", "NOOP"))
	// With FLAGS requested they are not repeated.
	u, _ = c.full("A5", "FETCH 2 (FLAGS BINARY[1])")
	assert.Equal(t, []string{"* 2 FETCH (FLAGS (\\Seen \\Flagged) BINARY[1] ~{25}\r\nSee the attached figures.)"}, u)

	e := ts.dial()
	e.login()
	appendMsg(t, ts, "INBOX", fixturePlain)
	e.ok("E1", "EXAMINE INBOX")
	u, _ = e.full("E2", "FETCH 3 BODY[]")
	require.Len(t, u, 1)
	assert.NotContains(t, u[0], "FLAGS")
	assert.Equal(t, []string{`* 3 FETCH (FLAGS ())`}, e.ok("E3", "FETCH 3 FLAGS"))
}

// TestFetchErrors checks the BAD and NO answers of FETCH.
func TestFetchErrors(t *testing.T) {
	_, c := fetchSetup(t)
	cases := []struct{ cmd, want string }{
		{"FETCH 3 FLAGS", "BAD Invalid message sequence number"},
		{"FETCH 1 FOO", "BAD Unknown FETCH item FOO"},
		{"FETCH 1 (FLAGS ALL)", "BAD FETCH macro ALL cannot be used in a list"},
		{"FETCH 1 ()", "BAD Empty FETCH item list"},
		{"FETCH 1 BINARY[HEADER]", "BAD BINARY takes part numbers only"},
		{"FETCH 1 BINARY.SIZE[1]<0.2>", "BAD BINARY.SIZE takes no partial range"},
		{"FETCH 1 BODY[FOO]", "BAD Invalid section"},
		{"FETCH 1 BODY[1", "BAD"},
		{"FETCH 1 FLAGS (BOGUS 1)", "BAD"},
		{"FETCH", "BAD"},
	}
	for i, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			tag := "E" + strconv.Itoa(i)
			_, done := c.cmd(tag, tc.cmd)
			assert.True(t, strings.HasPrefix(done, tag+" "+tc.want), done)
		})
	}
	c.ok("Z", "NOOP") // the session is still usable
}

// TestFetchEmptyMailbox: "1:*" on an empty mailbox selects nothing.
func TestFetchEmptyMailbox(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("A1", "SELECT INBOX")
	assert.Empty(t, c.ok("A2", "FETCH 1:* FLAGS"))
	assert.Empty(t, c.ok("A3", "UID FETCH 1:* FLAGS"))
	_, done := c.cmd("A4", "FETCH 1 FLAGS")
	assert.True(t, strings.HasPrefix(done, "A4 BAD"), done)
}

// TestFetchBinaryUnknownCTE: BINARY of an undecodable encoding is NO
// [UNKNOWN-CTE] (RFC 3516 4.3).
func TestFetchBinaryUnknownCTE(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", "Subject: x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n")
	c := ts.dial()
	c.login()
	c.ok("A1", "SELECT INBOX")
	_, done := c.cmd("A2", "FETCH 1 BINARY.PEEK[1]")
	assert.True(t, strings.HasPrefix(done, "A2 NO [UNKNOWN-CTE]"), done)
	_, done = c.full("A3", "FETCH 1 BODY.PEEK[1]")
	assert.Equal(t, "A3 OK FETCH completed", done)
}

// TestFetchEnvelopeLiteral: an envelope value that cannot be quoted (raw
// 8-bit text) is sent as a literal inside the ENVELOPE list.
func TestFetchEnvelopeLiteral(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", "From: a@example.org\r\nSubject: caf\xc3\xa9\r\n\r\nbody\r\n")
	c := ts.dial()
	c.login()
	c.ok("A1", "SELECT INBOX")
	u, done := c.full("A2", "FETCH 1 ENVELOPE")
	assert.Equal(t, "A2 OK FETCH completed", done)
	require.Len(t, u, 1)
	assert.Contains(t, u[0], "{5}\r\ncaf\xc3\xa9 ")
}

// TestFetchEmptyPartIsLiteral: the body of a zero-length part, of messages
// appended with a binary literal (RFC 3516 4.4), is sent as the literal
// "{0}" (BODY) or "~{0}" (BINARY), like every other body section, never as
// a quoted string (issue 15, defect 5).
func TestFetchEmptyPartIsLiteral(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, msg := range []string{
		"From: a@example.org\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n",
		"From: a@example.org\r\nContent-Type: text/plain\r\n",
		"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
			"--b\r\nContent-Transfer-Encoding: binary\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\x00y\r\n--b--\r\n",
		"From: a@example.org\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
	} {
		c.send("A1 APPEND INBOX ~{" + strconv.Itoa(len(msg)) + "}\r\n")
		require.True(t, strings.HasPrefix(c.line(), "+ "))
		c.send(msg + "\r\n")
		_, done := c.until("A1")
		require.True(t, strings.HasPrefix(done, "A1 OK"), done)
	}
	c.ok("S1", "SELECT INBOX")
	for seq := 1; seq <= 4; seq++ {
		for _, item := range []string{"BODY.PEEK[1]", "BINARY.PEEK[1]", "BODY.PEEK[1]<0.10>", "BODY.PEEK[TEXT]", "BODY[1]"} {
			if seq == 3 && item == "BODY.PEEK[TEXT]" {
				continue // the multipart's text is its parts
			}
			c.send("F1 FETCH " + strconv.Itoa(seq) + " (" + item + ")\r\n")
			first := c.line()
			name := strings.Replace(strings.TrimSuffix(item, "<0.10>"), ".PEEK", "", 1)
			if strings.HasSuffix(item, "<0.10>") {
				name += "<0>"
			}
			want := " {0}"
			if strings.HasPrefix(item, "BINARY") {
				want = " ~{0}"
			}
			// The literal header ends the line; its zero octets are
			// followed by the rest of the response.
			require.Equal(t, "* "+strconv.Itoa(seq)+" FETCH ("+name+want, first, "message %d %s", seq, item)
			rest := c.line()
			assert.True(t, rest == ")" || strings.HasPrefix(rest, " FLAGS ("), "message %d %s: %q", seq, item, rest)
			_, done := c.until("F1")
			require.True(t, strings.HasPrefix(done, "F1 OK"), done)
		}
	}
}

// TestFetchBodyWithNUL: a part holding NUL bytes (appended with a binary
// literal) is sent in BODY[] with each NUL as 0x80, since a literal may not
// carry NUL (RFC 9051 4.3); BINARY[] gives the exact bytes in a literal8.
func TestFetchBodyWithNUL(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	msg := "From: a@example.org\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nx\x00y\r\n"
	c.send("A1 APPEND INBOX ~{" + strconv.Itoa(len(msg)) + "}\r\n")
	require.True(t, strings.HasPrefix(c.line(), "+ "))
	c.send(msg + "\r\n")
	_, done := c.until("A1")
	require.True(t, strings.HasPrefix(done, "A1 OK"), done)
	c.ok("S1", "SELECT INBOX")
	untagged := c.ok("F1", "FETCH 1 (BODY.PEEK[TEXT])")
	body := strings.Join(untagged, "\n")
	assert.Contains(t, body, "BODY[TEXT] {5}")
	assert.Contains(t, body, "x\x80y")
	assert.NotContains(t, body, "\x00")
	untagged = c.ok("F2", "FETCH 1 (BINARY.PEEK[1])")
	assert.Contains(t, strings.Join(untagged, "\n"), "x\x00y")
}

// TestFetchPreview: PREVIEW (RFC 8970) gives the start of the first text
// part, quoted when ASCII, a literal otherwise, NIL without text; the LAZY
// modifier is accepted, in a list with other items too.
func TestFetchPreview(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", "Subject: a\r\n\r\nSee you \"soon\",\r\n  at noon.\r\n")
	appendMsg(t, ts, "INBOX", "Subject: b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n")
	appendMsg(t, ts, "INBOX", "Subject: c\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n")
	c := ts.dial()
	c.login()
	c.ok("S1", "SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"FETCH 1 PREVIEW", `* 1 FETCH (PREVIEW "See you \"soon\", at noon.")`},
		{"FETCH 1 (UID PREVIEW (LAZY) FLAGS)", `* 1 FETCH (UID 1 PREVIEW "See you \"soon\", at noon." FLAGS ())`},
		{"FETCH 2 (PREVIEW)", "* 2 FETCH (PREVIEW {7}\nGrüße)"},
		{"FETCH 3 (PREVIEW)", "* 3 FETCH (PREVIEW NIL)"},
	} {
		untagged, done := c.cmd("T", tc.cmd)
		assert.Equal(t, "T OK FETCH completed", done, tc.cmd)
		assert.Equal(t, tc.want, strings.Join(untagged, "\n"), tc.cmd)
	}
	_, done := c.cmd("T", "FETCH 1 (PREVIEW (EAGER))")
	assert.True(t, strings.HasPrefix(done, "T BAD"), done)
}
