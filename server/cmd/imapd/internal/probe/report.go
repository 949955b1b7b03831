package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes one row per quirk (quirk, who sends it, verdict,
// evidence) and then the transcript of every result that is neither
// lenient, strict nor both, or of every result when all is set.
func WriteTable(w io.Writer, results []Result, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUIRK\tWHO\tVERDICT\tEVIDENCE")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Quirk, clip(r.Who, 34), r.Verdict, clip(r.Evidence, 90))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if !all && (r.Verdict == Lenient || r.Verdict == Strict || r.Verdict == Both) {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s): %s\n", r.Quirk, r.Verdict, r.Evidence)
		for _, l := range r.Transcript {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return nil
}

// WriteJSON writes the results as a JSON array.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
