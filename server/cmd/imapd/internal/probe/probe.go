// Package probe tells which client quirks an IMAP server survives. For
// every quirk of spec/imap.yaml that declares a probe block, it reaches the
// block's state over a fresh session of any IMAP server, sends the quirk's
// client lines and classifies the answer by what the spec says each mode
// answers:
//
//	lenient  the answer of imapfsm's lenient mode
//	strict   the answer of imapfsm's strict mode
//	both     the spec gives the quirk one behaviour in both modes, and the server has it
//	other    a consistent answer that is neither
//	broken   a tag left unanswered or answered twice, the session out of
//	         step, a disconnect, or no answer within the timeout
//	skipped  the probe could not run (a capability is not advertised, or it
//	         needs a wait that was not allowed)
//
// Each result carries the transcript, with the password redacted. The probe
// touches nothing but a scratch mailbox it creates and deletes, sends a
// handful of commands per quirk, and waits for each answer before the next
// scenario.
package probe

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/imapfsm/imapfsm/gen"
	"github.com/imapfsm/imapfsm/spec"
)

// Options configure a probe run.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// User and Password are the credentials of an account the probe may
	// use; it creates and removes one scratch mailbox there.
	User, Password string
	// TLS connects with implicit TLS; StartTLS upgrades with STARTTLS.
	TLS, StartTLS bool
	// Insecure skips the verification of the server's certificate.
	Insecure bool
	// ServerName overrides the name the certificate is verified against.
	ServerName string
	// Mailbox is the mailbox probes open when they need one (INBOX when
	// empty); nothing in it is changed.
	Mailbox string
	// Timeout bounds every wait for an answer (5 s when zero).
	Timeout time.Duration
	// IdleWait is how long probes that wait for the server (IDLE
	// keepalives) may wait; zero skips them.
	IdleWait time.Duration
	// Spec is the spec to read the probes from; the embedded
	// spec/imap.yaml when nil.
	Spec []byte
}

func (o *Options) tlsConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: o.Insecure, ServerName: o.ServerName, MinVersion: tls.VersionTLS12}
}

// Verdict classifies a server's answer to one quirk.
type Verdict string

// The verdicts (see the package documentation).
const (
	Lenient Verdict = "lenient"
	Strict  Verdict = "strict"
	Both    Verdict = "both"
	Other   Verdict = "other"
	Broken  Verdict = "broken"
	Skipped Verdict = "skipped"
)

// Result is the probe of one quirk.
type Result struct {
	Quirk      string   `json:"quirk"`
	Who        string   `json:"who"`
	Verdict    Verdict  `json:"verdict"`
	Evidence   string   `json:"evidence"`
	Transcript []string `json:"transcript"`
}

// ErrSetup wraps what stopped the probe before any scenario ran: the
// server could not be reached or the account could not log in.
var ErrSetup = errors.New("probe setup failed")

// Run probes the server for every quirk with a probe block, in the
// spec's order.
func Run(o Options) ([]Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	file, data := spec.IMAPFile, o.Spec
	if data == nil {
		data = spec.IMAP()
	}
	m, err := gen.Load(file, data)
	if err != nil {
		return nil, fmt.Errorf("read the spec: %w", err)
	}
	env, err := setup(&o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	defer env.teardown(&o)
	var out []Result
	for _, q := range m.Quirks[1:] {
		if q.Probe == nil {
			continue
		}
		sc := &scenario{o: &o, env: env, m: m, q: q, p: q.Probe}
		out = append(out, sc.run())
	}
	return out, nil
}

// environment is what the setup session learned and created.
type environment struct {
	sep     string
	scratch string
	log     *transcript
}

// setup logs in once, learns the hierarchy separator and creates the
// scratch mailbox with one message in it.
func setup(o *Options) (*environment, error) {
	log := &transcript{secrets: []string{o.Password}}
	c, err := dial(o, log, "s")
	if err != nil {
		return nil, err
	}
	defer c.close()
	if err := c.login(o.User, o.Password); err != nil {
		return nil, err
	}
	env := &environment{sep: "/", log: log}
	got, err := c.command(`LIST "" ""`)
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	for _, r := range got {
		if r.Kind == "LIST" {
			if s := listSeparator(r.Rest); s != "" {
				env.sep = s
			}
		}
	}
	var b [4]byte
	rand.Read(b[:])
	env.scratch = "imapfsm-probe-" + hex.EncodeToString(b[:])
	if _, err := c.command("CREATE " + quote(env.scratch)); err != nil {
		return nil, fmt.Errorf("create the scratch mailbox: %w", err)
	}
	msg := "From: probe@imapfsm.invalid\r\nTo: probe@imapfsm.invalid\r\nSubject: imapfsm probe\r\n\r\nThis message lives in a mailbox the probe deletes.\r\n"
	if _, err := c.command(fmt.Sprintf("APPEND %s {%d+}\r\n%s", quote(env.scratch), len(msg), msg)); err != nil {
		env.teardown(o)
		return nil, fmt.Errorf("append to the scratch mailbox: %w", err)
	}
	return env, nil
}

// teardown deletes the scratch mailbox.
func (env *environment) teardown(o *Options) {
	c, err := dial(o, env.log, "t")
	if err != nil {
		return
	}
	defer c.close()
	if c.login(o.User, o.Password) == nil {
		c.command("DELETE " + quote(env.scratch))
		c.command("LOGOUT")
	}
}

// listSeparator reads the delimiter of a LIST response's text
// (`(\Noselect) "/" ""`); "" when it is NIL.
func listSeparator(rest string) string {
	i := indexAfterParens(rest)
	if i < 0 {
		return ""
	}
	s := rest[i:]
	if len(s) >= 3 && s[0] == '"' {
		if s[1] == '\\' && len(s) >= 4 {
			return s[2:3]
		}
		return s[1:2]
	}
	return ""
}

// indexAfterParens returns the index after the first parenthesised list
// and its following space, or -1.
func indexAfterParens(s string) int {
	start := 0
	for start < len(s) && s[start] != '(' {
		start++
	}
	end := start
	for end < len(s) && s[end] != ')' {
		end++
	}
	if end+2 > len(s) {
		return -1
	}
	return end + 2
}
