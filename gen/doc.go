// Package gen verifies session specs and compiles them into Go state
// machines: Load reads a spec into a Model (or reports every problem as
// file:line:col), Files renders the generated package and its MACHINE.md,
// and Write and Stale put them on disk or compare them with it. The spec
// format and the checks are documented with the command that runs them,
// gen/cmd/fsmgen; a spec's protocol block (Model.Protocol) carries every
// protocol-specific word, so that the same verifier serves IMAP
// (spec/imap.yaml) and LMTP (spec/lmtp.yaml).
package gen
