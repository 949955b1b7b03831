// Package interop_test checks the server against real IMAP clients: the
// go-imap v2 client library and Python's imaplib (through the imapd binary),
// mbsync, offlineimap3, fetchmail, getmail6, imapfilter and the Node.js
// library imapflow, plus protocol hazards seen from the outside (STARTTLS
// command injection, mailbox names that try to leave the data directory).
//
// The external clients run against a strict and a lenient server, over
// plaintext, STARTTLS and implicit TLS wherever the client has them, with
// a certificate they verify (clients_helpers_test.go). A missing client
// skips its test, except with CI=true: .ci/run installs every one of them
// (Debian packages; imapflow through testdata/install-imapflow.sh).
//
// Every test listens on a free loopback port only and bounds its run time.
// Commands the server still answers with "NO [CANNOT] Command not available
// yet" make the step that needs them skip with a message saying so.
package interop_test
