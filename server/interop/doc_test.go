// Package interop_test checks the server against real IMAP clients: the
// go-imap v2 client library and Python's imaplib (through the imapd binary),
// plus protocol hazards seen from the outside (STARTTLS command injection,
// mailbox names that try to leave the data directory).
//
// Every test listens on a free loopback port only and bounds its run time.
// Commands the server still answers with "NO [CANNOT] Command not available
// yet" make the step that needs them skip with a message saying so.
package interop_test
