package server

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTraceRedacts feeds a tracer both directions of an exchange and
// checks what the trace file shows.
func TestTraceRedacts(t *testing.T) {
	dir := t.TempDir()
	tr, err := newTracer(dir, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242})
	require.NoError(t, err)
	c := func(s string) { tr.feed(&tr.client, []byte(s)) }
	s := func(s string) { tr.feed(&tr.server, []byte(s)) }
	s("* OK ready\r\n")
	c("a1 AUTHENTICATE PLAIN\r\n")
	s("+ \r\n")
	c("AGFsaWNlAHNlY3JldA==\r\n")
	s("a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
	c("a2 AUTHENTICATE PLAIN\r\n")
	s("+ \r\n")
	c("*\r\n")
	s("a2 BAD AUTHENTICATE cancelled\r\n")
	c("a3 login alice \"secret\"\r\n")
	s("a3 OK done\r\n")
	// Split writes, a literal split across reads, and bytes after it.
	c("a4 APPEND INBOX {11}\r")
	c("\nhello")
	c(" world\r\na5 NOOP\r\n")
	s("* 1 FETCH (BODY[] {5}\r\nhush!)\r\n")
	tr.note("event autologout")
	tr.close()

	files, _ := filepath.Glob(filepath.Join(dir, "*.trace"))
	require.Len(t, files, 1)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	got := string(b)
	for _, secret := range []string{"AGFsaWNl", "secret", "hello", "hush"} {
		assert.NotContains(t, got, secret)
	}
	for _, want := range []string{
		"C: a1 AUTHENTICATE PLAIN\n", "C: <redacted>\n", "C: *\n",
		"C: a3 login <redacted>\n",
		"C: a4 APPEND INBOX {11}\nC: <literal 11 bytes redacted>\nC: \nC: a5 NOOP\n",
		"S: * 1 FETCH (BODY[] {5}\nS: <literal 5 bytes redacted>\nS: )\n",
		"-- event autologout\n",
	} {
		assert.Contains(t, got, want)
	}
}
