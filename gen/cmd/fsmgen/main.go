// Command fsmgen verifies the IMAP session spec and compiles it into the Go
// package fsm, a Mermaid diagram and a decision table.
//
// Usage:
//
//	fsmgen check [FILE]
//	fsmgen generate [-spec FILE] [-out DIR] [-pkg NAME] [-verify]
//
// # check
//
// check reads the spec (default spec/imap.yaml), verifies it and prints every
// problem at once, one per line, as file:line:col: message, then exits with
// status 1. With no problems it prints a one-line summary and exits 0. The
// checks are:
//
//   - the file decodes, with no unknown keys and values of the right kind;
//   - every name (state, input, outcome, group, response, quirk) resolves;
//   - totality: every state × input has a decision in both modes;
//   - determinism: no two rules decide the same state × input;
//   - every execute rule names a next state for each outcome its inputs can
//     produce;
//   - every state is reachable from the initial state;
//   - no traps: every state can reach a terminal state, and terminal states
//     are absorbing;
//   - nothing is stranded: from every state some input leads back to reading
//     commands without closing the connection;
//   - every command line's own tag is answered (executed, rejected,
//     redispatched or closed, never ignored), a tag held by IDLE or
//     AUTHENTICATE is completed exactly once whenever the session leaves the
//     state that holds it, and an executed command is never also completed
//     by a pending response;
//   - every session quirk has both behaviours and a rule that implements it;
//   - response codes come from the known set (RFC 9051, RFC 5530 and
//     extensions), and every declared response is used.
//
// # generate
//
// generate verifies the spec like check, then writes fsm.go, tables.go and
// MACHINE.md into -out (default fsm). Files whose content is unchanged are
// not rewritten. With -verify it writes nothing and exits 1 listing the files
// that are stale, which CI uses to catch a spec edited without regenerating.
//
// Exit status: 0 on success, 1 when the spec has problems or files are stale,
// 2 on usage errors.
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
	fmt.Fprint(w, `fsmgen verifies the IMAP session spec and generates the fsm package.

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
		fmt.Fprintln(stderr, "Usage: fsmgen generate [flags]\n\nVerify the spec, then write the fsm package (fsm.go, tables.go) and MACHINE.md.\n\nFlags:")
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
