// Fsmgen verifies a session spec and compiles it into a Go package: a
// state machine whose Step function makes every state decision of a
// protocol session, a Mermaid diagram and a decision table. It compiles
// spec/imap.yaml into fsm and spec/lmtp.yaml into server/lmtp/lmtpfsm; a
// third protocol needs a spec, not a change here.
//
// Usage:
//
//	fsmgen check [FILE]
//	fsmgen generate [-spec FILE] [-out DIR] [-pkg NAME] [-verify]
//
// Typically run by `make generate` and `make check`, which loop over the
// repository's specs.
//
// # check
//
// check reads the spec (default spec/imap.yaml), verifies it and prints every
// problem at once, one per line, as file:line:col: message, then exits with
// status 1. With no problems it prints a one-line summary and exits 0. The
// checks are:
//
//   - the file decodes, with no unknown keys and values of the right kind;
//   - every name (state, input, outcome, group, response, quirk, and the
//     protocol's ways of reading, input kinds, attributes and actions)
//     resolves;
//   - totality: every state × input has a decision in both modes, under
//     every valuation of the session facts;
//   - determinism: no two rules decide the same state × input under the
//     same valuation of the facts;
//   - every execute rule names a next state for each outcome its inputs can
//     produce;
//   - every state is reachable from the initial state (with some valuation
//     of the facts a connection can open with);
//   - no traps: every reachable (state, facts) can reach a terminal state,
//     and terminal states are absorbing;
//   - nothing is stranded: from every reachable (state, facts) some input
//     leads back to reading commands, with nothing held, without closing
//     the connection;
//   - every fact is read by some rule's condition, and the names in
//     conditions and effects are declared facts (and outcomes);
//   - every command line is answered where commands are read (executed,
//     rejected, redispatched or closed, never ignored); a held command is
//     completed exactly once whenever the session leaves the state that
//     holds it (by `pending`, unless the handler runs or the connection
//     closes), and an executed command is never also completed by pending;
//   - a state with an origin has the value of its origin for every
//     attribute declared match-origin, and a state that reads a way
//     declared `origin: true` has an origin;
//   - every session quirk has both behaviours and a rule that implements it;
//   - replies have the protocol's form: imap responses a status (OK, NO,
//     BAD, BYE, PREAUTH) and a response code from the known set (RFC 9051,
//     RFC 5530 and extensions), close replying BYE; smtp replies a reply
//     code (2xx-5xx) and an RFC 3463 enhanced code of the same class,
//     reject replying 4xx or 5xx and close 421; every declared response is
//     used.
//
// # generate
//
// generate verifies the spec like check, then writes fsm.go, tables.go and
// MACHINE.md into the directory the spec's protocol.dir names (or -out),
// as the Go package protocol.package (or -pkg, or the directory's last
// element). Files whose content is unchanged are not rewritten. With
// -verify it writes nothing and exits 1 listing the files that are stale,
// which CI uses to catch a spec edited without regenerating.
//
// Exit status: 0 on success, 1 when the spec has problems or files are
// stale, 2 on usage errors.
//
// # The spec
//
// A spec is a YAML file with these keys, each described below:
//
//	version: 1
//	initial: <state>
//	default-mode: lenient | strict
//	protocol: {...}
//	states: {...}
//	outcomes: {...}
//	inputs: {...}
//	groups: {...}
//	responses: {...}
//	quirks: {...}
//	facts: {...}
//	rules: [...]
//
// Mappings keep their order: generated constants follow the order of the
// file.
//
// protocol is the spec's vocabulary. The generator knows concepts (reading
// the next command, holding a command until it completes, the actions, two
// reply forms); the words are the spec's:
//
//	protocol:
//	  name: LMTP                    # in generated documentation
//	  package: lmtpfsm              # the Go package name
//	  dir: server/lmtp/lmtpfsm      # the output directory, from the module root
//	  replies: smtp                 # imap or smtp
//	  reads:                        # how a state reads the next client line
//	    command: {doc: a command line}           # required
//	    data: {doc: message data up to the dot}
//	    idle: {doc: ..., commands: true, origin: true}
//	  kinds: {command: a command line, event: an event}   # command is required
//	  attributes:                   # state keys: booleans, or one of named values
//	    holds-command: {means: held, doc: ...}  # at most one means held
//	    transaction: {doc: ..., match-origin: false}
//	    timer: {doc: ..., values: {login: doc, idle: doc}}
//	  actions: {execute: doc, reject: doc, close: doc}    # those the rules use
//	  default-outcomes: [ok, "no"]  # outcomes of inputs that list none
//	  initialisms: [LHLO, LMTP]     # spelled in capitals in identifiers
//	  doc: |                        # the body of the package documentation
//	    ...
//
// A way of reading with `commands: true` reads lines that may be commands
// (the command way always does), so rules there must answer command inputs;
// with `origin: true` its states must name an origin. Each attribute
// becomes a State method (holds-tag → HoldsTag) whose doc comment is
// "<Method> reports whether " followed by the attribute's doc. An
// attribute with `values` is a class: every state names one of its values
// (timer: login), and it becomes a type with a constant per value (Timer,
// TimerLogin) and a State method returning the state's value (Timer). The actions
// are a subset of:
//
//	execute     run the command handler, then move to `next` for its outcome
//	reject      do not run it; answer with `reply`
//	ignore      send nothing
//	notify      send `reply` unsolicited (an IMAP untagged response)
//	close       send `reply`, if any, and close the connection
//	redispatch  move to `next`, then decide the same input again there
//
// states: each has `reads`, optionally `doc`, `ref`, `terminal: true`,
// `origin: <state>`, a true/false value for any declared boolean attribute
// (false when left out) and a value for every attribute with values.
//
// outcomes: what a handler reports after running (ok, no, bad, continue,
// ...), each with a `doc`.
//
// inputs: each has a `kind`, and optionally `wire` (the upper-case command
// name, or a list of names, for command inputs; exactly one command input
// has none and stands for unknown commands), `doc`, `ref` and `outcomes`.
//
// groups: named lists of states, or of inputs, usable wherever a rule names
// them; groups may contain groups.
//
// responses: the replies the machine decides. imap: `status`, optional
// `code`, `text`. smtp: `code` (as a string, "503"), `enhanced` ("5.5.1"),
// `text`. Handlers write their own replies; only rejections, notices,
// closes and pending completions come from here.
//
// quirks: client behaviours that break a rule, each with `scope` (session:
// a rule implements it; data: the server asks Modes.Tolerates), `who`,
// `source`, `doc`, `lenient` and `strict` blocks ({tolerate: bool, doc}),
// and optionally `default: lenient|strict`, overriding default-mode for
// this quirk in DefaultModes.
//
// facts: session facts, booleans the engine keeps beside the state (TLS is
// active, the server allows credentials without TLS, compression is on),
// at most gen.MaxFacts. Each has a `doc` and `initial`: false, or engine
// (the engine gives the value when the connection opens: from the
// listener, from its configuration). Rules read facts in conditions and
// change them in effects, so the machine decides what depends on them
// instead of the handlers:
//
//	facts:
//	  tls: {doc: TLS protects the connection., initial: engine}
//	  compression: {doc: COMPRESS is active., initial: false}
//
// rules: each has an `id`, `in` (states or groups), `on` (inputs or
// groups), and either `do` with `reply`, `pending`, `next` and `effect`
// or, for a rule that implements a quirk (`quirk: name`), `lenient` and
// `strict` blocks holding them. `next` is a state, `stay`, `origin`, or a
// map of outcome to state with `otherwise` for the rest. A rule may carry
// a condition on the facts, `when`: a mapping of fact to true or false
// (all must hold) or a list of such mappings (any must hold); without it
// the rule decides whatever the facts. `effect` sets facts: a mapping of
// fact to its new value for every outcome, or, for execute, a mapping of
// outcome (and `otherwise`) to such a mapping:
//
//	rules:
//	- id: starttls
//	  in: not-authenticated
//	  on: starttls
//	  when: {tls: false}
//	  do: execute
//	  next: {ok: tls-handshake, otherwise: stay}
//	- id: login
//	  in: not-authenticated
//	  on: login
//	  when: [{tls: true}, {plaintext-auth: true}]
//	  ...
//	- id: compress
//	  ...
//	  do: execute
//	  effect: {ok: {compression: true}}
//
// The verifier checks totality and determinism under every valuation of
// the facts, not only the reachable ones: the engine gives some facts any
// value when a connection opens, and a machine total everywhere does not
// depend on the reachability analysis being right (a combination that
// cannot happen costs a rule without a condition). Reachability, traps and
// stranding are checked over (state, valuation) from the initial state with
// every valuation a connection can open with.
//
// # Output
//
// fsm.go declares State, Input, InputKind, Reads, Outcome, Response, Quirk,
// Mode, Modes, Action, Rule and Decision with String methods, the
// attribute methods, CommandInput, DefaultModes and Step; tables.go holds
// the decision table, each distinct decision once; Step indexes it and does
// not allocate. A spec with facts also gets Facts, a bit set with a
// constant per fact (FactTLS), EngineFacts, Has, With, String and
// ParseFact; Step then takes the session's facts, Step(s, f, in, m), and
// Decision.Facts(o) returns the facts after the rule's effect for the
// handler's outcome (Decision.Effect(o) the effect itself). A cell whose
// rules have conditions is a short list of branches (mask, value) that Step
// scans. A spec without facts generates neither Facts nor the parameter:
// Step(s, in, m), as before. MACHINE.md draws the machine as a Mermaid
// diagram and lists every decision (conditions as "when {...}:" and effects
// as "sets {...}"), the facts, the quirks and the responses.
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/imapfsm/imapfsm/gen"
)

