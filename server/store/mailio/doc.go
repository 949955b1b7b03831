// Package mailio reads and writes the mailbox exchange formats the imapd
// import, export and deliver subcommands use: mbox in the mboxrd variant and
// maildir (including Maildir++ sub-folders).
//
// mboxrd: each message starts with a "From " separator line; any body line
// that matches ">*From " gets one more '>' when written and loses one when
// read, so quoting is reversible. Flags travel in the customary Status
// (R = \Seen), X-Status (A = \Answered, F = \Flagged, T = \Draft,
// D = \Deleted) and X-Keywords headers, which the reader removes from the
// body and the writer adds. mbox files use LF line endings; the reader
// returns CRLF bodies as IMAP stores them, the writer writes LF.
//
// maildir: messages in new/ and cur/, flags from the ":2," (or "!2,") info
// suffix of the file name: F \Flagged, R \Answered, S \Seen, T \Deleted,
// D \Draft, and lower-case letters mapped through a dovecot-keywords file
// when present. The internal date is the file's modification time.
//
// Readers call back once per message and report progress; a message larger
// than the configured limit fails the read with ErrTooBig rather than being
// truncated.
package mailio
