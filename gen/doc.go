// Package gen verifies session specs and compiles them into Go state
// machines: Load reads a spec into a Model (or reports every problem as
// file:line:col), Files renders the generated package and its MACHINE.md,
// and Write and Stale put them on disk or compare them with it. The spec
// format and the checks are documented with the command that runs them,
// gen/cmd/fsmgen; a spec's protocol block (Model.Protocol) carries every
// protocol-specific word, so that the same verifier serves IMAP
// (spec/imap.yaml) and LMTP (spec/lmtp.yaml).
//
// A spec may declare session facts (Model.Facts): booleans the engine keeps
// beside the state, such as "TLS is active" or "the server allows
// credentials without TLS". A rule's `when` condition (Rule.When) limits it
// to valuations of the facts, and its `effect` (Decision.Effects) changes
// them per outcome. Model.Table has a row per valuation, and the checks
// cover every valuation (totality, determinism) or every reachable
// (state, valuation) node (reachability, traps, stranding); gen/cmd/fsmgen
// documents the syntax and the generated API (Facts, Step(s, f, in, m),
// Decision.Facts).
package gen
