package imapc

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiteralSize(t *testing.T) {
	n, ok := literalSize([]byte("* 1 FETCH (BODY[] {12}"))
	assert.True(t, ok)
	assert.EqualValues(t, 12, n)
	n, ok = literalSize([]byte("a1 APPEND INBOX {5+}"))
	assert.True(t, ok)
	assert.EqualValues(t, 5, n)
	for _, no := range []string{"* OK {x}", "* OK done", "}", "* OK {-1}"} {
		_, ok := literalSize([]byte(no))
		assert.False(t, ok, no)
	}
}

// fakeServer answers the client's lines with script: each client line
// read is answered by the next entry.
func fakeServer(t *testing.T, greeting string, script ...string) *Conn {
	t.Helper()
	cli, srv := net.Pipe()
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() {
		srv.Write([]byte(greeting))
		r := bufio.NewReader(srv)
		for _, reply := range script {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			srv.Write([]byte(reply))
		}
	}()
	c := NewConn(cli, 5*time.Second)
	resp, err := c.Read()
	require.NoError(t, err)
	c.Greeting = resp.Line
	return c
}

func TestCommandWithLiteralAndCapabilities(t *testing.T) {
	c := fakeServer(t, "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] hi\r\n",
		"* 1 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n* 2 EXISTS\r\na1 OK done\r\n",
		"a2 NO [TRYCREATE] no such mailbox\r\n")
	assert.True(t, c.Has("LITERAL+"))
	assert.False(t, c.Has("UIDPLUS"))
	res, err := c.Expect("UID FETCH 7 BODY.PEEK[]")
	require.NoError(t, err)
	require.Len(t, res.Untagged, 2)
	assert.Equal(t, "* 1 FETCH (UID 7 BODY[] {5})", res.Untagged[0].Line)
	assert.Equal(t, [][]byte{[]byte("hello")}, res.Untagged[0].Literals)
	n, kw, ok := res.Untagged[1].Number()
	assert.True(t, ok)
	assert.Equal(t, "EXISTS", kw)
	assert.EqualValues(t, 2, n)
	res, err = c.Expect("SELECT nope")
	assert.ErrorIs(t, err, ErrVerify)
	assert.Equal(t, "NO", res.Status)
}

func TestWrongTagIsAWrongAnswer(t *testing.T) {
	c := fakeServer(t, "* OK hi\r\n", "a9 OK done\r\n")
	_, err := c.Command("NOOP")
	assert.ErrorIs(t, err, ErrVerify)
}

func TestLogoutWantsBye(t *testing.T) {
	c := fakeServer(t, "* OK hi\r\n", "a1 OK bye\r\n")
	assert.ErrorIs(t, c.Logout(), ErrVerify)
}

func TestQuoteAndAppendUID(t *testing.T) {
	assert.Equal(t, `"a\"b\\c"`, Quote(`a"b\c`))
	uid, ok := AppendUID("[APPENDUID 38505 3955] APPEND completed")
	assert.True(t, ok)
	assert.EqualValues(t, 3955, uid)
	_, ok = AppendUID("APPEND completed")
	assert.False(t, ok)
	_, ok = AppendUID("[APPENDUID 1 0] x")
	assert.False(t, ok)
}
