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

func TestReplayCommandLine(t *testing.T) {
	r := run(t, "", "replay", "--help")
	assert.Equal(t, 0, r.code)
	for _, f := range []string{"Usage: imapd replay", "-strictness", "-quirk", "-json", "idle-tagged-command"} {
		assert.Contains(t, r.stdout, f)
	}
	requireOneLineError(t, run(t, "", "replay"), ExitUsage, "want 1 argument")
	requireOneLineError(t, run(t, "", "replay", "--strictness", "pedantic", "x"), ExitUsage, "--strictness")
	requireOneLineError(t, run(t, "", "replay", "no-such-file"), ExitFailure, "no-such-file")

	transcript := "S: * OK ready\nC: a1 LOGIN u p\nS: a1 OK done\nC: a2 IDLE\nS: + idling\nC: a3 NOOP\nS: a2 BAD Invalid Idle continuation\n"
	r = run(t, transcript, "replay", "--strictness", "strict", "-")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "quirk idle-tagged-command")
	assert.Contains(t, r.stdout, "DIFFERS: the spec answers a3 BAD")
	assert.Contains(t, r.stdout, "1 differ from the spec in strict mode")

	r = run(t, transcript, "replay", "--json", "-")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"quirk": "idle-tagged-command"`)
	assert.Contains(t, r.stdout, `"before": "idle-authenticated"`)
}
