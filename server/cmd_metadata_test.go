package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetadataCapability checks that METADATA is advertised after login
// only, alone (it implies METADATA-SERVER, RFC 5464 1), and that ENABLE
// METADATA enables nothing: no unsolicited METADATA responses are sent.
func TestMetadataCapability(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	assert.NotContains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "METADATA")
	c.login()
	caps := strings.Fields(c.ok("C2", "CAPABILITY")[0])
	assert.Contains(t, caps, "METADATA")
	assert.NotContains(t, caps, "METADATA-SERVER")
	assert.Equal(t, []string{"* ENABLED"}, c.ok("E1", "ENABLE METADATA"))
}

// TestMetadataNotAdvertisedWithoutStoreSupport is the mutant of
// TestMetadataCapability: a store without annotations gets no METADATA
// capability, and the commands are refused with BAD.
func TestMetadataNotAdvertisedWithoutStoreSupport(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = quotalessStore{cfg.Store} })
	c := ts.dial()
	c.login()
	assert.NotContains(t, strings.Fields(c.ok("C1", "CAPABILITY")[0]), "METADATA")
	for i, line := range []string{`GETMETADATA "" /shared/comment`, `SETMETADATA "" (/shared/comment "x")`} {
		tag := fmt.Sprintf("M%d", i)
		_, done := c.cmd(tag, line)
		assert.True(t, strings.HasPrefix(done, tag+" BAD "), done)
	}
}

// literalCmd sends a command whose last argument before tail is a
// synchronising literal, waiting for the continuation request.
func (c *client) literalCmd(tag, head, literal, tail string) (untagged []string, done string) {
	c.t.Helper()
	c.send(fmt.Sprintf("%s %s{%d}\r\n", tag, head, len(literal)))
	cont := c.line()
	require.True(c.t, strings.HasPrefix(cont, "+"), "continuation request, got %q", cont)
	c.send(literal + tail + "\r\n")
	return c.until(tag)
}

// TestMetadataRFCExamples runs the examples of RFC 5464 4.2 to 4.4.1.
func TestMetadataRFCExamples(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()

	// 4.2: server and mailbox entries.
	c.ok("a", `SETMETADATA "" (/shared/comment "Shared comment")`)
	assert.Equal(t, []string{`* METADATA "" (/shared/comment "Shared comment")`}, c.ok("a", `GETMETADATA "" /shared/comment`))
	c.ok("a", `SETMETADATA INBOX (/private/comment "My own comment")`)
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment "My own comment")`}, c.ok("a", `GETMETADATA "INBOX" /private/comment`))

	// 4.3: a multi-line value in a synchronising literal, two entries in
	// one command, removal with NIL.
	_, done := c.literalCmd("a", "SETMETADATA INBOX (/private/comment ", "My new comment across\r\ntwo lines.", ")")
	assert.Equal(t, "a OK SETMETADATA completed", done)
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment {33}`, "My new comment across", "two lines.)"},
		c.ok("a", `GETMETADATA "INBOX" /private/comment`))
	c.ok("a", `SETMETADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")`)
	assert.Equal(t, []string{`* METADATA INBOX (/shared/comment "This one is for you!" /private/comment "My new comment")`},
		c.ok("a", `GETMETADATA "INBOX" (/shared/comment /private/comment)`), "entries in the order asked")
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")`},
		c.ok("a", `GETMETADATA "INBOX" /private/comment /shared/comment`), "4.4.1: entries without parentheses")
	c.ok("a", `SETMETADATA INBOX (/private/comment NIL)`)
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment NIL)`}, c.ok("a", `GETMETADATA "INBOX" /private/comment`),
		"a removed entry reads as NIL")

	// 4.2.1: MAXSIZE leaves out the larger values and reports the
	// largest of them in LONGENTRIES.
	long := strings.Repeat("x", 2199)
	_, done = c.literalCmd("a", "SETMETADATA INBOX (/shared/comment ", long, ` /private/comment "My own comment")`)
	assert.Equal(t, "a OK SETMETADATA completed", done)
	u, done := c.cmd("a", `GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)`)
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment "My own comment")`}, u)
	assert.Equal(t, "a OK [METADATA LONGENTRIES 2199] GETMETADATA completed", done)
	u, done = c.cmd("a", `GETMETADATA (MAXSIZE 1024) "INBOX" /shared/comment`)
	assert.Empty(t, u, "nothing fits: no METADATA response")
	assert.Equal(t, "a OK [METADATA LONGENTRIES 2199] GETMETADATA completed", done)

	// 4.2.2: DEPTH 1 returns the children, not the grandchildren, and not
	// the missing entry itself; options before the mailbox too.
	c.ok("a", `SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \"boss@example.com\"" /private/filters/values/boss/deep "x")`)
	want := []string{`* METADATA INBOX (/private/filters/values/boss "FROM \"boss@example.com\"" /private/filters/values/small "SMALLER 5000")`}
	assert.Equal(t, want, c.ok("a", `GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)`))
	assert.Equal(t, want, c.ok("a", `GETMETADATA (DEPTH 1) "INBOX" (/private/filters/values)`))
	assert.Equal(t, []string{`* METADATA INBOX (/private/filters/values/boss "FROM \"boss@example.com\"" /private/filters/values/boss/deep "x" /private/filters/values/small "SMALLER 5000")`},
		c.ok("a", `GETMETADATA "INBOX" (DEPTH infinity) /private/filters`))
	assert.Empty(t, c.ok("a", `GETMETADATA "INBOX" (DEPTH infinity) /private/nothing`))
	u = c.ok("a", `GETMETADATA "INBOX" (DEPTH infinity MAXSIZE 100) (/shared /private)`)
	require.Len(t, u, 1)
	assert.Contains(t, u[0], "/private/comment", "the scopes as roots")
	assert.NotContains(t, u[0], "/shared/comment", "too long")

	// Entry names are case-insensitive; the selected state works too.
	c.ok("a", `SETMETADATA "" (/Shared/Vendor/Example/Theme "dark")`)
	c.ok("s", "SELECT INBOX")
	assert.Equal(t, []string{`* METADATA "" (/shared/vendor/example/theme "dark")`}, c.ok("a", `GETMETADATA "" /SHARED/vendor/EXAMPLE/theme`))
	assert.Equal(t, []string{`* METADATA "" (/shared/comment "Shared comment" /shared/vendor/example/theme "dark")`},
		c.ok("a", `GETMETADATA "" (DEPTH infinity) /shared`))
}

