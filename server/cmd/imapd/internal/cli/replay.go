package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/imapfsm/imapfsm/server/cmd/imapd/internal/replay"
)

func runReplay(ctx context.Context, args []string, env Env) error {
	fs := newFlags("replay", "replay [--strictness lenient|strict] [--quirk ID=MODE ...] [--json] FILE",
		`Runs the client side of a recorded IMAP session through the session
machine generated from spec/imap.yaml and prints, for each client line, the
input it is read as, the state before and after, the rule and the quirk that
decide it, and where the recorded server's answers differ from what the spec
says the chosen mode answers.

FILE is a transcript in the RFC's form, "C: " before each client line and
"S: " before each server line ("#" starts a comment, "-- event NAME" records
an event such as autologout), or a protocol trace written by
"imapd serve --trace-dir" (the same form). "-" reads standard input.

Exit status: 0 when the transcript was replayed, whatever it shows; 1 when
FILE cannot be read or parsed; 2 usage error.

Quirk identifiers for --quirk ID=MODE:
`+quirkList(), env.Stdout)
	var mf modeFlags
	mf.register(fs)
	asJSON := fs.Bool("json", false, "print the steps as a JSON array")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "FILE"); err != nil {
		return err
	}
	modes, err := mf.modes()
	if err != nil {
		return err
	}
	in := env.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		in = f
	}
	entries, err := replay.Parse(in)
	if err != nil {
		return fmt.Errorf("replay %s: %w", pos[0], err)
	}
	steps := replay.Replay(entries, modes)
	if *asJSON {
		return replay.WriteJSON(env.Stdout, steps)
	}
	mode := mf.strictness
	if len(mf.quirks) > 0 {
		mode += " with --quirk overrides"
	}
	return replay.WriteText(env.Stdout, steps, mode)
}