const defaultSpec = "spec/imap.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `fsmgen verifies a session spec and generates its state machine package.

Usage:
  fsmgen check [FILE]         verify FILE (default spec/imap.yaml); print every problem as file:line:col
  fsmgen generate [flags]     verify, then write the Go package and MACHINE.md

Run 'fsmgen generate -h' for its flags.
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "check":
		return check(args[1:], stdout, stderr)
	case "generate":
		return generate(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "fsmgen: unknown command %q (want check or generate)\n", args[0])
	return 2
}

func load(path string, stderr io.Writer) (*gen.Model, int) {
	m, err := gen.LoadFile(path)
	if err != nil {
		var list *gen.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintln(stderr, list.Error())
			fmt.Fprintf(stderr, "fsmgen: %d problem(s) in %s\n", list.Len(), path)
			return nil, 1
		}
		fmt.Fprintf(stderr, "fsmgen: %v\n", err)
		return nil, 1
	}
	return m, 0
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fsmgen check [FILE]\n\nVerify the spec FILE (default spec/imap.yaml) and print every problem as file:line:col: message.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "fsmgen check: give at most one spec file")
		return 2
	}
	path := defaultSpec
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	m, code := load(path, stderr)
	if code != 0 {
		return code
	}
	fmt.Fprintf(stdout, "%s: ok (%s)\n", path, gen.Summary(m))
	return 0
}

