// Package imapwire is the IMAP wire layer: it turns client bytes into lines
// and typed command arguments, and server responses into bytes, for
// IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501).
//
// # Reading client input
//
// A Decoder wraps the connection. The session engine reads one line segment
// at a time with Decoder.ReadLine, classifies it (for example "DONE" during
// IDLE, an empty line, or a command), parses the command start with
// ParseCommand and hands the arguments to a handler through an ArgReader
// (Decoder.Args). The ArgReader reads SP-separated arguments across literal
// payloads and continuation segments: atoms, numbers, quoted strings,
// literals, astrings, nstrings, lists, flag lists, sequence sets, dates and
// mailbox names.
//
// Everything is bounded by Limits: a line segment longer than MaxLine is
// reported as ErrLineTooLong as soon as it passes the limit, without being
// buffered (Line.Tag still reads its tag from its first bytes), and its
// rest is skipped up to MaxSkip more bytes (ErrTooLargeToSkip beyond);
// literals
// larger than MaxLiteral (MaxAppendLiteral for the streamed APPEND message)
// are refused with a *LiteralTooLargeError, and nesting deeper than
// MaxDepth fails with ErrTooDeep. Synchronising literals ("{n}") cause the
// decoder to call the engine's ContinuationFunc, which writes "+ Ready for
// literal data", before the payload is read; non-synchronising literals
// ("{n+}", RFC 7888) are read directly. When the engine rejects a command,
// Decoder.Discard skips the rest of it without losing sync: it skips the
// payloads of non-synchronising literals and stops at a synchronising one,
// whose payload the client never sends. A non-synchronising literal larger
// than MaxSkip is never read: the error is fatal and the engine closes the
// connection (RFC 7888 section 4).
//
// Decoder.Reset swaps the underlying reader and throws away every buffered
// byte. The engine must call it after the STARTTLS handshake so that
// commands pipelined in plaintext are never executed (the CVE-2011-0411
// class of injection).
//
// Errors are typed. Protocol errors are *Error values whose Kind tells what
// went wrong and whose Reason is a short sentence for the "BAD" response
// text (match them with errors.Is against ErrSyntax, ErrLineTooLong,
// ErrNULByte, ErrTooDeep, ErrLiteralTooLarge, ErrTooLargeToSkip and
// ErrDesync). IsFatal tells
// whether the connection can continue.
//
// # Writing responses
//
// An Encoder writes responses through a bufio.Writer: status responses with
// optional response codes, continuation requests, and the data items
// responses are made of (atoms, numbers, NIL, strings that choose between
// quoted and literal form, streamed literals and literal8 for BINARY,
// lists, flag lists, mailbox names, date-times). Free text is sanitised so
// that no value can inject a response line.
//
// # Shared types
//
// SeqSet is a parsed sequence set; it resolves "*" and ranges against a
// maximum lazily, so "1:4294967295" costs no more than "1". EncodeMailbox
// and DecodeMailbox implement the modified UTF-7 of RFC 3501 section 5.1.3
// with strict validation.
//
// # API status
//
// imapwire is public API, not an implementation detail of the server: the
// server's own API is built on its types (server.Config.Limits is a
// Limits, server.ClassifyLine reads a Line), and it is usable on its own by
// programs that speak IMAP at the wire level, such as proxies, test
// clients and tools that replay recorded sessions.
//
// Its exported API is kept compatible: no exported name is removed and no
// declaration changes in a way that breaks a caller; such a change needs a
// new major version of the module. New functions, methods, fields, error
// kinds and limits may be added. Not part of the promise: the wording of
// error reasons (match errors with errors.Is, or by Kind), the values
// DefaultLimits returns, and buffering and allocation behaviour.
// TestAPIStable checks the exported declarations against a recorded list
// (testdata/api.txt), which may only grow.
package imapwire
