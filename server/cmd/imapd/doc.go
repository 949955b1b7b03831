/*
Command imapd runs the imapfsm IMAP server and administers its mail store.

Usage:

	imapd <command> [flags] [arguments]

Every command accepts --help, which lists its flags. Flags may appear before
or after the positional arguments. An error is reported as one line on
standard error and a non-zero exit status; a usage error exits with status 2.

# Data directory

Every command takes --data DIR, the directory of the embedded store (a bbolt
database, mail.db, plus the message contents under blobs/). The directory is
created on first use. The database is locked by one process at a time: while
"imapd serve" runs, the administrative commands (user, import, export) wait
a few seconds for the lock and then fail. deliver instead hands the message
to the running server through the LMTP socket DIR/lmtp.sock (see LMTP below).

# serve

	imapd serve --data DIR --listen ADDR [--tls-listen ADDR] [--tls-cert FILE --tls-key FILE]
	            [--insecure-auth] [--strictness lenient|strict] [--quirk ID=MODE ...]
	            [--metrics ADDR] [--shutdown-timeout DURATION]
	            [--lmtp-listen ADDR [--lmtp-allow-remote]] [--lmtp-detail-mailbox=false]
	            [--trace-dir DIR] [--metadata-admin URI]
	            [--log-level debug|info|warn|error] [--log-format text|json]

Serves IMAP on the plaintext address --listen and, with --tls-listen, on an
implicit-TLS address (port 993 style). With --tls-cert and --tls-key the
plaintext listener offers STARTTLS; without them only plaintext is served and
logins are refused (LOGINDISABLED) unless --insecure-auth is given.
--insecure-auth is refused unless every IMAP listen address is a loopback
address: it exists for local development only.

--strictness sets how client quirks are handled (lenient, the default,
accommodates misbehaving clients; strict follows the RFCs), and each --quirk
ID=MODE overrides one quirk, for example --quirk idle-tagged-command=strict.
The quirk identifiers are listed by "imapd serve --help".

--trace-dir DIR writes a protocol trace of every IMAP connection to a file of
its own in DIR (created with mode 0700; files 0600): the exchange in the
RFC's "C: "/"S: " transcript form, with literal bytes (messages, both ways)
and credentials (LOGIN arguments, SASL responses) redacted, and machine
events (timers, the end of a TLS handshake) as "-- event NAME" notes. It is
off by default and meant for debugging a client: "imapd replay" reads the
files.

--metadata-admin URI (for example mailto:postmaster@example.org) is what
clients read as the read-only METADATA server entry /shared/admin (RFC 5464),
the way to contact the administrator.

--metrics ADDR serves the server's counters in the Prometheus text format at
http://ADDR/metrics.

Signals: SIGINT and SIGTERM stop accepting connections, let every session
finish its current command and say BYE, and exit once they are gone or after
--shutdown-timeout, whichever comes first. SIGHUP reloads the TLS certificate
and key from their files; connections already open keep their certificate, and
a reload that fails is logged and leaves the previous certificate in use.

# LMTP

serve (and demo) accept mail for final delivery over LMTP (RFC 2033), so that
a mail transfer agent can deliver into the store while the server holds it:

  - always on the unix socket DIR/lmtp.sock, created with mode 0600 (only
    the user running imapd may connect) and removed on shutdown; a socket
    left behind by a crash is replaced;
  - with --lmtp-listen ADDR also on TCP. ADDR must be a loopback address
    unless --lmtp-allow-remote is given: LMTP has no authentication, so
    anyone who can connect can deliver mail to any account.

The local part of a recipient address names the account; the domain is not
checked. When no account has the whole local part as its name, "user+NAME"
delivers to user, into the mailbox NAME when it exists (exact match, else a
unique case-insensitive match) and into INBOX otherwise;
--lmtp-detail-mailbox=false always uses INBOX. The server advertises
PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE (the store's limit, 64 MiB
by default), answers once per recipient after the message, and says 250 only
once the message is durable in the store. Unknown accounts get 550 5.1.1,
messages over the limit 552 5.3.4, store failures 451 4.3.0 or 452 4.3.1
(the transfer agent retries). Each stored message starts with Return-Path
(the MAIL FROM address) and Received header fields. On shutdown, a session
receiving a message finishes that transaction first.

Postfix, for example: mailbox_transport = lmtp:unix:/var/lib/imapfsm/lmtp.sock
(the Postfix delivery process must run as the user owning the data
directory), or lmtp:inet:127.0.0.1:2424 with --lmtp-listen 127.0.0.1:2424.

# user

	imapd user add    --data DIR NAME   < password
	imapd user passwd --data DIR NAME   < password
	imapd user del    --data DIR NAME
	imapd user list   --data DIR
	imapd user quota  --data DIR NAME [--storage SIZE] [--messages N]

add creates an account with the default mailboxes; passwd replaces its
password; del removes it with all its mail; list prints one account name a
line. The password is the first line of standard input (without its line
ending); an empty password is refused.

quota sets the limits of the account's quota (RFC 9208; IMAP clients read
them with GETQUOTAROOT): --storage bounds the sum of its message sizes, in
bytes or with a K, M, G or T suffix in steps of 1024 (500M, 2G), and
--messages the number of its messages, over all its mailboxes. A limit not
given is kept; 0 removes one. Without either flag, quota prints the limits
and the current usage. A message that would exceed a limit is refused:
APPEND and COPY with NO [OVERQUOTA], LMTP with 552 5.2.2, deliver with exit
status 73; MOVE is never refused. Lowering a limit below the usage refuses
new mail only.

# deliver

	imapd deliver (--data DIR | --store URL) [--mailbox NAME] USER < message

Stores one message read from standard input, for use as a local delivery
agent. A leading mbox "From " envelope line is dropped and bare LF line
endings are converted to CRLF. The default mailbox is INBOX; when --mailbox
names a mailbox that does not exist the message goes to INBOX (and a warning
is logged), so that mail is never bounced for a missing folder.

deliver first tries to open the store itself, waiting only a quarter of a
second for its lock. When "imapd serve" holds the store, deliver hands the
message to it through DIR/lmtp.sock instead (with the address of the mbox
"From " line as envelope sender); IMAP sessions idling on the mailbox see it
at once, and the stored message gains the Return-Path and Received fields the
server adds. When the store is locked but no server answers on the socket,
deliver waits for the lock as the other commands do. With --store URL (a
PostgreSQL store) deliver always stores directly. The exit status follows
sysexits(3):

	 0  stored
	65  EX_DATAERR: the input is not a usable message (empty, no header, too big)
	67  EX_NOUSER: USER has no account
	73  EX_CANTCREAT: the mailbox is full (the account is over its quota)
	75  EX_TEMPFAIL: a temporary failure (store busy or unavailable, server
	    refusing for now or unreachable); retry later

# probe

	imapd probe --user NAME (--password-file FILE | --password PASS) [--tls | --starttls] [--insecure]
	            [--server-name NAME] [--mailbox NAME] [--timeout DURATION] [--idle-wait DURATION]
	            [--json] [--transcripts] HOST:PORT

Probes any IMAP server (imapd, Dovecot, Cyrus, a hosted service) for the
client quirks of spec/imap.yaml. Each quirk in the spec declares a probe: the
state to reach, the lines a misbehaving client sends there, and what the
server answers in the lenient and in the strict mode. For every quirk the
probe opens a fresh session, reaches the state, sends the lines in one write,
ends IDLE if the lines did not, and sends a NOOP as a fence. The verdicts:

	lenient  answered as imapfsm's lenient mode answers
	strict   answered as imapfsm's strict mode answers
	both     the quirk has one behaviour in both modes, and the server has it
	other    a consistent answer that is neither
	broken   a tag left unanswered or answered twice, the session out of step
	         (the fence NOOP unanswered), a disconnect, or no answer in --timeout
	skipped  a capability the probe needs is not advertised, or the probe
	         needs --idle-wait (the IDLE keepalive check)

The table shows one line per quirk with the evidence in the probe's own
words ("held BAD" is the IDLE tag's completion, "1 OK [CLIENTBUG]" the
completion of the first line sent); the transcripts of other, broken and
skipped verdicts follow (all of them with --transcripts). --json prints an
array of objects with quirk, who, verdict, evidence and transcript. Passwords
are redacted from transcripts. The probe is harmless: a few bounded commands
per quirk, --mailbox (INBOX) is only selected, and the one mailbox it
changes is a scratch mailbox it creates and deletes. The exit status is 0
when the probe ran, whatever the verdicts, and 1 when it could not connect or
log in.

# replay

	imapd replay [--strictness lenient|strict] [--quirk ID=MODE ...] [--json] FILE

Runs the client side of a recorded session through the session machine
generated from spec/imap.yaml. FILE (or "-" for standard input) is a trace
written by --trace-dir or a plain transcript in the RFC's form: "C: " before
client lines, "S: " before server lines, "#" comments, "-- event NAME" for
machine events. Client lines that announce a literal continue with the
literal's bytes (or a "<literal n bytes ...>" placeholder) and the rest of the
command. For each client line replay prints the input the server reads it
as, the state before and after, the rule and the quirk that decide it, what
the spec says the chosen mode answers, what the recording shows, and where
the two differ; a last line counts the differences. --json prints the same
as an array of objects (line, client, input, before, after, rule, quirk,
action, outcome, expected, recorded, differs). The exit status is 0 when the
file was replayed, whatever it shows.

# import and export

	imapd import --data DIR (--mbox FILE | --maildir DIR [--folders]) [--mailbox NAME] [--progress N] [--skip N] USER
	imapd export --data DIR --mailbox NAME --mbox FILE [--progress N] USER

import appends every message of an mbox file or a maildir to a mailbox
(default INBOX, created when missing). On a terminal it draws a progress
bar on standard error, otherwise it prints a progress line every --progress
messages; it ends with a summary line (messages, bytes, seconds, messages
per second). Messages are stored in batches of up to 2,048 messages or
8 MiB, each durable (synced) before it counts as imported. An interrupted
or failed import leaves exactly the messages it reports as stored: every
batch before the one in progress, in source order, and nothing of the batch
in progress; "--skip N" with the number the error names continues after
them without duplicates. Maildir flags (the ":2," suffix of each file name) become the IMAP
flags \Seen, \Answered, \Flagged, \Deleted and \Draft. With --folders the
Maildir++ sub-folders of a maildir (".Lists.Go") are imported as well, as
mailboxes below --mailbox ("Lists/Go" when --mailbox is INBOX). Flags the
store cannot keep (\Recent, malformed keywords) are dropped and counted.
"--mbox -" reads standard input. export writes every
message of a mailbox to an mbox file ("-" means standard output), reading
the mailbox in chunks so that memory stays bounded, with the same progress
display and summary line (on standard error).

# demo

	imapd demo [--data DIR] [--listen ADDR] [--metrics ADDR] [--log-level LEVEL] [--log-format FORMAT]

Serves DIR (default ./data) on ADDR (default 127.0.0.1:1143) for local
testing: it creates the account demo with password demo if it is missing and
allows plaintext logins, which is why ADDR must be a loopback address.
"make run" builds imapd and runs this command.
*/
package main
