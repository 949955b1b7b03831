// Package server is an embeddable IMAP4rev2/IMAP4rev1 server (RFC 9051,
// RFC 3501) whose every session decision is made by the generated state
// machine in package fsm.
//
// # Data path
//
// A connection's bytes are decoded by imapwire into line segments. The
// session engine (conn.go) classifies each line into an fsm.Input the way
// the current state reads lines (a command, an IDLE continuation, a SASL
// response), asks fsm.Step for the decision and carries it out: run the
// command's handler, reject it with the spec's response, ignore it, notify,
// close, or end IDLE and decide the same command again in the state IDLE
// started from. Handlers (one file per command family, cmd_*.go) know their
// command, never the session's state. Timers and other events (autologout,
// IDLE keepalive, the end of a TLS handshake, shutdown, the bad-command
// limit) are inputs of the machine too, so the spec also decides that an
// idling client is never logged out.
//
// Storage goes through the small interfaces of package store; the default
// backend is store/boltstore. Sessions learn of other sessions' changes
// through store.Notifier and catch up from the store's change log.
//
// # Guarantees
//
//   - Every tagged command line gets exactly one tagged completion, in
//     arrival order, in strict and lenient mode alike.
//   - A tagged OK for APPEND, STORE, COPY, MOVE or EXPUNGE is written only
//     after the store made the change durable.
//   - After STARTTLS, bytes the client sent before the handshake are
//     discarded (command injection, the CVE-2011-0411 class).
//   - Without TLS, LOGINDISABLED is advertised and credentials are refused
//     unless Config.AllowInsecureAuth is set.
//   - Every limit (line and literal sizes, connections, bad commands,
//     timeouts) is a Config field with a documented default.
//
// # Client quirks
//
// Quirk handling is declared in spec/imap.yaml and listed in
// fsm/MACHINE.md. Each quirk hit is logged with its id and counted
// (Metrics.QuirkHits); tolerated violations carry the [CLIENTBUG] response
// code (RFC 5530).
package server