// TestMetadataBinaryValue checks a value with NUL, set as a literal8 and
// returned as one (only a literal8 can carry NUL, RFC 5464 5).
func TestMetadataBinaryValue(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("a", "SETMETADATA INBOX (/private/vendor/x/blob ~{3+}\r\na\x00b)")
	assert.Equal(t, []string{"* METADATA INBOX (/private/vendor/x/blob ~{3}", "a\x00b)"}, c.ok("a", "GETMETADATA INBOX /private/vendor/x/blob"))
	c.ok("a", `SETMETADATA INBOX (/private/comment "")`)
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment "")`}, c.ok("a", "GETMETADATA INBOX /private/comment"),
		"an empty value is a value, not NIL")
}

// TestMetadataBadSyntax checks that malformed entry names and arguments
// get BAD (RFC 5464 3.2) and change nothing.
func TestMetadataBadSyntax(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, line := range []string{
		`SETMETADATA INBOX (/private/a* "x")`,
		`SETMETADATA INBOX (/private/a% "x")`,
		`SETMETADATA INBOX (comment "x")`,
		`SETMETADATA INBOX (/public/comment "x")`,
		`SETMETADATA INBOX (/private//comment "x")`,
		`SETMETADATA INBOX (/private/comment/ "x")`,
		`SETMETADATA INBOX (/private "x")`,
		`SETMETADATA INBOX (/shared/vendor/example "x")`,
		"SETMETADATA INBOX (\"/private/caf\xc3\xa9\" \"x\")",
		"SETMETADATA INBOX (\"/private/a\x01b\" \"x\")",
		`SETMETADATA INBOX (/private/comment)`,
		`SETMETADATA INBOX (/private/comment "x" /private/other)`,
		`SETMETADATA INBOX ()`,
		`SETMETADATA INBOX /private/comment "x"`,
		`SETMETADATA INBOX (/private/comment "x") extra`,
		`SETMETADATA INBOX (/private/comment atom)`,
		`GETMETADATA INBOX /private/a*`,
		`GETMETADATA INBOX ()`,
		`GETMETADATA INBOX`,
		`GETMETADATA INBOX (DEPTH 2) /private/comment`,
		`GETMETADATA INBOX (MAXSIZE -1) /private/comment`,
		`GETMETADATA INBOX (FOO 1) /private/comment`,
		`GETMETADATA (/private/comment) INBOX`,
		`GETMETADATA INBOX /private/comment (DEPTH 1)`,
		`GETMETADATA INBOX /other`,
	} {
		_, done := c.cmd("B1", line)
		assert.True(t, strings.HasPrefix(done, "B1 BAD "), "%q -> %s", line, done)
		c.ok("N1", "NOOP") // below the limit of BADs in a row
	}
	assert.Equal(t, []string{`* METADATA INBOX (/private/comment NIL)`}, c.ok("a", "GETMETADATA INBOX /private/comment"))
}

