// Package lmtp is a Local Mail Transfer Protocol server (RFC 2033) that
// delivers mail into a [store.Store]. A mail transfer agent (Postfix, Exim,
// OpenSMTPD, ...) hands it the messages whose final destination is an
// account of the store; it also lets local delivery reach a store whose
// database is held open by a running IMAP server.
//
// # Protocol
//
// LMTP is ESMTP (RFC 5321) with three differences that this package
// implements: the session opens with LHLO instead of EHLO; after the end of
// the message data the server answers once per accepted recipient, in RCPT
// order, so that one recipient may succeed while another fails; and the
// server is the final delivery agent, so a 250 reply means the message is
// stored. A 250 is only sent after [store.MessageWriter.Append] returned,
// which happens after the message is durable.
//
// Commands: LHLO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT and VRFY (always
// 252, RFC 5321 section 3.5.3). HELO and EHLO are refused by default (RFC
// 2033 section 4.1). Extensions advertised in the LHLO reply: PIPELINING
// (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, RFC 3463 codes in every reply
// after the greeting), 8BITMIME (RFC 6152) and SIZE (RFC 1870). BDAT,
// STARTTLS and AUTH are not offered: LMTP is meant for a local socket or a
// loopback address, not for the open network.
//
// # The session machine
//
// Every state decision is made by the generated package [lmtpfsm], compiled
// from spec/lmtp.yaml by the same fsmgen that compiles the IMAP machine: the
// session reads what the state's Reads says (a command line, or message data
// up to its final dot), classifies it into an input and applies
// lmtpfsm.Step's decision. Which command may come when, the 503 replies,
// timeouts, shutdown and the error limit are rules of the spec; handlers
// check only their arguments. MACHINE.md in that package draws the machine.
//
// Client quirks are declared in the spec with a lenient and a strict
// behaviour and set with [Config.Modes]: a bare LF line ending (lenient by
// default; strict refuses such command lines with 500 5.5.2 and such
// messages with 554 5.6.0), a space after FROM: or TO: (lenient by default;
// strict answers 501), lower-case verbs (legal, accepted in both modes),
// HELO or EHLO instead of LHLO (strict by default: 500 5.5.1; lenient
// answers it as LHLO) and message data sent right behind a DATA that is
// refused (lenient by default: the data is read and dropped up to its final
// dot; strict reads every line as a command).
//
// # Recipients
//
// A recipient's local part names the account, through [Config.Lookup]. When
// no account has that name and the local part contains the detail delimiter
// (default "+", so "alice+lists"), the part before it names the account and,
// with [Config.DetailMailbox], the part after it names the mailbox: the
// message goes there if such a selectable mailbox exists (matched exactly,
// else case-insensitively when that is unambiguous) and to INBOX otherwise.
// The domain is not checked: the transfer agent decided that it is local.
//
// # Replies
//
//	550 5.1.1  no such account (at RCPT)
//	452 4.5.3  too many recipients (RFC 5321 section 4.5.3.1.10)
//	451 4.3.0  temporary store failure (account lookup or append)
//	452 4.3.1  the spool or the store ran out of space
//	552 5.3.4  the message exceeds the size limit (MAIL SIZE= or data)
//	554 5.6.0  a data line exceeds Config.MaxLineLength
//	421 4.3.2  the server is shutting down or has too many connections
//	421 4.4.2  the client was idle for longer than Config.ReadTimeout
//	421 4.7.0  the client sent too many refused commands
//	503 5.5.1  a command out of sequence (decided by spec/lmtp.yaml)
//
// # Limits
//
// Every input is bounded: command lines (Config.MaxCommandLength), data
// lines (Config.MaxLineLength), the message (Config.MaxMessageSize, which
// must not exceed the store's own limit), recipients per transaction
// (Config.MaxRecipients), concurrent sessions (Config.MaxConnections),
// protocol errors per session, and time (Config.ReadTimeout for each
// command, Config.DataTimeout for a whole message, Config.WriteTimeout for
// each reply). Message data is spooled in memory up to 1 MiB and in an
// unlinked temporary file beyond, so that it can be appended to several
// accounts without holding it in memory.
//
// # Trace header fields
//
// With [Config.TraceHeaders] every stored message starts with a Return-Path
// field holding the MAIL FROM address (RFC 5321 section 4.4, which the final
// delivery agent adds) and a Received field with "with LMTP" (RFC 5321
// section 4.4, RFC 3848).
package lmtp
