package gen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// MachineDoc is the name of the Markdown file written beside the Go files.
const MachineDoc = "MACHINE.md"

// Files renders every generated file for package pkg: the Go sources and
// MACHINE.md, keyed by file name.
func Files(m *Model, pkg, specPath string) (map[string][]byte, error) {
	files, err := GoFiles(m, pkg, specPath)
	if err != nil {
		return nil, err
	}
	files[MachineDoc] = MachineMarkdown(m, filepath.ToSlash(specPath))
	return files, nil
}

// Write writes files into dir, replacing files whose content changed and
// leaving others untouched so that their modification times stay.
func Write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range sortedNames(files) {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Stale compares files with what dir holds and lists the files that differ
// or are missing. An empty result means dir is up to date.
func Stale(dir string, files map[string][]byte) ([]string, error) {
	var stale []string
	for _, name := range sortedNames(files) {
		old, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			stale = append(stale, name+" (missing)")
			continue
		}
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(old, files[name]) {
			stale = append(stale, name)
		}
	}
	return stale, nil
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// describe is used by the CLI to summarise a model in one line.
func describe(m *Model) string {
	return fmt.Sprintf("%d states, %d inputs, %d rules, %d quirks", len(m.States), len(m.Inputs), len(m.Rules), len(m.Quirks)-1)
}

// Summary returns a one-line description of m for progress output.
func Summary(m *Model) string { return describe(m) }
