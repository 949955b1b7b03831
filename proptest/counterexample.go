package proptest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Counterexample is a failing sequence with what the machine did at each
// step, ready to print and to save as a sequence file.
type Counterexample struct {
	Machine    string
	Seed       int64
	Sequence   Sequence
	Records    []Record
	Violations []Violation
}

// NewCounterexample takes the sequence a session ran and what it did.
func NewCounterexample(machine string, seed int64, s *Session) *Counterexample {
	return &Counterexample{
		Machine:    machine,
		Seed:       seed,
		Sequence:   s.Sequence(),
		Records:    append([]Record(nil), s.Records()...),
		Violations: s.Violations(),
	}
}

// Properties lists the properties the counterexample violates.
func (c *Counterexample) Properties() Properties {
	var ps Properties
	for _, v := range c.Violations {
		ps |= Only(v.Property)
	}
	return ps
}

// Format writes the counterexample as a sequence file whose comments say
// what failed, the seed to reproduce the run, and what the machine did at
// every step.
func (c *Counterexample) Format(ref *Reference) string {
	header := []string{
		fmt.Sprintf("Counterexample: machine %s, seed %d, %d steps after shrinking.", c.Machine, c.Seed, len(c.Sequence.Steps)),
		fmt.Sprintf("It violates %s; the lines marked !! say where.", strings.ReplaceAll(c.Properties().String(), ",", ", ")),
		"Saved under testdata/, it is replayed as a regression test.",
	}
	return ref.FormatSequence(c.Sequence, c.Records, header...)
}

// FileName is the file the counterexample is saved as.
func (c *Counterexample) FileName() string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(c.Machine))
	return fmt.Sprintf("counterexample-%s-%d.seq", name, c.Seed)
}

// Save writes the counterexample into dir and returns the file's path.
func (c *Counterexample) Save(ref *Reference, dir string) (string, error) {
	path := filepath.Join(dir, c.FileName())
	if err := os.WriteFile(path, []byte(c.Format(ref)), 0o644); err != nil {
		return "", err
	}
	return path, nil
}
