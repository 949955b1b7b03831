package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/imapfsm/imapfsm/server/cmd/imapd/internal/probe"
)

func runProbe(ctx context.Context, args []string, env Env) error {
	fs := newFlags("probe", "probe [flags] --user NAME (--password-file FILE | --password PASS) HOST:PORT",
		`Probes any IMAP server for the client quirks of spec/imap.yaml and tells,
for each, whether the server answers like imapfsm's lenient mode, like its
strict mode, like both (the quirk has one behaviour), some other consistent
way (other), or breaks the session (broken: a tag left unanswered or
answered twice, the session out of step, a disconnect, no answer within
--timeout). Each quirk runs over a fresh session of its own.

The probe is harmless: it sends a few bounded commands per quirk, changes
nothing in --mailbox, and creates one scratch mailbox (imapfsm-probe-...)
that it deletes at the end.

Exit status: 0 when the probe ran, whatever the verdicts; 1 when it could
not connect or log in; 2 usage error.`, env.Stdout)
	var o probe.Options
	fs.StringVar(&o.User, "user", "", "account to log in as (required)")
	fs.StringVar(&o.Password, "password", "", "its password (visible to other local users in the process list; prefer --password-file)")
	passwordFile := fs.String("password-file", "", "read the password from the first line of FILE")
	fs.BoolVar(&o.TLS, "tls", false, "connect with implicit TLS (port 993 style)")
	fs.BoolVar(&o.StartTLS, "starttls", false, "upgrade the plaintext connection with STARTTLS before anything else")
	fs.BoolVar(&o.Insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&o.ServerName, "server-name", "", "name to verify the certificate against (default: the host of HOST:PORT)")
	fs.StringVar(&o.Mailbox, "mailbox", "INBOX", "mailbox to open where a quirk needs one selected (never changed)")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "how long to wait for each answer before calling the session broken")
	fs.DurationVar(&o.IdleWait, "idle-wait", 0, "how long the keepalive probe may idle waiting for an untagged OK (0 skips it; use more than the server's keepalive interval, e.g. 2m30s)")
	asJSON := fs.Bool("json", false, "print the results as a JSON array (quirk, who, verdict, evidence, transcript)")
	all := fs.Bool("transcripts", false, "print every transcript after the table (by default only those of other, broken and skipped verdicts)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "HOST:PORT"); err != nil {
		return err
	}
	o.Addr = pos[0]
	if o.User == "" {
		return usageErr("probe: --user is required")
	}
	if o.TLS && o.StartTLS {
		return usageErr("probe: --tls and --starttls exclude each other")
	}
	if *passwordFile != "" {
		if o.Password != "" {
			return usageErr("probe: give --password or --password-file, not both")
		}
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return usageErr("probe: %v", err)
		}
		o.Password, _, _ = strings.Cut(string(b), "\n")
		o.Password = strings.TrimSuffix(o.Password, "\r")
	}
	if o.ServerName == "" {
		o.ServerName, _, _ = strings.Cut(o.Addr, ":")
		if strings.HasPrefix(o.Addr, "[") {
			o.ServerName = strings.Trim(strings.SplitN(o.Addr, "]", 2)[0], "[")
		}
	}
	results, err := probe.Run(o)
	if err != nil {
		if errors.Is(err, probe.ErrSetup) {
			return withCode(ExitFailure, fmt.Errorf("probe %s: %w", o.Addr, err))
		}
		return err
	}
	if *asJSON {
		return probe.WriteJSON(env.Stdout, results)
	}
	return probe.WriteTable(env.Stdout, results, *all)
}
