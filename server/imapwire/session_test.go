package imapwire

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSynchronisingLiteralHandshake runs a decoder and an encoder over a
// real in-memory connection: the client sends a synchronising literal's
// payload only after it has received the continuation request, so a decoder
// that read ahead before asking would block and the test would time out.
func TestSynchronisingLiteralHandshake(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	require.NoError(t, server.SetDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, client.SetDeadline(time.Now().Add(5*time.Second)))

	enc := NewEncoder(server)
	dec := NewDecoder(server, DefaultLimits())
	dec.SetContinuationFunc(func(LiteralInfo) error {
		return enc.Continuation("Ready for literal data").Flush()
	})

	clientDone := make(chan error, 1)
	go func() {
		clientDone <- func() error {
			cr := bufio.NewReader(client)
			if _, err := io.WriteString(client, "A1 LOGIN {5}\r\n"); err != nil {
				return err
			}
			if l, err := cr.ReadString('\n'); err != nil || l != "+ Ready for literal data\r\n" {
				return fmt.Errorf("continuation: %q, %v", l, err)
			}
			if _, err := io.WriteString(client, "alice {6}\r\n"); err != nil {
				return err
			}
			if l, err := cr.ReadString('\n'); err != nil || l[0] != '+' {
				return fmt.Errorf("second continuation: %q, %v", l, err)
			}
			if _, err := io.WriteString(client, "secret\r\n"); err != nil {
				return err
			}
			l, err := cr.ReadString('\n')
			if err != nil {
				return err
			}
			if l != "A1 OK LOGIN completed\r\n" {
				return fmt.Errorf("completion: %q", l)
			}
			return nil
		}()
	}()

	line, err := dec.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	a := dec.Args(cmd.ArgsStart)
	require.NoError(t, a.SP())
	user, err := a.AString()
	require.NoError(t, err)
	require.NoError(t, a.SP())
	pass, err := a.AString()
	require.NoError(t, err)
	require.NoError(t, a.End())
	assert.Equal(t, "alice", user)
	assert.Equal(t, "secret", pass)
	require.NoError(t, enc.StatusResponse(cmd.Tag, StatusOK, "", "LOGIN completed").Flush())
	require.NoError(t, <-clientDone)
}

// TestRejectedSyncLiteralWaitsForNothing checks that after a synchronising
// literal is refused (too large) the decoder does not try to read its
// payload: the client never sends it and goes on with the next command.
func TestRejectedSyncLiteralWaitsForNothing(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	require.NoError(t, server.SetDeadline(time.Now().Add(5*time.Second)))

	dec := NewDecoder(server, smallLimits())
	dec.SetContinuationFunc(func(LiteralInfo) error {
		t.Error("continuation requested for a refused literal")
		return nil
	})
	go func() {
		_, _ = io.WriteString(client, "A1 LOGIN {1000}\r\n")
		_, _ = io.WriteString(client, "A2 NOOP\r\n")
	}()
	line, err := dec.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	a := dec.Args(cmd.ArgsStart)
	require.NoError(t, a.SP())
	_, err = a.AString()
	require.ErrorIs(t, err, ErrLiteralTooLarge)
	require.NoError(t, dec.Discard())
	line, err = dec.ReadLine()
	require.NoError(t, err)
	assert.Equal(t, "A2 NOOP", string(line.Text))
}
