// Package spec holds the session specs that drive imapfsm. Maintainers edit
// the YAML files in this directory and run `make generate`; programs that
// read a spec at run time (imapd probe reads the quirks' probe blocks) get
// the copy embedded here, the same bytes the generated machine was built
// from.
package spec

import _ "embed"

//go:embed imap.yaml
var imap []byte

// IMAPFile is the name of the IMAP session spec, for error messages.
const IMAPFile = "spec/imap.yaml"

// IMAP returns the IMAP session spec (imap.yaml).
func IMAP() []byte { return append([]byte(nil), imap...) }
