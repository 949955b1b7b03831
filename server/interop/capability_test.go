package interop_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// preLoginCapabilities is what a plaintext listener that allows insecure
// authentication advertises before login.
var preLoginCapabilities = []string{
	"IMAP4rev2", "IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "SASL-IR", "AUTH=PLAIN",
}

// implementedExtensions is every capability advertised after login.
// "APPENDLIMIT=" stands for APPENDLIMIT with its number. Adding an extension
// to the server means adding it here and exercising it below.
var implementedExtensions = []string{
	"IMAP4rev2", "IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "SASL-IR",
	"NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED",
	"LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "STATUS=SIZE",
	"APPENDLIMIT=", "UTF8=ACCEPT", "BINARY", "ESEARCH", "SEARCHRES", "WITHIN", "PREVIEW", "OBJECTID",
	"SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
	"CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
	"NOTIFY",
	"METADATA", "CONTEXT=SEARCH", "CONTEXT=SORT",
	"COMPRESS=DEFLATE",
}

// capConn is a raw connection that numbers its tags and reads literals.
type capConn struct {
	*rawConn
	n int
}

func dialCap(t *testing.T, addr string) *capConn {
	t.Helper()
	c := &capConn{rawConn: dialRaw(t, addr)}
	require.Regexp(t, `^\* OK`, c.line())
	return c
}

var literalRE = regexp.MustCompile(`~?\{(\d+)\+?\}\r\n$`)

// send writes "TAG command" and returns every response up to the tagged
// one; a literal's bytes are appended to the line that announced it.
func (c *capConn) send(command string) (lines []string, tagged string) {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("c%02d", c.n)
	c.write(tag + " " + command + "\r\n")
	return c.read(tag)
}

func (c *capConn) read(tag string) (lines []string, tagged string) {
	c.t.Helper()
	for {
		l := c.line()
		for m := literalRE.FindStringSubmatch(l); m != nil; m = literalRE.FindStringSubmatch(l) {
			n, err := strconv.Atoi(m[1])
			require.NoError(c.t, err)
			buf := make([]byte, n)
			_, err = io.ReadFull(c.br, buf)
			require.NoError(c.t, err)
			l += string(buf) + c.line()
		}
		if strings.HasPrefix(l, tag+" ") {
			return lines, strings.TrimRight(strings.TrimPrefix(l, tag+" "), "\r\n")
		}
		lines = append(lines, l)
	}
}

// ok sends command and requires a tagged OK.
func (c *capConn) ok(command string) []string {
	c.t.Helper()
	lines, tagged := c.send(command)
	require.True(c.t, strings.HasPrefix(tagged, "OK"), "%s: %s\n%q", command, tagged, lines)
	return lines
}

// capabilityList returns the atoms of the "* CAPABILITY" response.
func (c *capConn) capabilityList() []string {
	c.t.Helper()
	lines := c.ok("CAPABILITY")
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "* CAPABILITY "); ok {
			return strings.Fields(rest)
		}
	}
	c.t.Fatalf("no CAPABILITY response in %q", lines)
	return nil
}

func anyMatch(t *testing.T, lines []string, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for _, l := range lines {
		if re.MatchString(l) {
			return l
		}
	}
	t.Fatalf("no response matches %s in %q", pattern, lines)
	return ""
}

