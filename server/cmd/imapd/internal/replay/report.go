package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Differences counts the steps whose recording differs from the spec.
func Differences(steps []Step) int {
	n := 0
	for _, s := range steps {
		if s.Differs != "" {
			n++
		}
	}
	return n
}

// WriteText writes one block per step: the client line, how the machine
// read and decided it, and where the recording differs.
func WriteText(w io.Writer, steps []Step, mode string) error {
	for _, s := range steps {
		fmt.Fprintf(w, "%4d  C: %s\n", s.LineNo, s.Client)
		fmt.Fprintf(w, "      %s in %s → %s; rule %s", s.Input, s.Before, s.After, s.Rule)
		if s.Quirk != "" {
			fmt.Fprintf(w, " (quirk %s)", s.Quirk)
		}
		fmt.Fprintf(w, "; %s", s.Action)
		if s.Outcome != "" {
			fmt.Fprintf(w, ", outcome %s", s.Outcome)
		}
		fmt.Fprintln(w)
		if len(s.Expected) > 0 {
			fmt.Fprintf(w, "      spec (%s): %s\n", mode, strings.Join(s.Expected, ", "))
		}
		for _, r := range s.Recorded {
			fmt.Fprintf(w, "      recorded: %s\n", r)
		}
		if s.Differs != "" {
			fmt.Fprintf(w, "      DIFFERS: %s\n", s.Differs)
		}
	}
	_, err := fmt.Fprintf(w, "%d client lines and events; %d differ from the spec in %s mode\n", len(steps), Differences(steps), mode)
	return err
}

// WriteJSON writes the steps as a JSON array.
func WriteJSON(w io.Writer, steps []Step) error {
	if steps == nil {
		steps = []Step{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(steps)
}
