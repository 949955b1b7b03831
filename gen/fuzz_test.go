package gen_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imapfsm/imapfsm/gen"
)

// maxGenerateFuzz bounds the specs FuzzLoad also generates code for, so that
// the fuzzer spends its time in the loader and verifier.
const maxGenerateFuzz = 4096

// FuzzLoad feeds arbitrary YAML to the verifier. It must never panic, and
// every failure must be an ErrorList of file:line:col errors.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "check", "*.yaml"))
	seeds = append(seeds, filepath.Join("testdata", "generate", "minimal", "spec.yaml"), filepath.Join("..", "spec", "imap.yaml"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := gen.Load("fuzz.yaml", data)
		if err == nil {
			if m == nil {
				t.Fatal("nil model without error")
			}
			if len(data) > maxGenerateFuzz {
				return // generating (and gofmt-ing) a large machine is slow; Load is the target
			}
			if _, err := gen.Files(m, "fsm", "fuzz.yaml"); err != nil {
				t.Fatalf("verified spec failed to generate: %v", err)
			}
			return
		}
		var list *gen.ErrorList
		if !errors.As(err, &list) || list.Len() == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %v", err)
		}
		for _, e := range list.Errs {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml:") || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("error without position: %q", e.Error())
			}
		}
	})
}