// TestMetadataRefusals checks the NO answers of RFC 5464 4.3 and the
// mailbox's existence: MAXSIZE (before the continuation request for a
// literal), TOOMANY with nothing of the command stored, NOPRIVATE on a
// server keeping shared annotations only, and the read-only
// /shared/admin.
func TestMetadataRefusals(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) {
		cfg.Metadata = MetadataConfig{MaxValueSize: 1024, MaxEntries: 10, Admin: "mailto:postmaster@example.org"}
	})
	c := ts.dial()
	c.login()

	_, done := c.cmd("a", fmt.Sprintf(`SETMETADATA INBOX (/private/comment "%s")`, strings.Repeat("y", 1025)))
	assert.Equal(t, "a NO [METADATA MAXSIZE 1024] Annotation values are limited to 1024 octets", done)
	c.send("b SETMETADATA INBOX (/private/comment {2000}\r\n")
	assert.Equal(t, "b NO [METADATA MAXSIZE 1024] Annotation values are limited to 1024 octets", c.line(),
		"refused before the continuation request")
	_, done = c.cmd("c", fmt.Sprintf("SETMETADATA INBOX (/private/comment {1025+}\r\n%s)", strings.Repeat("y", 1025)))
	assert.Equal(t, "c NO [METADATA MAXSIZE 1024] Annotation values are limited to 1024 octets", done)
	c.ok("d", fmt.Sprintf(`SETMETADATA INBOX (/private/comment "%s")`, strings.Repeat("y", 1024)))

	var set []string
	for i := range 9 {
		set = append(set, fmt.Sprintf(`/private/e%d "v"`, i))
	}
	c.ok("e", "SETMETADATA INBOX ("+strings.Join(set, " ")+")")
	_, done = c.cmd("f", `SETMETADATA INBOX (/private/e0 "changed" /private/new "v")`)
	assert.Equal(t, "f NO [METADATA TOOMANY] Too many annotations, or too large in total", done)
	assert.Equal(t, []string{`* METADATA INBOX (/private/e0 "v" /private/new NIL)`}, c.ok("g", "GETMETADATA INBOX (/private/e0 /private/new)"),
		"nothing of a refused SETMETADATA is stored")
	c.ok("h", `SETMETADATA INBOX (/private/e0 NIL /private/new "v")`)
	c.ok("i", `SETMETADATA Archive (/private/new "v")`) // other mailboxes have a limit of their own

	_, done = c.cmd("j", `SETMETADATA Missing (/private/comment "x")`)
	assert.True(t, strings.HasPrefix(done, "j NO [NONEXISTENT]"), done)
	_, done = c.cmd("k", `GETMETADATA Missing /private/comment`)
	assert.True(t, strings.HasPrefix(done, "k NO [NONEXISTENT]"), done)

	assert.Equal(t, []string{`* METADATA "" (/shared/admin "mailto:postmaster@example.org")`}, c.ok("l", `GETMETADATA "" /shared/admin`))
	_, done = c.cmd("m", `SETMETADATA "" (/shared/admin "mailto:me@example.org")`)
	assert.True(t, strings.HasPrefix(done, "m NO [NOPERM]"), done)
	assert.Equal(t, []string{`* METADATA INBOX (/shared/admin NIL)`}, c.ok("n", `GETMETADATA INBOX /shared/admin`),
		"a server entry only")
	c.ok("o", `SETMETADATA Archive (/shared/admin "a mailbox entry of the same name")`)

	shared := newTestServer(t, func(cfg *Config) { cfg.Metadata.SharedOnly = true })
	s := shared.dial()
	s.login()
	_, done = s.cmd("p", `SETMETADATA INBOX (/shared/comment "ok" /private/comment "x")`)
	assert.Equal(t, "p NO [METADATA NOPRIVATE] This server keeps no private annotations; use /shared", done)
	s.ok("q", `SETMETADATA INBOX (/shared/comment "ok")`)
	assert.Equal(t, []string{`* METADATA INBOX (/shared/comment "ok")`}, s.ok("r", `GETMETADATA INBOX (DEPTH infinity) (/private /shared)`))
}

// TestMetadataFollowsMailbox checks over IMAP that annotations follow a
// RENAME and go with a DELETE (RFC 5464 4.1).
func TestMetadataFollowsMailbox(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	c.ok("a", "CREATE Projects/Old")
	c.ok("a", `SETMETADATA Projects/Old (/shared/comment "kept")`)
	c.ok("a", "RENAME Projects Work")
	assert.Equal(t, []string{`* METADATA Work/Old (/shared/comment "kept")`}, c.ok("a", "GETMETADATA Work/Old /shared/comment"))
	c.ok("a", "DELETE Work/Old")
	c.ok("a", "CREATE Work/Old")
	assert.Equal(t, []string{`* METADATA Work/Old (/shared/comment NIL)`}, c.ok("a", "GETMETADATA Work/Old /shared/comment"))
}
