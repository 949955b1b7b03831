package gen_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/gen"
)

// TestGeneratedFilesAreFresh regenerates fsm/ from spec/imap.yaml in memory
// and fails when the committed files differ: a spec edited without
// `make generate`, or a generated file edited by hand.
func TestGeneratedFilesAreFresh(t *testing.T) {
	root := filepath.Join("..")
	m, err := gen.LoadFile(filepath.Join(root, "spec", "imap.yaml"))
	require.NoError(t, err, "spec/imap.yaml must verify")
	files, err := gen.Files(m, "fsm", "spec/imap.yaml")
	require.NoError(t, err)
	stale, err := gen.Stale(filepath.Join(root, "fsm"), files)
	require.NoError(t, err)
	require.Empty(t, stale, "fsm/ is stale: run `make generate` and commit the result")
}

// TestStaleDetectsDrift shows the staleness check can fail: a single changed
// byte in a generated file is reported.
func TestStaleDetectsDrift(t *testing.T) {
	m, err := gen.LoadFile(filepath.Join("..", "spec", "imap.yaml"))
	require.NoError(t, err)
	files, err := gen.Files(m, "fsm", "spec/imap.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, gen.Write(dir, files))
	stale, err := gen.Stale(dir, files)
	require.NoError(t, err)
	require.Empty(t, stale)
	files["tables.go"] = append([]byte("// drift\n"), files["tables.go"]...)
	stale, err = gen.Stale(dir, files)
	require.NoError(t, err)
	require.Equal(t, []string{"tables.go"}, stale)
}
