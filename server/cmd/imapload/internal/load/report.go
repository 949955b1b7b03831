package load

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

// WriteTable prints the result as an aligned table: one row per command
// with its verified completions, rate, latency percentiles and errors.
func (r *Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "mix %s: %d clients, %s, %d iterations, %.0f ops/s, %d errors\n",
		r.Mix, r.Clients, r.Elapsed.Round(time.Millisecond), r.Iterations, r.TotalRate(), r.Errors)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\tok\tops/s\tp50\tp99\tmax\terrors\t")
	for _, s := range r.Commands {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%d\t\n", s.Command, s.OK, r.Rate(s.Command),
			FormatDuration(s.Latency.Percentile(50)), FormatDuration(s.Latency.Percentile(99)),
			FormatDuration(s.Latency.Max()), s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if r.Protocol == nil {
		return nil
	}
	fmt.Fprintf(w, "protocol violations: %d\n", r.Protocol.Total())
	for _, v := range imapc.Violations() {
		if n := r.Protocol.Count(v); n > 0 {
			fmt.Fprintf(w, "  %-24s %d\n", v, n)
			for _, ex := range r.Protocol.Examples(v) {
				fmt.Fprintf(w, "    e.g. %s\n", ex)
			}
		}
	}
	return nil
}

// FormatDuration prints d with three significant digits in µs, ms or s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}