func generate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spec := fs.String("spec", defaultSpec, "the spec `file` to compile; its path, as given, appears in the generated header")
	out := fs.String("out", "", "the `directory` to write the generated package and MACHINE.md into (default: the spec's protocol.dir)")
	pkg := fs.String("pkg", "", "the Go package `name` of the generated files (default: the spec's protocol.package, else the last element of the directory)")
	verify := fs.Bool("verify", false, "write nothing; exit 1 and list the generated files that are stale")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fsmgen generate [flags]\n\nVerify the spec, then write its package (fsm.go, tables.go) and MACHINE.md into protocol.dir (or -out).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fsmgen generate: unexpected argument %q (use -spec FILE)\n", fs.Arg(0))
		return 2
	}
	m, code := load(*spec, stderr)
	if code != 0 {
		return code
	}
	if *out == "" {
		*out = filepath.FromSlash(m.Protocol.Dir)
	}
	if *out == "" {
		fmt.Fprintf(stderr, "fsmgen generate: %s names no output directory (protocol.dir); give -out DIR\n", *spec)
		return 2
	}
	if *pkg == "" {
		*pkg = m.Protocol.Package
	}
	if *pkg == "" {
		*pkg = filepath.Base(*out)
		if !token.IsIdentifier(*pkg) {
			fmt.Fprintf(stderr, "fsmgen generate: %s names no package (protocol.package) and %q is no Go name; give -pkg NAME\n", *spec, *pkg)
			return 2
		}
	}
	files, err := gen.Files(m, *pkg, *spec)
	if err != nil {
		fmt.Fprintf(stderr, "fsmgen: %v\n", err)
		return 1
	}
	if *verify {
		stale, err := gen.Stale(*out, files)
		if err != nil {
			fmt.Fprintf(stderr, "fsmgen: %v\n", err)
			return 1
		}
		if len(stale) > 0 {
			fmt.Fprintf(stderr, "fsmgen: generated files in %s are stale: %s\nrun `make generate` and commit the result\n", *out, strings.Join(stale, ", "))
			return 1
		}
		fmt.Fprintf(stdout, "%s: up to date with %s\n", *out, *spec)
		return 0
	}
	if err := gen.Write(*out, files); err != nil {
		fmt.Fprintf(stderr, "fsmgen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: wrote %d files from %s (%s)\n", *out, len(files), *spec, gen.Summary(m))
	return 0
}
