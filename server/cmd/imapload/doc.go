/*
Imapload drives an IMAP server on this machine with concurrent clients and
measures it: operations per second per command and latency percentiles (p50,
p99, max), with progress logs on longer runs. It works with any IMAP4rev1 or
IMAP4rev2 server and refuses every target that is not a loopback address.

Usage:

	imapload run --addr 127.0.0.1:1143 --user NAME --password PASS [--mix imaptest] [flags]
	imapload peers --imapd bin/imapd [--dovecot dovecot] [flags]
	imapload mixes
	imapload gen (--mbox FILE | --maildir DIR) [--messages 20000] [--size 1500]

Mixes (imapload mixes lists them with their details):

	imaptest  LOGIN, SELECT, then FETCH, APPEND, UID FETCH, UID STORE, EXPUNGE; a new session every few iterations
	login     connect, LOGIN, LOGOUT
	append    APPEND only
	status    STATUS and NOOP
	idle      K idlers and one appender; push latency from APPEND OK to EXISTS at each idler
	keywords  concurrent STORE of keywords new to the mailbox, APPEND with keywords, FETCH FLAGS, NOOP

Every response is checked (tagged status, EXISTS on SELECT, APPENDUID, the
fetched body byte for byte, the stored flag, STATUS items, BYE on LOGOUT).
A wrong answer counts as an error, not as throughput, and makes the exit
status 1.

Besides, a client-side checker holds every response against the session's
state and counts protocol violations per kind: a flag in FETCH FLAGS that
no FLAGS response announced, a flag listed twice, a message number outside
the count that EXISTS and EXPUNGE imply, EXISTS going down without
EXPUNGE, EXPUNGE during FETCH, STORE or SEARCH, UIDs out of order or
reused, and a tagged completion out of order. The report lists them with
examples; any violation makes the exit status 1.

The peers subcommand starts imapd and Dovecot side by side on free loopback
ports with the same account, runs each mix against both and prints the
ratio imapd/Dovecot per mix; `make bench-peers` installs Dovecot when
missing and runs it.

The gen subcommand writes N generated messages as an mbox file or a
maildir, the input of the import figures in the README.
*/
package main
