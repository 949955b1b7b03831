package cli

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProbeCommandLine(t *testing.T) {
	r := run(t, "", "probe", "--help")
	assert.Equal(t, 0, r.code)
	for _, f := range []string{"Usage: imapd probe", "-user", "-password-file", "-tls", "-starttls", "-insecure", "-mailbox", "-json", "-timeout", "-idle-wait"} {
		assert.Contains(t, r.stdout, f)
	}
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{[]string{"probe"}, "want 1 argument"},
		{[]string{"probe", "127.0.0.1:1"}, "--user is required"},
		{[]string{"probe", "--user", "u", "--tls", "--starttls", "127.0.0.1:1"}, "exclude each other"},
		{[]string{"probe", "--user", "u", "--password", "p", "--password-file", "f", "127.0.0.1:1"}, "not both"},
	} {
		requireOneLineError(t, run(t, "", tc.args...), ExitUsage, tc.contains)
	}
	// Nothing listens: the probe could not run, which is exit status 1.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	requireOneLineError(t, run(t, "", "probe", "--user", "u", "--password", "p", "--timeout", "1s", addr), ExitFailure, "probe setup failed")
}
