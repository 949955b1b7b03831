package imapwire

import (
	"flag"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateAPI = flag.Bool("update-api", false, "rewrite testdata/api.txt with the current exported API")

// TestAPIStable keeps the stability promise of the package doc: every
// exported name listed in testdata/api.txt must still exist with the same
// declaration. Additions are allowed (run with -update-api to record
// them); a removal or a changed signature fails.
func TestAPIStable(t *testing.T) {
	current := exportedAPI(t, ".")
	if *updateAPI {
		require.NoError(t, os.WriteFile("testdata/api.txt", []byte(strings.Join(current, "\n")+"\n"), 0o644))
	}
	data, err := os.ReadFile("testdata/api.txt")
	require.NoError(t, err)
	recorded := strings.Split(strings.TrimSpace(string(data)), "\n")
	assert.Empty(t, apiBroken(recorded, current),
		"the exported API of imapwire changed incompatibly; see the package doc's stability section")
}

// TestAPIBrokenCatches shows the check fails on a removed name and on a
// changed signature, and accepts an addition.
func TestAPIBrokenCatches(t *testing.T) {
	recorded := []string{"func F(x int) error", "type T struct{}"}
	assert.Empty(t, apiBroken(recorded, []string{"func F(x int) error", "func G()", "type T struct{}"}))
	assert.Equal(t, []string{"func F(x int) error"}, apiBroken(recorded, []string{"func F(x int64) error", "type T struct{}"}))
	assert.Equal(t, []string{"type T struct{}"}, apiBroken(recorded, []string{"func F(x int) error"}))
}

// apiBroken lists the recorded declarations that current lacks.
func apiBroken(recorded, current []string) []string {
	var out []string
	for _, r := range recorded {
		if r != "" && !slices.Contains(current, r) {
			out = append(out, r)
		}
	}
	return out
}

// exportedAPI lists the package's exported declarations, one a line: the
// package-level objects, the exported methods of its types (pointer
// receivers included) and the exported fields of its structs.
func exportedAPI(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("github.com/imapfsm/imapfsm/server/imapwire", fset, files, nil)
	require.NoError(t, err)
	qual := types.RelativeTo(pkg)
	var out []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		tn, ok := obj.(*types.TypeName)
		if !ok {
			out = append(out, types.ObjectString(obj, qual))
			continue
		}
		st, isStruct := tn.Type().Underlying().(*types.Struct)
		if !isStruct {
			out = append(out, types.ObjectString(obj, qual))
		} else {
			// Unexported fields are no one else's business.
			out = append(out, "type "+name+" struct")
			for i := range st.NumFields() {
				if f := st.Field(i); f.Exported() {
					out = append(out, "field "+name+"."+f.Name()+" "+types.TypeString(f.Type(), qual))
				}
			}
		}
		mset := types.NewMethodSet(types.NewPointer(tn.Type()))
		for i := range mset.Len() {
			if m := mset.At(i).Obj(); m.Exported() {
				out = append(out, types.ObjectString(m, qual))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
