package gen_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/gen"
)

// specs are the repository's specs; each names its package and directory in
// its protocol block.
var specs = []string{"spec/imap.yaml", "spec/lmtp.yaml"}

// TestGeneratedFilesAreFresh regenerates each spec's package in memory and
// fails when the committed files differ: a spec edited without `make
// generate`, or a generated file edited by hand.
func TestGeneratedFilesAreFresh(t *testing.T) {
	root := filepath.Join("..")
	for _, spec := range specs {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			m, err := gen.LoadFile(filepath.Join(root, filepath.FromSlash(spec)))
			require.NoError(t, err, "%s must verify", spec)
			require.NotEmpty(t, m.Protocol.Dir, "%s names its package directory", spec)
			files, err := gen.Files(m, m.Protocol.Package, spec)
			require.NoError(t, err)
			stale, err := gen.Stale(filepath.Join(root, filepath.FromSlash(m.Protocol.Dir)), files)
			require.NoError(t, err)
			require.Empty(t, stale, "%s is stale: run `make generate` and commit the result", m.Protocol.Dir)
		})
	}
}

// TestStaleDetectsDrift shows the staleness check can fail: a single changed
// byte in a generated file is reported, for each spec.
func TestStaleDetectsDrift(t *testing.T) {
	for _, spec := range specs {
		m, err := gen.LoadFile(filepath.Join("..", filepath.FromSlash(spec)))
		require.NoError(t, err)
		files, err := gen.Files(m, m.Protocol.Package, spec)
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, gen.Write(dir, files))
		stale, err := gen.Stale(dir, files)
		require.NoError(t, err)
		require.Empty(t, stale)
		files["tables.go"] = append([]byte("// drift\n"), files["tables.go"]...)
		stale, err = gen.Stale(dir, files)
		require.NoError(t, err)
		require.Equal(t, []string{"tables.go"}, stale, spec)
	}
}
