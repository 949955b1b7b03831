package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandFilesAreLeaves fails when a command file (cmd_*.go) uses a
// top-level name (function, method, type, field, variable or constant)
// declared in another command file. Helpers that several commands share
// live in files named for what they are (replies.go, mailbox_args.go,
// seqsets.go, search.go, message_structure.go, status_items.go,
// mailbox_list.go), so each command file depends only on session-level
// and shared code, and commands can be added or removed one file at a time.
func TestCommandFilesAreLeaves(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		if f.Name.Name != "server" {
			continue
		}
		files = append(files, f)
	}
	require.NotEmpty(t, files)
	assert.Empty(t, crossCommandRefs(fset, files),
		"move a helper that command files share out of its command file into a file named for what it is")
}

// TestCrossCommandRefsCatches runs the check over a small package where
// one command file calls a function, a method and a constant of another
// command file, and uses a shared helper; only the three are reported.
func TestCrossCommandRefsCatches(t *testing.T) {
	fset := token.NewFileSet()
	src := map[string]string{
		"conn.go": `package server
import "strings"
type conn struct{ name string }
func shared() string { return strings.ToUpper("x") }`,
		"cmd_a.go": `package server
const limitA = 3
func helperA() int { return limitA }
func (c *conn) methodA() string { return c.name }`,
		"cmd_b.go": `package server
import "fmt"
func cmdB(c *conn) string {
	n := helperA() + limitA
	return fmt.Sprint(n) + c.methodA() + shared() + c.name
}`,
	}
	var files []*ast.File
	for _, name := range []string{"cmd_a.go", "cmd_b.go", "conn.go"} {
		f, err := parser.ParseFile(fset, name, src[name], parser.SkipObjectResolution)
		require.NoError(t, err)
		files = append(files, f)
	}
	assert.Equal(t, []string{
		"cmd_b.go uses helperA from cmd_a.go",
		"cmd_b.go uses limitA from cmd_a.go",
		"cmd_b.go uses methodA from cmd_a.go",
	}, crossCommandRefs(fset, files))
}

// crossCommandRefs type-checks the package's files and lists each use in
// a command file of a top-level name, method or field declared in another
// command file. Imports are stubbed: only names declared in the package
// matter, and those resolve without the imported packages.
func crossCommandRefs(fset *token.FileSet, files []*ast.File) []string {
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: stubImporter{}, Error: func(error) {}}
	pkg, _ := conf.Check("server", fset, files, info)
	seen := map[string]bool{}
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg {
			continue
		}
		// Package-level names, and methods and fields (no scope).
		if obj.Parent() != pkg.Scope() && obj.Parent() != nil {
			continue
		}
		user := filepath.Base(fset.Position(id.Pos()).Filename)
		owner := filepath.Base(fset.Position(obj.Pos()).Filename)
		if user != owner && isCommandFile(user) && isCommandFile(owner) {
			seen[user+" uses "+obj.Name()+" from "+owner] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// isCommandFile reports whether name is a command handler file.
func isCommandFile(name string) bool {
	return strings.HasPrefix(name, "cmd_") && strings.HasSuffix(name, ".go")
}

// stubImporter answers every import with an empty package.
type stubImporter struct{}

// Import returns an empty, complete package named after the path's last
// element (without a major version suffix).
func (stubImporter) Import(p string) (*types.Package, error) {
	name := path.Base(p)
	if strings.HasPrefix(name, "v") && strings.Trim(name[1:], "0123456789") == "" && strings.Contains(p, "/") {
		name = path.Base(path.Dir(p))
	}
	pkg := types.NewPackage(p, name)
	pkg.MarkComplete()
	return pkg, nil
}

// TestEveryCommandFileHasTests fails when a command file has no test file
// of its own (cmd_x.go needs cmd_x_test.go, on the shared harness).
func TestEveryCommandFileHasTests(t *testing.T) {
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, untestedCommandFiles(names))
}

// TestUntestedCommandFilesCatches shows the check reports a command file
// without its test file, and only that one.
func TestUntestedCommandFilesCatches(t *testing.T) {
	assert.Equal(t, []string{"cmd_b.go"}, untestedCommandFiles([]string{
		"cmd_a.go", "cmd_a_test.go", "cmd_b.go", "cmd_c_test.go", "conn.go",
	}))
}

// untestedCommandFiles lists the command files among names that have no
// test file of the same name.
func untestedCommandFiles(names []string) []string {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var out []string
	for _, n := range names {
		if isCommandFile(n) && !strings.HasSuffix(n, "_test.go") && !have[strings.TrimSuffix(n, ".go")+"_test.go"] {
			out = append(out, n)
		}
	}
	return out
}
