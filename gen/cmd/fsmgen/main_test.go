package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckReportsEveryProblem(t *testing.T) {
	spec := filepath.Join("..", "..", "testdata", "check", "many-errors.yaml")
	code, _, stderr := runCLI("check", spec)
	assert.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.GreaterOrEqual(t, len(lines), 4)
	for _, l := range lines[:len(lines)-1] {
		assert.Regexp(t, `many-errors\.yaml:\d+:\d+: `, l)
	}
	assert.Contains(t, lines[len(lines)-1], "problem(s)")
}

func TestCheckAndVerifyTheRealSpec(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", ".."))
	code, stdout, stderr := runCLI("check")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "spec/imap.yaml: ok (")
	code, stdout, stderr = runCLI("generate", "-verify")
	require.Equal(t, 0, code, "committed fsm/ must be fresh: %s", stderr)
	assert.Contains(t, stdout, "up to date")
}

func TestGenerateWritesFiles(t *testing.T) {
	spec := filepath.Join("..", "..", "testdata", "generate", "minimal", "spec.yaml")
	dir := t.TempDir()
	code, stdout, stderr := runCLI("generate", "-spec", spec, "-out", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "wrote 3 files")
	code, _, stderr = runCLI("generate", "-spec", spec, "-out", dir, "-verify")
	assert.Equal(t, 0, code, stderr)
}

func TestUsageErrors(t *testing.T) {
	code, _, stderr := runCLI()
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "Usage")
	code, _, stderr = runCLI("frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)
	code, _, _ = runCLI("generate", "extra")
	assert.Equal(t, 2, code)
}
