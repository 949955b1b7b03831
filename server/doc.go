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
// command, never the session's state, and use nothing declared in another
// command file: what several commands share lives in files named for what
// it is (replies.go, mailbox_args.go, mailbox_list.go, search.go,
// seqsets.go, message_structure.go, status_items.go). Timers and other events (autologout,
// IDLE keepalive, the end of a TLS handshake, shutdown, the bad-command
// limit) are inputs of the machine too, so the spec also decides that an
// idling client is never logged out.
//
// Storage goes through the small interfaces of package store; the default
// backend is store/boltstore. Sessions learn of other sessions' changes
// through store.Notifier and catch up from the store's change log.
//
// # Extensions
//
// After login the server advertises IMAP4rev2 and IMAP4rev1 with NAMESPACE,
// UNSELECT, UIDPLUS, MOVE, CHILDREN, LIST-EXTENDED, LIST-STATUS,
// SPECIAL-USE, CREATE-SPECIAL-USE, STATUS=SIZE, APPENDLIMIT, UTF8=ACCEPT,
// BINARY, ESEARCH, SEARCHRES, WITHIN, PREVIEW, OBJECTID, SAVEDATE, SORT,
// SORT=DISPLAY, ESORT, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES,
// CONTEXT=SEARCH, CONTEXT=SORT, REPLACE, CONDSTORE, QRESYNC and
// COMPRESS=DEFLATE; when the
// store keeps quotas (both bundled stores do), QUOTA, QUOTA=RES-STORAGE and
// QUOTA=RES-MESSAGE; when it keeps annotations, METADATA; when its
// notifier calls functions (both bundled stores' notifiers do), NOTIFY;
// and when it appends batches atomically (store.BatchAppender; both
// bundled stores do), MULTIAPPEND (besides LITERAL+, ID, ENABLE, IDLE and
// SASL-IR, offered before login too). The
// first CONDSTORE-enabling command of a session with a mailbox selected
// (FETCH with MODSEQ or CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE,
// STATUS HIGHESTMODSEQ) is answered with OK [HIGHESTMODSEQ] before its
// tagged OK (RFC 7162 3.1).
//
// Literals: LITERAL+ (RFC 7888) is advertised, so a client may send any
// literal non-synchronising ("{n+}") up to the limits (Limits.MaxLiteral,
// and APPENDLIMIT for APPEND); that includes LITERAL-, the subset of
// non-synchronising literals up to 4096 octets that IMAP4rev2 makes base
// (RFC 9051 4.3), so it is not advertised separately. A non-synchronising
// literal over its limit is refused with a tagged BAD (NO [TOOBIG] for
// APPEND) and, above Limits.MaxSkip, the connection is closed at once,
// since its bytes are already on their way (RFC 7888 4).
//
// MULTIAPPEND (RFC 3502): APPEND takes one or more messages, each with its
// own flags and date. They are received into a spool (memory up to
// Config.AppendSpoolMemory per command, then an unlinked temporary file)
// and stored only once the whole command has arrived well formed, in one
// store operation: all or none. Each literal is bounded by APPENDLIMIT,
// the messages of one command by Config.MaxAppendSize together (NO
// [TOOBIG]) and Config.MaxAppendMessages in number (NO [LIMIT]), and
// quota applies to the batch as a whole (NO [OVERQUOTA]). A refusal before
// a synchronising literal comes without its "+", so the client sends
// nothing more of the command; non-synchronising literals after a refusal
// are skipped. A zero-length message cancels the command (NO, nothing
// stored). The tagged OK carries APPENDUID with the UID set of all the
// messages (RFC 4315 3).
//
// SAVEDATE (RFC 8514): both stores keep, for each message, when it entered
// its mailbox (APPEND, COPY, MOVE, REPLACE, delivery, import; a copy or a
// move gets a new one, unlike the internal date). FETCH SAVEDATE returns it
// and SEARCH SAVEDBEFORE, SAVEDON and SAVEDSINCE compare its day as BEFORE,
// ON and SINCE do the internal date's. A message stored before the store
// kept save dates has none, and is answered as RFC 8514 answers for a
// storage without save dates: FETCH SAVEDATE is NIL (4.2), the SAVED* keys
// compare its internal date instead (4.3), and SAVEDATESUPPORTED, which
// matches every other message, does not match it.
//
// REPLACE (RFC 8508): REPLACE and UID REPLACE, in a mailbox selected
// read-write, receive a message as APPEND does, append it to the target
// mailbox and then expunge the replaced message from the selected one,
// answering "* OK [APPENDUID ...]", the EXPUNGE (or VANISHED) and, when
// the target is the selected mailbox, EXISTS. A message that no longer
// exists is refused with NO [NONEXISTENT] and a missing target with NO
// [TRYCREATE], both before a synchronising literal is invited; a failed
// append leaves the old message in place. Both bundled stores replace in
// one commit (store.Replacer); with a store that cannot, the append and
// the expunge are separate commits, and a crash between them keeps both
// messages, the old one flagged \Deleted.
//
// SEARCH asks a store that implements store.FlagSearcher for the flag keys
// at the top of the program (system flags and keywords, set, unset or NOT,
// ANDed): when they are the whole program its answer is the result,
// otherwise only the messages it found are fetched and tested for the
// other keys. HEADER and SUBJECT read the header blocks with the
// messages' metadata (store.FetchOptions.Header) and open a body only when
// the store gives none.
//
// SORT (RFC 5256 3) orders the messages a search selects by ARRIVAL, CC,
// DATE, FROM, SIZE, SUBJECT and TO, and with SORT=DISPLAY (RFC 5957) by
// DISPLAYFROM and DISPLAYTO, each optionally REVERSE; strings compare under
// the i;unicode-casemap collation (RFC 5051), subjects by their base subject
// (RFC 5256 2.1), and ties in mailbox order. ESORT (RFC 5267 3) adds the
// RETURN options MIN, MAX, COUNT, ALL (in sort order) and SAVE. THREAD
// (RFC 5256 4) groups them with ORDEREDSUBJECT or REFERENCES (Message-ID,
// References and In-Reply-To, then base subjects).
//
// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4) add the RETURN options
// CONTEXT (a hint, ignored), PARTIAL n:m (that window of the results, in
// the requested order, or NIL) and UPDATE to SEARCH and SORT and their UID
// forms. With UPDATE the session keeps an update context named by the
// command's tag and sends ESEARCH ADDTO and REMOVEFROM as the results
// change, by its own commands or other sessions', until the mailbox is
// closed or CANCELUPDATE names the tag: a new message is tested after its
// EXISTS, a message whose flags changed after its FETCH, and an expunged
// result is removed just before its EXPUNGE (or VANISHED) while its
// number is valid; an idling client gets them at once. SEARCH contexts
// report changes at position 0 in mailbox order, SORT contexts at their
// positions in the sorted results. Sequence numbers and "$" in the search
// program are bound to the messages they named when the command ran. A
// tag that already names a context is refused with BAD (tag reuse);
// beyond Config.MaxUpdateContexts (default 10) a search is answered with
// an untagged NO [NOUPDATE "tag"] and no updates. Each context re-tests
// the changed messages, so a context on a large mailbox costs little;
// updates are sent where the session announces changes anyway (at the
// end of a command, or while idling).
//
// QUOTA (RFC 9208): each account has one quota root, named "" (the empty
// string), over all its mailboxes, with the resources STORAGE (the sum of
// the message sizes, reported in units of 1024 octets rounded up) and
// MESSAGE (the number of messages). The operator sets the limits (imapd
// user quota; store.QuotaAdmin). GETQUOTAROOT answers "* QUOTAROOT mailbox
// """ and a QUOTA response listing the resources that have a limit;
// GETQUOTA "" answers the QUOTA response. An account without limits has
// no quota root (a QUOTA response must list a resource): GETQUOTAROOT
// lists none and GETQUOTA "" answers NO [NONEXISTENT]. SETQUOTA is not
// offered (QUOTASET is not advertised) and answers NO [NOPERM]. APPEND
// and COPY that would exceed a limit answer NO [OVERQUOTA] and store
// nothing; MOVE within the account never does, and LMTP delivery answers
// 552 5.2.2. STATUS DELETED-STORAGE (RFC 9208 4.1.4), in STATUS and
// LIST-STATUS, reports the octets of the mailbox's messages flagged
// \Deleted, which an EXPUNGE would free.
//
// COMPRESS=DEFLATE (RFC 4978): after the tagged OK of COMPRESS DEFLATE,
// which is valid once logged in, both directions carry raw DEFLATE (RFC
// 1951). Each batch of responses is compressed and sync-flushed at once,
// so no response waits in the compressor; the compressor comes from a pool
// for each write, so an idle compressed session holds none, only the
// decompressor of the client's stream with its 32 KiB window. That
// decompressor is the server's own: it hands out every command as soon as
// its bytes are in, whether the client flushes with zlib's Z_SYNC_FLUSH or
// Z_PARTIAL_FLUSH (isync/mbsync does; compress/flate would hold such a
// command until the client's next bytes). The second COMPRESS of a
// session is refused with NO [COMPRESSIONACTIVE] by the machine (the
// spec's compression fact). The limits on lines,
// literals and commands apply to the decompressed bytes, a corrupt client
// stream ends the session with BYE, and commands a client pipelines behind
// COMPRESS are decompressed, not read as plaintext. STARTTLS is valid only
// before login, so with both, compression runs inside TLS, the order RFC
// 4978 section 3 requires.
//
// NOTIFY (RFC 5465): NOTIFY SET [STATUS] replaces the session's notify
// set (session data, not a state of the machine), NOTIFY NONE drops it.
// The filters SELECTED, SELECTED-DELAYED, PERSONAL (every mailbox),
// INBOXES (INBOX, where delivery files mail), SUBSCRIBED, SUBTREE and
// MAILBOXES are offered with the events MessageNew (with fetch
// attributes for the selected mailbox, sent with UID and never setting
// \Seen), MessageExpunge, FlagChange, MailboxName and SubscriptionChange,
// and, with METADATA, MailboxMetadataChange and ServerMetadataChange
// (reported as unsolicited METADATA responses naming the entry, RFC 5464
// 4.4.2); AnnotationChange and unknown events are refused with
// NO [BADEVENT (...)] listing the supported ones. The first group whose filter selects a mailbox decides
// its events; only SELECTED and SELECTED-DELAYED select the selected
// mailbox. Notifications are sent whenever untagged responses may be:
// between commands and during IDLE. The selected mailbox is pushed as
// IDLE pushes it (EXISTS, FETCH FLAGS with FlagChange, EXPUNGE or
// VANISHED with SELECTED; SELECTED-DELAYED holds expunges back for a
// command that may report them); without a SELECTED group it follows the
// base protocol. The FETCH with MessageNew's fetch attributes follows the
// EXISTS of every new message another session added, whether a push or
// a command's response (NOOP, the start of IDLE, ...) announces it, but
// not of the session's own: what its APPEND, COPY, MOVE or REPLACE added
// to the selected mailbox, known by the UIDs the store returned, gets
// EXISTS only (RFC 5465 5.2). Other mailboxes are reported with STATUS (MESSAGES
// UIDNEXT UIDVALIDITY, and HIGHESTMODSEQ once CONDSTORE is enabled) when
// these changed, or, for FlagChange with CONDSTORE, HIGHESTMODSEQ; with
// the STATUS option, NOTIFY SET reports them once at the start. Mailbox
// events are reported with LIST: the mailbox's attributes, \NonExistent
// once deleted, \Subscribed when subscribed, OLDNAME for a rename (one
// per renamed mailbox, inferiors included). The session's own changes
// (CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, SETMETADATA, and
// APPEND, COPY or MOVE into other mailboxes) are not notified back: its
// commands' responses report them (RFC 5465 5). They are told apart by
// origin, not by time: from its first NOTIFY SET on, the session's
// context carries a store.Origin, the store stamps the notifications of
// the changes made with it, and only those are left out, so another session's change made while the
// session's own command runs, even of the same kind or mailbox, is
// reported. A notification of mixed origins (coalesced) counts as
// another's, and a mailbox whose status was taken silently after an own
// change is reported when another's change it already included is
// announced later. Mailbox events come from the store (both stores
// publish them, across nodes for PostgreSQL), so changes by other nodes
// and by administration tools are reported too. A session whose client
// does not take its notifications (Config.MaxPendingNotifications queued)
// gets OK [NOTIFICATIONOVERFLOW] and its set is dropped.
// METADATA (RFC 5464, which implies METADATA-SERVER) keeps annotations
// per account in the store (store.MetadataUser): server entries under the
// mailbox name "" and entries of each mailbox, /private and /shared alike
// (an account has no other user to share them with). GETMETADATA takes
// the MAXSIZE option (larger values are left out and the largest is
// reported with OK [METADATA LONGENTRIES n]) and DEPTH 0, 1 or infinity;
// an entry asked for by name that has no value is returned as NIL (DEPTH
// 0 only). It accepts the options before the mailbox (the RFC's grammar)
// or after it (the RFC's examples, go-imap), and the entries as one name,
// a list, or names separated by spaces. SETMETADATA sets and removes (NIL)
// entries all or nothing; a value over Config.Metadata.MaxValueSize
// answers NO [METADATA MAXSIZE n] (before the continuation request of a
// synchronising literal), one beyond the count or size limits per mailbox
// and per account NO [METADATA TOOMANY], a /private entry on a server
// configured SharedOnly NO [METADATA NOPRIVATE]. Entry names are
// case-insensitive (kept lower-cased); a malformed one (no /private or
// /shared prefix, "*", "%", "//", a trailing "/", a byte outside
// printable ASCII, a vendor entry without its token) is BAD. Annotations
// follow RENAME, go with DELETE and are copied when INBOX is renamed. The
// server entry /shared/admin is read-only, from Config.Metadata.Admin
// (imapd serve --metadata-admin). Unsolicited METADATA responses are not
// sent (RFC 5464 4.1 makes them optional), so ENABLE METADATA enables
// nothing.
//
// QRESYNC (RFC 7162 3.2) is what Apple Mail uses to resynchronise a
// mailbox in one round trip. After ENABLE QRESYNC (which implies
// CONDSTORE), SELECT and EXAMINE accept (QRESYNC (uidvalidity modseq
// [known-uids] [seq-match-data])) and answer with VANISHED (EARLIER) and
// FETCH (UID FLAGS MODSEQ); UID FETCH accepts the VANISHED modifier with
// CHANGEDSINCE; and every expunge, the session's own or another's, is
// reported as VANISHED instead of EXPUNGE. The expunged UIDs come from the
// store's change log, whose expunge entries keep the UIDs and their
// MODSEQ; when the log no longer reaches back to the client's mod-sequence
// (it is bounded per mailbox), the server reports the known UIDs that no
// longer exist, as RFC 7162 3.2.5.2 allows. A SELECT or EXAMINE that
// closes the selected mailbox sends "* OK [CLOSED]" first (RFC 9051 6.3.2).
//
// # IMAP4rev1 and IMAP4rev2
//
// A session speaks IMAP4rev1 (RFC 3501) until it sends ENABLE IMAP4rev2;
// the revision, like the other ENABLE'd and CONDSTORE-enabled state, is
// session data, not a state of the machine. Where the revisions differ,
// each session gets the responses of its own:
//
//   - \Recent (RFC 3501 2.3.2) exists for IMAP4rev1 only. Each mailbox
//     keeps in the store the first UID no session has claimed
//     (store.MessageWriter.ClaimRecent, atomic across sessions and
//     nodes). A read-write SELECT claims the messages up to the last one
//     it reports, and a session with the mailbox selected read-write
//     claims new messages when it learns of them, so each message is
//     recent in exactly one session: that one reports it in FETCH FLAGS
//     and matches it with the search keys RECENT, NEW and OLD. SELECT,
//     EXAMINE and every EXISTS are followed by "* n RECENT". EXAMINE
//     claims nothing (RFC 3501 6.3.2): it counts the unclaimed messages
//     and those arriving later, without flagging them. STATUS (RECENT)
//     counts the messages no session claimed. IMAP4rev2 sessions never
//     see \Recent, claim nothing, and get 0 for STATUS (RECENT).
//   - SELECT and EXAMINE send OK [UNSEEN n] with the first unseen message
//     in IMAP4rev1 (RFC 3501 6.3.1), and the mailbox's LIST response with
//     its LIST attributes in IMAP4rev2 (RFC 9051 6.3.2). A store that
//     implements store.FirstFlagMatcher finds that message (pgstore from
//     its \Seen-unset index); otherwise the messages are read from the
//     first until one lacks \Seen.
//   - SEARCH answers with SEARCH in IMAP4rev1, ESEARCH in IMAP4rev2.
//
// # Flags and keywords
//
// The FLAGS and PERMANENTFLAGS responses of SELECT list the keywords in
// use in the mailbox. A keyword that becomes new to the mailbox later (a
// STORE by any session, an APPEND, COPY or MOVE into it) is announced to
// each session with the mailbox selected by new FLAGS and PERMANENTFLAGS
// responses before the first response of that session that carries it
// (RFC 9051 7.3.5, RFC 3501 7.2.6). \Recent is never listed in FLAGS.
//
// # Guarantees
//
//   - Every tagged command line gets exactly one tagged completion, in
//     arrival order, in strict and lenient mode alike; so does every line
//     whose tag can be read although the rest cannot (a NUL byte, garbage
//     after the tag, a line over the limit, answered as soon as it passes
//     the limit).
//   - A tagged OK for APPEND, STORE, COPY, MOVE or EXPUNGE is written only
//     after the store made the change durable.
//   - After STARTTLS, bytes the client sent before the handshake are
//     discarded (command injection, the CVE-2011-0411 class).
//   - Without TLS, LOGINDISABLED is advertised and credentials are refused
//     (NO [PRIVACYREQUIRED]) unless Config.AllowInsecureAuth is set. The
//     spec decides it: the engine keeps the spec's session facts beside the
//     state (tls from the listener, then from the STARTTLS handshake;
//     plaintext-auth from Config.AllowInsecureAuth), and the capability
//     list advertises what the machine would do under them.
//   - A literal never carries a NUL byte (RFC 9051 4.3): FETCH BODY[] of a
//     part appended with NULs (a binary literal) sends each as 0x80, as
//     Dovecot does; BINARY[] returns the exact bytes in a literal8.
//   - Every limit (line and literal sizes, connections, bad commands,
//     timeouts) is a Config field with a documented default.
//
// # Bad input
//
// What the server answers to hostile or broken input, and whether the
// connection stays open. Each row has a test in badinput_test.go. "Open"
// means the next command is served normally; every such answer still
// counts towards the bad-command limit when it is a BAD.
//
//	input                                        answer                                              open
//	-------------------------------------------  --------------------------------------------------  ----
//	line over Limits.MaxLine (64 KiB) that       tag BAD [TOOBIG] Line too long, sent as soon as     yes
//	starts with a tag and a space                the limit is passed; the rest of the line is
//	                                             skipped (and a non-sync literal at its end)
//	line over the limit with no readable tag     * BAD [TOOBIG] Line too long                        yes
//	line going on more than Limits.MaxSkip       tag BAD [TOOBIG] Line too long (at the limit),      no
//	(1 MiB) past the limit, ended or not         * BYE [TOOBIG] Command too large
//	synchronising literal over Limits.MaxLiteral tag BAD [TOOBIG] Literal of n bytes exceeds ...     yes
//	                                             (no "+" is sent, nothing is read)
//	non-synchronising literal over the limit,    tag BAD [TOOBIG] ...; the payload is skipped        yes
//	at most Limits.MaxSkip
//	APPEND literal over Limits.MaxAppendLiteral  tag NO [TOOBIG] ... (RFC 7889), sync, or non-sync   yes
//	                                             of at most Limits.MaxSkip (skipped)
//	non-sync literal over its limit and over     tag BAD [TOOBIG] Literal of n bytes exceeds limit   no
//	Limits.MaxSkip (APPEND included)             of m bytes; closing (APPEND: NO), then * BYE
//	                                             [TOOBIG] Command too large, at once: nothing of
//	                                             the payload is read (RFC 7888 section 4)
//	non-sync literal over MaxSkip in a command   the spec's reply, then * BYE [TOOBIG] Command too   no
//	the machine rejects                          large
//	a command of more than Config.MaxAppendSize  tag BAD [TOOBIG] Command too large; closing,        no
//	plus 16 lines and literals, each within      * BYE [TOOBIG] Command too large
//	its limit
//	an APPEND whose later message is malformed,  tag BAD or NO with the reason; none of the          yes
//	over a limit, over quota or empty            command's messages is stored
//	literal shorter than announced               the literal swallows the next bytes; the rest of    yes
//	                                             the command is a syntax error: BAD, nothing stored
//	disconnect in the middle of a literal        session ends; an APPEND stores nothing              no
//	NUL byte in a line that starts with a tag    tag BAD Invalid tag or command line: Line contains  yes
//	and a space (a \x00\x01 NOOP)                NUL byte
//	NUL byte in the tag, or before it            * BAD Invalid tag or command line: Line contains    yes
//	                                             NUL byte
//	bare CR inside a line                        tag BAD Invalid tag or command line: Bare CR ...    yes
//	bare LF as line end                          accepted as CRLF (lenient line ending)              yes
//	invalid UTF-8 in a quoted string             tag BAD Quoted string contains invalid UTF-8        yes
//	invalid UTF-8 in an atom (mailbox name)      tag BAD Invalid character in astring                yes
//	invalid modified UTF-7 mailbox name          tag NO [NONEXISTENT] No such mailbox: <reason>;     yes
//	(RFC 3501 5.1.3)                             CREATE, RENAME to it: NO [CANNOT]; as a LIST
//	                                             pattern or reference: matched as sent
//	parentheses nested 10,000 deep               tag BAD Parentheses nested too deeply (limit 100)   yes
//	sequence set 0                               tag BAD Sequence number must be non-zero            yes
//	sequence set 4294967296                      tag BAD Sequence number out of range                yes
//	1:* on an empty mailbox                      tag OK (FETCH: nothing; SEARCH: empty * SEARCH)     yes
//	a set of 100,000 ranges                      tag OK, or tag BAD [TOOBIG] Line too long when the  yes
//	                                             line is over Limits.MaxLine
//	unknown command                              tag BAD Unknown command: NAME                       yes
//	a command in a state where it is illegal     the spec's reply (fsm.Step), e.g. BAD Command       yes
//	                                             needs authentication; log in first
//	AUTHENTICATE with garbage base64             tag BAD Invalid base64 in ... response              yes
//	AUTHENTICATE PLAIN message that is not       tag BAD Invalid SASL PLAIN message                  yes
//	authzid NUL user NUL password (RFC 4616),
//	an empty response included
//	AUTHENTICATE PLAIN as another user           tag NO [AUTHORIZATIONFAILED] The authorization ...  yes
//	AUTHENTICATE cancelled with "*"              tag BAD AUTHENTICATE cancelled (RFC 9051 6.2.2)     yes
//	SASL response over 8 KiB decoded             tag BAD SASL response too long                      yes
//	SASL response over Limits.MaxLine            tag BAD [TOOBIG] SASL response too long; ...        yes
//	STARTTLS after TLS                           tag BAD TLS is already active                       yes
//	commands pipelined after STARTTLS            discarded with the plaintext buffer, never run      yes
//	Config.MaxBadCommandsBeforeAuth (5) BADs     * BYE Too many invalid commands                     no
//	in a row before login
//	Config.MaxBadCommands (20) BADs in a row     * BYE Too many invalid commands                     no
//	after login
//	a command trickled slower than               * BYE Command not received in time                  no
//	Config.CommandTimeout allows
//	a client that does not read                  disconnected after Config.WriteTimeout              no
//	bytes that are no DEFLATE after COMPRESS     * BYE Compressed input is corrupt (compressed),     no
//	DEFLATE (RFC 4978)                           logged as a warning
//	a compressed line or literal that expands    as for the same bytes uncompressed: the limits     yes
//	beyond the limits (a decompression bomb)     apply to decompressed bytes
//	COMPRESS with another mechanism than         tag BAD Unsupported compression mechanism ...       yes
//	DEFLATE
//
// # Resource limits
//
// Every bound is a Config field with a safe default; Config documents each.
// Connections: MaxConnections in total, MaxConnectionsPerIP per address
// (IPv4 address or IPv6 /64; over either limit "* BYE [UNAVAILABLE]"),
// MaxConnectionsPerUser per account (NO [LIMIT] on LOGIN, connection kept).
// Authentication: AuthFailureDelay after each failure, and a per-address
// token bucket (MaxAuthFailuresPerIP, AuthFailureRefill) after which
// attempts get NO [UNAVAILABLE] at once. Time: LoginTimeout in the states
// the spec does not mark `authenticated` and AutologoutTimeout in those it
// does, for a command's first byte (the same split picks
// MaxBadCommandsBeforeAuth or MaxBadCommands), CommandTimeout for the rest
// of it, WriteTimeout for each write; the machine exempts IDLE from the
// read timers (it sends keepalives instead).
// Memory: input is bounded by imapwire.Limits, output by the encoder's
// 16 KiB buffer (writers block; the one exception is an IDLE push to a
// client that stopped reading, whose unsent rest, at most one encoder
// buffer, is finished by the session's own goroutine so that the mailbox's
// other idlers are not held up), the authentication limiter by a fixed
// number of tracked addresses. A message command walks its sequence set
// against the session's view (4 bytes per message) instead of listing the
// messages it names: FETCH reads and answers 512 messages at a time (128
// when an item needs the message structure), so UID FETCH 1:* holds
// nothing per message, and STORE, COPY, MOVE and UID EXPUNGE give the
// store runs of consecutive UIDs. A session waiting for a command holds no
// read or write buffer; an idling one (IDLE) also gives up the goroutine
// that ran its commands and waits in a fresh one with the smallest stack,
// about 5.5 KB of server memory per IDLE session in all.
//
// # Client quirks
//
// Quirk handling is declared in spec/imap.yaml and listed in
// fsm/MACHINE.md. Each quirk hit is logged with its id and counted
// (Metrics.QuirkHits); tolerated violations carry the [CLIENTBUG] response
// code (RFC 5530).
package server
