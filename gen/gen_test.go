package gen_test

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/gen"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata from the current output")

// TestCheckScenarios runs every spec under testdata/check and compares the
// verifier's complete error list with the .errors golden file beside it.
func TestCheckScenarios(t *testing.T) {
	specs, err := filepath.Glob(filepath.Join("testdata", "check", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, specs)
	for _, spec := range specs {
		name := strings.TrimSuffix(filepath.Base(spec), ".yaml")
		t.Run(name, func(t *testing.T) {
			path := filepath.ToSlash(spec)
			_, err := gen.LoadFile(path)
			require.Error(t, err, "the scenario must fail verification")
			var list *gen.ErrorList
			require.True(t, errors.As(err, &list), "errors come as an ErrorList")
			got := list.Error() + "\n"
			golden := strings.TrimSuffix(spec, ".yaml") + ".errors"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file; run go test ./gen -update")
			assert.Equal(t, string(want), got)
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				assert.Regexp(t, `^testdata/check/[a-z-]+\.yaml:\d+:\d+: `, line, "every error is file:line:col")
			}
		})
	}
}

// TestGenerateGolden compiles each spec under testdata/generate and compares
// the generated files with the golden copies, then builds and runs the
// generated package with a small test of its own.
func TestGenerateGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "generate", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			spec := filepath.ToSlash(filepath.Join(dir, "spec.yaml"))
			m, err := gen.LoadFile(spec)
			require.NoError(t, err)
			files, err := gen.Files(m, "fsm", spec)
			require.NoError(t, err)
			golden := filepath.Join(dir, "golden")
			if *update {
				require.NoError(t, os.RemoveAll(golden))
				require.NoError(t, gen.Write(golden, files))
			}
			stale, err := gen.Stale(golden, files)
			require.NoError(t, err)
			assert.Empty(t, stale, "generated output differs from golden; inspect and run go test ./gen -update")

			if testing.Short() {
				t.Skip("compiling the generated package is skipped in -short mode")
			}
			compileAndRun(t, files, filepath.Join(dir, "usage_test.go.txt"))
		})
	}
}

// compileAndRun writes the generated files into a throwaway module together
// with a usage test and runs `go test` there, proving the output compiles
// and behaves.
func compileAndRun(t *testing.T, files map[string][]byte, usage string) {
	tmp := t.TempDir()
	pkgDir := filepath.Join(tmp, "fsm")
	require.NoError(t, gen.Write(pkgDir, files))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module example.com/generated\n\ngo 1.26\n"), 0o644))
	if body, err := os.ReadFile(usage); err == nil {
		require.NoError(t, os.WriteFile(filepath.Join(pkgDir, "usage_test.go"), body, 0o644))
	}
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "generated package does not build or its test fails:\n%s", out)
}

// BenchmarkLoad measures verifying the real spec, which should stay far
// below 100 ms so that it can run on every edit.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "spec", "imap.yaml"))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gen.Load("spec/imap.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
