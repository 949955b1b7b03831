package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handWrittenStateCheck matches comparisons against session states: the
// spec is the only place where state decisions are made.
var handWrittenStateCheck = regexp.MustCompile(`(==|!=)\s*fsm\.State[A-Z]|fsm\.State[A-Z]\w*\s*(==|!=)|case\s+fsm\.State[A-Z]|\bstate\s*(==|!=)|switch\s+c\.state\s*\{`)

// TestNoHandWrittenStateChecks scans the server's Go sources (tests
// excluded) for comparisons against fsm states. Decisions belong in
// spec/imap.yaml; the server asks fsm.Step.
func TestNoHandWrittenStateChecks(t *testing.T) {
	var offenders []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			code, _, _ := strings.Cut(line, "//")
			if handWrittenStateCheck.MatchString(code) {
				offenders = append(offenders, path+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, offenders, "state decisions belong in spec/imap.yaml")
}

// TestStateCheckPatternCatches shows the scan can fail.
func TestStateCheckPatternCatches(t *testing.T) {
	for _, bad := range []string{
		"if c.state == fsm.StateSelected {",
		"if fsm.StateIdleSelected != c.state {",
		"case fsm.StateAuthenticated:",
		"switch c.state {",
	} {
		assert.True(t, handWrittenStateCheck.MatchString(bad), bad)
	}
	assert.False(t, handWrittenStateCheck.MatchString("d := fsm.Step(c.state, in, c.modes)"))
}

// sessionFactRead matches reads of session facts that stand for a state
// or for one of the spec's facts: whether TLS is active, whether a user is
// logged in, whether a mailbox is selected, and a test of the spec's facts
// (c.facts.Has, c.facts&...) instead of asking the machine.
var sessionFactRead = regexp.MustCompile(`\bc\.tls\b|\bc\.user\s*(==|!=)\s*nil|\bc\.mailbox\s*(==|!=)\s*nil|\bc\.facts\.Has\(|\bc\.facts\s*&`)

// knownFactReads are the reads of those facts that decide nothing about
// the session, each with its reason: I/O on the connection, data of a
// command, logging. Whether TLS is active, credentials are allowed, a user
// is logged in or a mailbox is selected is decided by the spec (its facts
// tls and plaintext-auth, its attributes authenticated and mailbox-open).
// A new read fails TestNoNewSessionFactReads: add the decision to the spec
// instead.
var knownFactReads = map[string]string{
	"capability.go:enableCondstore": "whether a mailbox object exists whose HIGHESTMODSEQ is owed (data; during SELECT the state is still the old one)",
	"cmd_auth.go:handshake":         "records that the connection is now a *tls.Conn (I/O; the tls fact comes from the tls-ready effect)",
	"cmd_idle.go:pushFromHub":       "a write over TLS cannot be retried after a timeout (I/O, not a decision)",
	"cmd_list.go:cmdStatus":         "is the mailbox named the selected one (data, for the status-selected quirk)",
	"conn.go:newConn":               "records whether the connection is implicit TLS, for I/O and the opening facts",
	"conn.go:serve":                 "logs whether the connection is TLS",
	"limits.go:Write":               "non-blocking writes only on plain sockets (I/O, not a decision)",
	"mailbox_view.go:closeMailbox":  "nothing to close without a mailbox (releasing a resource)",
	"notify.go:startNotify":         "copies the selected mailbox's ID into NOTIFY state made on first use (data for the notifier's callback)",
}

// TestNoNewSessionFactReads keeps the reads of session facts that belong
// in the spec from spreading: every one must be a known one.
func TestNoNewSessionFactReads(t *testing.T) {
	funcDecl := regexp.MustCompile(`^func (\([^)]*\) )?(\w+)`)
	var offenders []string
	seen := map[string]bool{}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		fn := ""
		for i, line := range strings.Split(string(data), "\n") {
			if m := funcDecl.FindStringSubmatch(line); m != nil {
				fn = m[2]
			}
			code, _, _ := strings.Cut(line, "//")
			if sessionFactRead.MatchString(code) {
				seen[path+":"+fn] = true
				if _, ok := knownFactReads[path+":"+fn]; !ok {
					offenders = append(offenders, path+":"+strconv.Itoa(i+1)+" ("+fn+"): "+strings.TrimSpace(line))
				}
			}
		}
	}
	assert.Empty(t, offenders, "a new decision on TLS, login or the selected mailbox belongs in spec/imap.yaml")
	for known := range knownFactReads {
		assert.True(t, seen[known], "%s no longer reads the fact: drop it from knownFactReads", known)
	}
}

// TestSessionFactPatternCatches shows the scan can fail.
func TestSessionFactPatternCatches(t *testing.T) {
	for _, bad := range []string{"if c.tls {", "if c.user == nil {", "if c.mailbox != nil {", "ok := !c.tls", "if c.facts.Has(fsm.FactTLS) {", "tls := c.facts&fsm.FactTLS != 0"} {
		assert.True(t, sessionFactRead.MatchString(bad), bad)
	}
	assert.False(t, sessionFactRead.MatchString("c.tlsConfig()"))
	assert.False(t, sessionFactRead.MatchString("d := fsm.Step(c.state, c.facts, in, c.modes)"), "passing the facts to the machine decides nothing by hand")
}