// TestCapabilitiesAreImplemented checks that the capability lists are
// exactly the expected ones, and runs a command using each extension.
func TestCapabilitiesAreImplemented(t *testing.T) {
	srv := startServer(t, "")
	c := dialCap(t, srv.addr)

	assert.ElementsMatch(t, preLoginCapabilities, c.capabilityList(), "before login")

	// LITERAL+: non-synchronising literals need no continuation.
	c.n++
	c.write(fmt.Sprintf("c%02d LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n", c.n, len(testUser), testUser, len(testPassword), testPassword))
	lines, tagged := c.read(fmt.Sprintf("c%02d", c.n))
	require.True(t, strings.HasPrefix(tagged, "OK"), "LOGIN with LITERAL+: %s %q", tagged, lines)
	for _, l := range lines {
		require.False(t, strings.HasPrefix(l, "+"), "continuation sent for a LITERAL+ literal")
	}

	caps := c.capabilityList()
	var appendLimit int64
	normalized := make([]string, 0, len(caps))
	for _, cp := range caps {
		if v, ok := strings.CutPrefix(cp, "APPENDLIMIT="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err, "APPENDLIMIT value %q", v)
			require.Positive(t, n)
			appendLimit = n
			cp = "APPENDLIMIT="
		}
		normalized = append(normalized, cp)
	}
	require.ElementsMatch(t, implementedExtensions, normalized, "after login")

	t.Run("ID", func(t *testing.T) {
		lines := c.ok(`ID ("name" "capability-test" "version" "1")`)
		anyMatch(t, lines, `^\* ID (NIL|\(.*\))\r\n$`)
	})
	t.Run("NAMESPACE", func(t *testing.T) {
		lines := c.ok("NAMESPACE")
		anyMatch(t, lines, `^\* NAMESPACE \(\("[^"]*" "/"\)\) (NIL|\(.*\)) (NIL|\(.*\))\r\n$`)
	})
	t.Run("UIDPLUS APPENDUID and STATUS=SIZE", func(t *testing.T) {
		msg := "Subject: first\r\n\r\nfirst message\r\n"
		_, tagged := c.send(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
		require.Regexp(t, `^OK \[APPENDUID \d+ 1\]`, tagged)
		lines := c.ok("STATUS INBOX (MESSAGES SIZE)")
		l := anyMatch(t, lines, `^\* STATUS "?INBOX"? \(`)
		assert.Contains(t, l, "MESSAGES 1")
		assert.Contains(t, l, fmt.Sprintf("SIZE %d", len(msg)))
	})
	t.Run("APPENDLIMIT", func(t *testing.T) {
		o := dialCap(t, srv.addr)
		o.ok("LOGIN demo demo")
		_, tagged := o.send(fmt.Sprintf("APPEND INBOX {%d}", appendLimit+1))
		assert.Regexp(t, `^NO \[TOOBIG\]`, tagged, "a literal over APPENDLIMIT is refused before its bytes")
	})
	t.Run("SASL-IR", func(t *testing.T) {
		o := dialCap(t, srv.addr)
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
		lines, tagged := o.send("AUTHENTICATE PLAIN " + ir)
		require.True(t, strings.HasPrefix(tagged, "OK"), "%s %q", tagged, lines)
		for _, l := range lines {
			assert.False(t, strings.HasPrefix(l, "+"), "continuation despite an initial response")
		}
	})
	t.Run("CHILDREN and CREATE-SPECIAL-USE", func(t *testing.T) {
		c.ok(`CREATE "Parent/Child"`)
		lines := c.ok(`LIST "" "Parent"`)
		assert.Contains(t, anyMatch(t, lines, `^\* LIST .*"?Parent"?\r\n$`), `\HasChildren`)
		lines = c.ok(`LIST "" "Parent/Child"`)
		assert.Contains(t, anyMatch(t, lines, `^\* LIST .*"?Parent/Child"?\r\n$`), `\HasNoChildren`)

		c.ok(`CREATE "Keep" (USE (\Archive))`)
		lines = c.ok(`LIST "" "Keep"`)
		assert.Contains(t, anyMatch(t, lines, `^\* LIST .*"?Keep"?\r\n$`), `\Archive`)
	})
	t.Run("SPECIAL-USE", func(t *testing.T) {
		lines := c.ok(`LIST (SPECIAL-USE) "" "*"`)
		require.NotEmpty(t, lines)
		for _, l := range lines {
			assert.Regexp(t, `\\(All|Archive|Drafts|Flagged|Junk|Sent|Trash)`, l, "selection SPECIAL-USE returned a mailbox without one")
		}
		anyMatch(t, lines, `\\Sent`)
		anyMatch(t, lines, `\\Trash`)
		lines = c.ok(`LIST "" "*" RETURN (SPECIAL-USE)`)
		anyMatch(t, lines, `\\Drafts`)
	})
	t.Run("LIST-EXTENDED", func(t *testing.T) {
		lines := c.ok(`LIST "" ("INBOX" "Parent") RETURN (CHILDREN)`)
		require.Len(t, lines, 2, "%q", lines)
		anyMatch(t, lines, `^\* LIST .*"?INBOX"?\r\n$`)
		anyMatch(t, lines, `^\* LIST .*\\HasChildren.*"?Parent"?\r\n$`)
	})
	t.Run("LIST-STATUS", func(t *testing.T) {
		lines := c.ok(`LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT))`)
		l := anyMatch(t, lines, `^\* STATUS "?INBOX"? `)
		assert.Contains(t, l, "MESSAGES 1")
		assert.Contains(t, l, "UIDNEXT 2")
	})

	second := "Subject: second\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("decoded by BINARY\r\n")) + "\r\n--b--\r\n"
	c.ok(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(second), second))
	c.ok("SELECT INBOX")

	t.Run("ESEARCH", func(t *testing.T) {
		lines := c.ok("SEARCH RETURN (MIN MAX COUNT) ALL")
		l := anyMatch(t, lines, `^\* ESEARCH \(TAG "c\d+"\) `)
		for _, want := range []string{"MIN 1", "MAX 2", "COUNT 2"} {
			assert.Contains(t, l, want)
		}
		lines = c.ok("UID SEARCH RETURN (ALL) SUBJECT second")
		assert.Regexp(t, ` UID ALL 2\r\n$`, anyMatch(t, lines, `^\* ESEARCH `))
	})
	t.Run("SEARCHRES", func(t *testing.T) {
		lines := c.ok("SEARCH RETURN (SAVE) SUBJECT second")
		for _, l := range lines {
			assert.NotRegexp(t, `^\* (E?SEARCH)`, l, "RETURN (SAVE) alone returns no result")
		}
		lines = c.ok("FETCH $ (UID)")
		require.Len(t, lines, 1, "%q", lines)
		assert.Equal(t, "* 2 FETCH (UID 2)\r\n", lines[0])
	})
	t.Run("WITHIN", func(t *testing.T) {
		lines := c.ok("SEARCH YOUNGER 86400")
		assert.Equal(t, "* SEARCH 1 2\r\n", anyMatch(t, lines, `^\* SEARCH`))
		lines = c.ok("SEARCH OLDER 86400")
		assert.Equal(t, "* SEARCH\r\n", anyMatch(t, lines, `^\* SEARCH`))
	})
	t.Run("PREVIEW", func(t *testing.T) {
		lines := c.ok("FETCH 1:* (PREVIEW (LAZY))")
		assert.Regexp(t, `^\* 1 FETCH \(PREVIEW ("[^"]+"|\{\d+\}\r\n)`, anyMatch(t, lines, `^\* 1 FETCH`))
	})
	t.Run("OBJECTID", func(t *testing.T) {
		lines := c.ok("FETCH 1 (EMAILID THREADID)")
		assert.Regexp(t, `EMAILID \(E\d+\) THREADID NIL`, anyMatch(t, lines, `^\* 1 FETCH`))
		lines = c.ok("STATUS INBOX (MAILBOXID)")
		assert.Regexp(t, `MAILBOXID \(M\d+\)`, anyMatch(t, lines, `^\* STATUS`))
	})
	t.Run("SORT", func(t *testing.T) {
		lines := c.ok("SORT (REVERSE ARRIVAL) UTF-8 ALL")
		assert.Equal(t, "* SORT 2 1\r\n", anyMatch(t, lines, `^\* SORT`))
		lines = c.ok("UID SORT (SUBJECT) US-ASCII ALL")
		anyMatch(t, lines, `^\* SORT( \d+)+\r\n$`)
	})
	t.Run("SORT=DISPLAY", func(t *testing.T) {
		lines := c.ok("SORT (DISPLAYFROM REVERSE DISPLAYTO) UTF-8 ALL")
		anyMatch(t, lines, `^\* SORT( \d+){2}\r\n$`)
	})
	t.Run("ESORT", func(t *testing.T) {
		lines := c.ok("SORT RETURN (MIN MAX COUNT ALL) (REVERSE ARRIVAL) UTF-8 ALL")
		assert.Regexp(t, ` MIN 2 MAX 1 COUNT 2 ALL 2,1\r\n$`, anyMatch(t, lines, `^\* ESEARCH \(TAG "c\d+"\)`))
	})
	t.Run("CONTEXT=SEARCH and CONTEXT=SORT", func(t *testing.T) {
		// RFC 5267 4: updates of a search and a sort context as the
		// session's own STOREs change the results, then CANCELUPDATE.
		anyMatch(t, c.ok("UID SEARCH RETURN (UPDATE COUNT) KEYWORD $Ctx"), `^\* ESEARCH \(TAG "c\d+"\) UID COUNT 0\r\n$`)
		search := fmt.Sprintf("c%02d", c.n)
		c.ok("UID SORT RETURN (UPDATE) (REVERSE ARRIVAL) UTF-8 KEYWORD $Ctx")
		sorted := fmt.Sprintf("c%02d", c.n)
		lines := c.ok("STORE 1:2 +FLAGS ($Ctx)")
		m := regexp.MustCompile(`^\* ESEARCH \(TAG "` + search + `"\) UID ADDTO \(0 (\d+):(\d+)\)\r\n$`).FindStringSubmatch(anyMatch(t, lines, `TAG "`+search+`"`))
		require.NotNil(t, m, "%q", lines)
		first, second := m[1], m[2]
		anyMatch(t, lines, `^\* ESEARCH \(TAG "`+sorted+`"\) UID ADDTO \(1 `+first+` 1 `+second+`\)\r\n$`)
		lines = c.ok("STORE 1 -FLAGS ($Ctx)")
		anyMatch(t, lines, `^\* ESEARCH \(TAG "`+search+`"\) UID REMOVEFROM \(0 `+first+`\)\r\n$`)
		anyMatch(t, lines, `^\* ESEARCH \(TAG "`+sorted+`"\) UID REMOVEFROM \(2 `+first+`\)\r\n$`)
		c.ok(`CANCELUPDATE "` + search + `" "` + sorted + `"`)
		for _, l := range c.ok("STORE 1:2 -FLAGS ($Ctx)") {
			assert.NotContains(t, l, "ESEARCH", "no updates after CANCELUPDATE")
		}
		anyMatch(t, c.ok("UID SEARCH RETURN (PARTIAL 2:1) ALL"), `^\* ESEARCH \(TAG "c\d+"\) UID PARTIAL \(1:2 \d+:\d+\)\r\n$`)
	})
	t.Run("THREAD=ORDEREDSUBJECT", func(t *testing.T) {
		lines := c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
		anyMatch(t, lines, `^\* THREAD \(`)
	})
	t.Run("THREAD=REFERENCES", func(t *testing.T) {
		lines := c.ok("UID THREAD REFERENCES UTF-8 ALL")
		anyMatch(t, lines, `^\* THREAD \(`)
	})
	t.Run("BINARY", func(t *testing.T) {
		lines := c.ok("FETCH 2 (BINARY.SIZE[1] BINARY.PEEK[1])")
		l := anyMatch(t, lines, `^\* 2 FETCH `)
		assert.Contains(t, l, fmt.Sprintf("BINARY.SIZE[1] %d", len("decoded by BINARY\r\n")))
		// A literal8 (~{n}) is allowed for any BINARY content (RFC 3516).
		assert.Regexp(t, `BINARY\[1\] ~?\{19\}\r\ndecoded by BINARY\r\n\)`, l)
	})
	t.Run("MOVE", func(t *testing.T) {
		lines := c.ok("UID MOVE 1 Trash")
		anyMatch(t, lines, `^\* OK \[COPYUID \d+ 1 \d+\]`)
		anyMatch(t, lines, `^\* 1 EXPUNGE\r\n$`)
	})
	t.Run("UIDPLUS UID EXPUNGE", func(t *testing.T) {
		third := "Subject: third\r\n\r\nthird\r\n"
		c.ok(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(third), third))
		c.ok(`STORE 1:* +FLAGS.SILENT (\Deleted)`)
		// Only the given UID goes, although both are \Deleted.
		lines := c.ok("UID EXPUNGE 3")
		assert.Equal(t, []string{"* 2 EXPUNGE\r\n"}, slices.DeleteFunc(lines, func(l string) bool {
			return !strings.HasSuffix(l, "EXPUNGE\r\n")
		}))
	})
	t.Run("UNSELECT", func(t *testing.T) {
		c.ok("UNSELECT")
		// UNSELECT does not expunge the remaining \Deleted message.
		lines := c.ok("STATUS INBOX (MESSAGES)")
		assert.Contains(t, anyMatch(t, lines, `^\* STATUS`), "MESSAGES 1")
		_, tagged := c.send("FETCH 1 (FLAGS)")
		assert.Regexp(t, `^(BAD|NO)`, tagged, "no mailbox is selected after UNSELECT")
	})
	t.Run("CONDSTORE", func(t *testing.T) {
		lines := c.ok("SELECT INBOX (CONDSTORE)")
		hms := anyMatch(t, lines, `^\* OK \[HIGHESTMODSEQ \d+\]`)
		assert.NotEmpty(t, hms)
		lines = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
		anyMatch(t, lines, `^\* \d+ FETCH \(.*MODSEQ \(\d+\)`)
		// The message changed after mod-sequence 1, so the conditional
		// STORE fails for it (RFC 7162 3.1.3).
		_, tagged := c.send(`STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\Flagged)`)
		assert.Regexp(t, `^OK \[MODIFIED 1\]`, tagged)
		_, tagged = c.send("UNSELECT")
		assert.Regexp(t, `^OK`, tagged)
	})
	t.Run("QRESYNC", func(t *testing.T) {
		o := dialCap(t, srv.addr)
		o.ok("LOGIN demo demo")
		anyMatch(t, o.ok("ENABLE QRESYNC"), `^\* ENABLED QRESYNC\r\n$`)
		lines := o.ok("SELECT INBOX")
		uv := regexp.MustCompile(`\[UIDVALIDITY (\d+)\]`).FindStringSubmatch(anyMatch(t, lines, `UIDVALIDITY`))[1]
		hms := regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`).FindStringSubmatch(anyMatch(t, lines, `HIGHESTMODSEQ`))[1]
		msg := "Subject: short-lived\r\n\r\nexpunged soon\r\n"
		_, tagged := o.send(fmt.Sprintf("APPEND INBOX (\\Deleted) {%d+}\r\n%s", len(msg), msg))
		uid := regexp.MustCompile(`APPENDUID \d+ (\d+)\]`).FindStringSubmatch(tagged)[1]
		// Expunges are reported as VANISHED, with the new HIGHESTMODSEQ.
		lines, tagged = o.send("UID EXPUNGE " + uid)
		anyMatch(t, lines, `^\* VANISHED `+uid+`\r\n$`)
		assert.Regexp(t, `^OK \[HIGHESTMODSEQ \d+\]`, tagged)
		// A resynchronising EXAMINE closes INBOX and names what vanished.
		lines = o.ok("EXAMINE INBOX (QRESYNC (" + uv + " " + hms + "))")
		assert.Regexp(t, `^\* OK \[CLOSED\]`, lines[0])
		anyMatch(t, lines, `^\* VANISHED \(EARLIER\) `+uid+`\r\n$`)
		lines = o.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + hms + " VANISHED)")
		assert.Regexp(t, `^\* VANISHED \(EARLIER\) `+uid+`\r\n$`, lines[0])
		_, tagged = o.send("FETCH 1:* (FLAGS) (CHANGEDSINCE " + hms + " VANISHED)")
		assert.Regexp(t, `^BAD`, tagged, "VANISHED needs UID FETCH")
	})
	t.Run("METADATA", func(t *testing.T) {
		// RFC 5464 4.2 to 4.4.1, the examples.
		c.ok(`SETMETADATA "" (/shared/comment "Shared comment")`)
		assert.Equal(t, []string{"* METADATA \"\" (/shared/comment \"Shared comment\")\r\n"}, c.ok(`GETMETADATA "" /shared/comment`))
		c.ok(`SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "This one is for you!")`)
		assert.Equal(t, []string{"* METADATA INBOX (/shared/comment \"This one is for you!\" /private/comment \"My own comment\")\r\n"},
			c.ok(`GETMETADATA "INBOX" (/shared/comment /private/comment)`))
		long := strings.Repeat("z", 2199)
		c.ok(fmt.Sprintf("SETMETADATA INBOX (/shared/comment {%d+}\r\n%s)", len(long), long))
		lines, tagged := c.send(`GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)`)
		assert.Equal(t, []string{"* METADATA INBOX (/private/comment \"My own comment\")\r\n"}, lines)
		assert.Regexp(t, `^OK \[METADATA LONGENTRIES 2199\]`, tagged)
		c.ok(`SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \"boss@example.com\"")`)
		assert.Equal(t, []string{"* METADATA INBOX (/private/filters/values/boss \"FROM \\\"boss@example.com\\\"\" /private/filters/values/small \"SMALLER 5000\")\r\n"},
			c.ok(`GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)`))
		c.ok(`SETMETADATA INBOX (/private/comment NIL)`)
		assert.Equal(t, []string{"* METADATA INBOX (/private/comment NIL)\r\n"}, c.ok(`GETMETADATA INBOX /private/comment`))
		_, tagged = c.send(`SETMETADATA INBOX (/private/a* "x")`)
		assert.Regexp(t, `^BAD`, tagged, "an entry name with * (RFC 5464 3.2)")
		c.ok(`SETMETADATA INBOX (/shared/comment NIL /private/filters/values/small NIL /private/filters/values/boss NIL)`)
		c.ok(`SETMETADATA "" (/shared/comment NIL)`)
	})
	t.Run("QUOTA", func(t *testing.T) {
		// Without limits the account has no quota root.
		anyMatch(t, c.ok("GETQUOTAROOT INBOX"), `^\* QUOTAROOT INBOX\r\n$`)
		ctx := context.Background()
		require.NoError(t, srv.store.SetQuota(ctx, testUser, store.Quota{Storage: 10 << 20, Messages: 1000}))
		lines := c.ok("GETQUOTAROOT INBOX")
		anyMatch(t, lines, `^\* QUOTAROOT INBOX ""\r\n$`)
		m := regexp.MustCompile(`^\* QUOTA "" \(STORAGE (\d+) 10240 MESSAGE (\d+) 1000\)\r\n$`).FindStringSubmatch(anyMatch(t, lines, `^\* QUOTA `))
		require.NotNil(t, m)
		used, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		assert.Positive(t, used)
		assert.Equal(t, lines[1:], c.ok(`GETQUOTA ""`))
		_, tagged := c.send(`SETQUOTA "" (STORAGE 1)`)
		assert.Regexp(t, `^NO \[NOPERM\]`, tagged, "SETQUOTA is not offered (no QUOTASET)")
		// At the limit, APPEND and COPY are refused and store nothing.
		require.NoError(t, srv.store.SetQuota(ctx, testUser, store.Quota{Messages: int64(used)}))
		msg := "Subject: over\r\n\r\nover quota\r\n"
		_, tagged = c.send(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
		assert.Regexp(t, `^NO \[OVERQUOTA\]`, tagged)
		c.ok("EXAMINE INBOX")
		_, tagged = c.send("COPY 1 INBOX")
		assert.Regexp(t, `^NO \[OVERQUOTA\]`, tagged)
		c.ok("UNSELECT")
		assert.Equal(t, []string{fmt.Sprintf("* QUOTA \"\" (MESSAGE %d %d)\r\n", used, used)}, c.ok(`GETQUOTA ""`))
		// STATUS DELETED-STORAGE comes with QUOTA=RES-STORAGE (RFC 9208 5.1).
		anyMatch(t, c.ok("STATUS INBOX (DELETED DELETED-STORAGE)"), `^\* STATUS "?INBOX"? \(DELETED \d+ DELETED-STORAGE \d+\)\r\n$`)
		require.NoError(t, srv.store.SetQuota(ctx, testUser, store.Quota{}))
	})
	t.Run("NOTIFY", func(t *testing.T) {
		// Another session's CREATE and APPEND reach c between commands
		// (RFC 5465); NOTIFY NONE stops them.
		c.ok("NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
		o := dialCap(t, srv.addr)
		o.ok("LOGIN " + testUser + " " + testPassword)
		o.ok("CREATE Notified")
		assert.Equal(t, "* LIST (\\HasNoChildren) \"/\" Notified\r\n", c.line())
		msg := "Subject: notified\r\n\r\nhello\r\n"
		o.ok(fmt.Sprintf("APPEND Notified {%d+}\r\n%s", len(msg), msg))
		assert.Regexp(t, `^\* STATUS Notified \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+( HIGHESTMODSEQ \d+)?\)\r\n$`, c.line())
		_, tagged := c.send("NOTIFY SET (personal (AnnotationChange))")
		assert.Regexp(t, `^NO \[BADEVENT \(`, tagged)
		c.ok("NOTIFY NONE")
		o.ok("DELETE Notified")
		assert.Empty(t, c.ok("NOOP"))
		o.ok("LOGOUT")
	})
	t.Run("IDLE", func(t *testing.T) {
		c.n++
		tag := fmt.Sprintf("c%02d", c.n)
		c.write(tag + " IDLE\r\n")
		require.Regexp(t, `^\+ `, c.line())
		c.write("DONE\r\n")
		_, tagged := c.read(tag)
		assert.Regexp(t, `^OK`, tagged)
	})
	t.Run("ENABLE and UTF8=ACCEPT", func(t *testing.T) {
		lines := c.ok("ENABLE UTF8=ACCEPT")
		anyMatch(t, lines, `^\* ENABLED UTF8=ACCEPT\r\n$`)
		c.ok(`CREATE "Café/Zürich"`)
		lines = c.ok(`LIST "" "Caf*"`)
		anyMatch(t, lines, `"Café/Zürich"\r\n$`)
		for _, l := range lines {
			assert.NotContains(t, l, "&", "modified UTF-7 after ENABLE UTF8=ACCEPT")
		}
	})
	t.Run("COMPRESS=DEFLATE", func(t *testing.T) {
		_, tagged := c.send("COMPRESS DEFLATE")
		require.Equal(t, "OK DEFLATE active", tagged)
		startDeflate(c.rawConn)
		lines := c.ok("NOOP") // the first compressed exchange
		assert.Empty(t, lines)
		c.ok("SELECT INBOX")
		lines = c.ok("FETCH 1 (BODY.PEEK[])")
		anyMatch(t, lines, `^\* 1 FETCH \(BODY\[\] \{\d+\}`)
	})
	c.ok("LOGOUT")
}

// deflateConn is a client's side of COMPRESS DEFLATE (RFC 4978): reads are
// decompressed, each write is compressed and sync-flushed.
type deflateConn struct {
	net.Conn
	r  io.Reader
	fw *flate.Writer
}

func (d *deflateConn) Read(p []byte) (int, error) { return d.r.Read(p) }

// Write compresses p and sends it with a sync flush in one write, as
// zlib clients do.
func (d *deflateConn) Write(p []byte) (int, error) {
	var b bytes.Buffer
	d.fw.Reset(&b)
	d.fw.Write(p)
	d.fw.Flush()
	if _, err := d.Conn.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// startDeflate switches c to DEFLATE after the tagged OK of COMPRESS.
func startDeflate(c *rawConn) {
	rest, err := c.br.Peek(c.br.Buffered())
	require.NoError(c.t, err)
	fw, err := flate.NewWriter(c.nc, flate.DefaultCompression)
	require.NoError(c.t, err)
	dc := &deflateConn{Conn: c.nc, r: flate.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(rest)), c.nc)), fw: fw}
	c.nc = dc
	c.br = bufio.NewReader(dc)
}
