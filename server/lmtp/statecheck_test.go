package lmtp

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handWrittenSequenceCheck matches the shapes a hand-written LMTP command
// sequence check takes: comparisons against machine states, a flag for
// "MAIL was given" or "LHLO was given", or a recipient count deciding
// whether DATA may run. spec/lmtp.yaml makes those decisions.
var handWrittenSequenceCheck = regexp.MustCompile(`(==|!=)\s*lmtpfsm\.State[A-Z]|lmtpfsm\.State[A-Z]\w*\s*(==|!=)|case\s+lmtpfsm\.State[A-Z]|\bstate\s*(==|!=)|switch\s+ss\.state\s*\{|\binMail\b|\bhelo\s*(==|!=)\s*""|len\(ss\.rcpts\)\s*(==|<=?)\s*0`)

// TestNoHandWrittenSequenceChecks scans the package's Go sources (tests
// excluded) for sequence checks: the session asks lmtpfsm.Step.
func TestNoHandWrittenSequenceChecks(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var offenders []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			code, _, _ := strings.Cut(line, "//")
			if handWrittenSequenceCheck.MatchString(code) {
				offenders = append(offenders, path+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
	}
	assert.Empty(t, offenders, "LMTP sequence decisions belong in spec/lmtp.yaml")
}

// TestSequenceCheckPatternCatches shows the scan can fail: the checks this
// package used to make by hand are caught.
func TestSequenceCheckPatternCatches(t *testing.T) {
	for _, bad := range []string{
		`if ss.helo == "" {`,
		"if ss.inMail {",
		"if len(ss.rcpts) == 0 {",
		"if ss.state == lmtpfsm.StateRecipients {",
		"case lmtpfsm.StateMessage:",
		"switch ss.state {",
	} {
		assert.True(t, handWrittenSequenceCheck.MatchString(bad), bad)
	}
	assert.False(t, handWrittenSequenceCheck.MatchString("d := lmtpfsm.Step(ss.state, in, ss.modes)"))
	assert.False(t, handWrittenSequenceCheck.MatchString("if len(ss.rcpts) >= ss.cfg.MaxRecipients {"))
}
