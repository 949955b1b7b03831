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
