/*
Package proptest proves the IMAP session machine against its spec with
property-based tests (gopter), at two levels: at the model level random and
exhaustive input sequences go through the machine's decisions, without a
server; at the wire level random IMAP sessions run against a live
in-process server, whose answers are checked against the same spec.

Package proptest/lmtpprop runs the same machinery (the oracle as reference,
gopter, coverage with seed sequences, exploration, wire sessions against a
live server, a mutant per property) against the LMTP machine of
spec/lmtp.yaml.

# What is checked against what

The machine under test is a Machine: normally FSM, the generated package fsm.
The reference is the spec text itself. Package internal/oracle decodes
spec/imap.yaml on its own (its own structs, its own resolution of groups,
`stay`, `origin`, `otherwise`, lenient/strict blocks, and the session facts:
which rule a `when` condition selects, what an `effect` sets) and Reference
maps that reading onto fsm's enums. Nothing in the reference comes from gen's
tables, so a generator that mistranslates the spec disagrees with it.

A Session drives a Machine the way the session engine does (see the fsm
package documentation): for each Step, an input and the outcome its handler
reports, it asks for a Decision under the session's facts, applies Pending,
the action, the next state and the facts after the rule's effect, and
redispatches when told to. A session opens with DefaultFacts (those of the
test servers: credentials allowed without TLS) unless told otherwise
(Session.WithFacts, a sequence's facts line). After every decision and every step it
checks the properties:

  - valid-state: every state the machine moves to is declared (State.Valid),
    every action is one of fsm's, and redispatch settles.
  - terminal-absorbing: nothing leaves a terminal state, and a decision that
    closes the connection ends in one.
  - tag-completion: every tagged line gets exactly one completion. The
    Ledger models the obligations: an executed command is completed by its
    handler unless the outcome is continue, which makes the state hold its
    tag; a rejected line is completed by its reply; a held tag is completed
    by exactly one Pending, or by the handler of the continuation line that
    ends the exchange (a SASL response); redispatch completes the held tag
    and decides the line again. No tag may be completed twice, a state that
    holds a tag must have one to hold, and no tag may be left open when the
    session leaves a tag-holding state. A completion must be a tagged OK, NO
    or BAD. Closing the connection is the only exemption.
  - idle-origin: IDLE is entered from its origin and always ends in it, and
    an IDLE continuation line (DONE and its variants) always ends IDLE.
  - matches-spec: every decision (rule, action, reply, pending, quirk, and
    the next state and the facts after for every outcome) equals what the
    oracle reads in the spec under the session's facts, in the mode of the
    cell's quirk.
  - liveness (exploration only): from every reachable node the session can
    get back to a state that reads commands, with no tag held, without
    closing the connection; and it can always be ended.

# How the properties are exercised

TestModelProperties runs gopter's commands package over random sequences,
in both global modes, each quirk flipped from the global mode with
probability 1/4, from the facts a connection can open with (DefaultFacts
three times as often as each other valuation of the engine-given facts:
implicit TLS, credentials refused without TLS). Every input is legal in every state (the spec is total),
so steps have no preconditions and shrinking may drop any step. GenStep
weights inputs with gen.Weighted (see Weight and OutcomeWeight) so that the
rare ones still appear while sessions reach the deeper states. A failure
prints the shrunk sequence, with its modes simplified, as a sequence file
(see below) together with the seed.

Coverage records the transitions the runs exercise. A transition of the
spec (Reference.Transitions) is a state × input, by each rule when the
cell's rules have conditions on the facts (written "not-authenticated ×
login (privacy-required)"), in each mode when the spec decides the cell
differently per mode, and with each outcome the input can produce when the
decision runs the handler; outcomes of decisions that run no handler change
nothing and count once. Only the facts a state is reached with count
(Reference.ReachableFacts): COMPRESS with compression active is no
transition while nothing sets the fact. After the random runs the test
adds a shortest sequence for each transition they missed (a seed sequence,
Reference.CoveringSequence), logs both figures, and fails below 100%.

TestExhaustiveExploration enumerates breadth-first, from every facts a
connection can open with, every reachable node (a state, the session's
facts and whether a tag is held) with every input and outcome, in both
global modes and with each quirk flipped on its own (ExplorationModes), for
the generated package and for gen's in-memory table, checking every
property, liveness included.

TestReplaySequenceFiles replays every testdata/*.seq file but the wire
sequences (wire-*.seq, see Wire level). The format is
documented on Sequence: IMAP-like lines such as `A1 SELECT INBOX`, `DONE`,
`*`, `<stray-done>`, `<event autologout>`, an optional `=> no` outcome, and
`mode`, `quirk`, `facts` (the opening facts) and `expect` lines. Counterexamples are printed in this
format, with comments saying what the machine did at every step.

TestMutantsAreCaught is the meta-test: broken machines built in memory
(WildDuck's IDLE handling, a failed SELECT that stays selected, DONE that
keeps idling, a stranded IDLE state, a terminal state left by LOGIN, a tag
answered twice, a rejection without a reply, an undeclared state) must each fail the random run with a
short counterexample that replays, must be caught by their own property
with every other property off, and must be found by exploration.
TestSpecMutants writes the same kind of defects into the spec instead and
shows which ones gen's verifier rejects and which it accepts, to be caught
by the properties.

# Running

	go test ./proptest/                        default run, seed from the clock
	go test ./proptest/ -long                  100× more random sequences
	go test ./proptest/ -seed 12345            reproduce a run
	go test ./proptest/ -write-counterexamples save counterexamples
	go test ./proptest/ -run Wire              only the wire level
	make proptest-long                         the soak run (-long for everything)

The environment variables IMAPFSM_PROPTEST_LONG=1, IMAPFSM_PROPTEST_SEED
and IMAPFSM_PROPTEST_WRITE=1 do the same when flags cannot be passed. A
saved counterexample (testdata/counterexample-<machine>-<seed>.seq, or
testdata/wire-counterexample-<server>-<seed>.seq at the wire level) is
replayed by TestReplaySequenceFiles or TestWireReplay until the bug is
fixed, and stays as a regression test after.

# Editing the spec

The oracle reads spec/imap.yaml when the tests run, so every spec edit is
re-checked without touching this package: run `make generate`, then
`go test ./proptest/`. If the generated package is stale, Reference reports
which names the spec and fsm disagree on. New states, inputs, rules and
quirk splits join the transitions to cover and the exploration on their
own. If the edit breaks a property (a tag left unanswered, an IDLE that no
longer returns to its origin, a stranded state), the failing test prints a
shortest counterexample as a sequence file. Only the mutants name rules and
states of the current spec; when a rule they edit is renamed, they fail
with a message saying which mutant to update.

# Adding a property

Add a Property constant and its name in property.go; check it where it is
observable: per decision in Session.checkMove, per step at the end of
Session.Apply, or over the whole reachable graph in Explore; document it
above; and add a mutant to mutants_test.go that this property catches with
every other property off. The meta-test then proves the property can fail.
A wire-level property is checked in WireSession (per step in step, at the
end in finish or verifyAppends) and gets a middleman mutant in
wire_mutants_test.go.

# Wire level

The wire properties drive a live server (server.New on a boltstore in a
temporary directory, over net.Pipe; its account has a quota far above
what a run stores, so GETQUOTA "" succeeds and nothing is refused for
quota) with the bytes a client sends. A
WireStep is one line with its literals; a WireSession classifies each step
against the model's state the way the spec's input documentation says
(ClassifyWire: a DONE outside IDLE is a stray DONE, "*" in SASL cancels,
...), asks Reference for the decision, and reads what the server sends. The
model follows the server: a handler's outcome is read from the wire (tagged
OK → ok, NO → no, BAD → bad, "+" → continue) and picks the next state, so
every step is checked in the state the server should be in. Coverage and
Ledger are fed as at the model level. Per step and sequence it checks:

  - tag-completion: every tag gets exactly one completion, in the order the
    commands were sent, also when a batch of steps is pipelined in one
    write; a response for a later tag, a second one for an answered tag,
    one for no tag, or a "+" continuation while a tag still waits for its
    completion (IDLE started again before the IDLE it ended was answered)
    fails. "+" continuations are expected for IDLE, AUTHENTICATE and
    synchronising literals.
  - matches-spec: where the spec rejects a line, the server answers with
    exactly the spec's reply (status, code, text); where the spec runs the
    command, the server never answers with a rejection of the spec (so the
    model's state predicts which commands get "log in first" or "No mailbox
    selected"); notify and close send the spec's untagged reply, close ends
    the stream. The server's error limit is mirrored: the BYE must come
    exactly when the BAD replies in a row reach it.
  - server-sound: no BAD [SERVERBUG] (a recovered handler panic), no
    connection dropped that the spec keeps open, no goroutine left after
    Shutdown (goroutine count per sequence, goleak per test).
  - durable: every APPEND acknowledged with APPENDUID reads back byte for
    byte (UID FETCH BODY.PEEK[] over a fresh connection) unless a later
    command may have removed it.
  - sessions-agree (TestMultiSessionConvergence): two or three sessions on
    one INBOX with random APPEND, STORE, EXPUNGE and IDLE; after DONE and a
    NOOP on each, UID FETCH 1:* (FLAGS) gives every session the same UIDs
    and flags, and each session's EXISTS/EXPUNGE stream matches its own
    message numbering. In half the runs the sessions also set NOTIFY
    (RFC 5465: SELECTED-DELAYED, with FlagChange and fetch attributes or
    without) and receive pushes between commands, and a watcher session
    that selects nothing (NOTIFY SET (inboxes ...)) must end with a STATUS
    INBOX counting the messages the sessions converged to
    (TestMultiSessionNotifyMutantIsCaught: a server whose STATUS
    notifications never arrive fails it).

The generator (wireGen) draws inputs with the model level's Weight in a
predicted state, together with the handler outcome to aim at, and writes
them as realistic lines: LOGIN right and wrong (also with a literal),
AUTHENTICATE PLAIN with and without initial response (and with a mechanism
the server lacks), SASL responses right, wrong, not base64, empty, and the
"*" cancel, SELECT/EXAMINE of existing and missing mailboxes, APPEND with
synchronising and non-synchronising literals, FETCH (BINARY of a part with
an unknown transfer encoding fails), STORE, SEARCH (an unknown charset
fails), COPY, MOVE (to a missing mailbox), EXPUNGE, CLOSE, UNSELECT, IDLE
with Apple-style tags, DONE and its variants (done, "DONE ", bare LF), stray
DONEs, empty lines, garbage with and without a readable tag (NUL bytes
among it: a tag and a space before the garbage make the line
unparsable-tagged, whose tag the server must answer), and syntax errors
of every command; now and
then a mailbox is deleted while selected, after which the commands on it
fail. A step joins the write of the step before it with probability 1/4,
and each quirk is flipped from the global mode with probability 1/4.

Within one run the generator remembers which transitions earlier steps
aimed at (wireDraws): a transition not aimed at yet weighs up to 8× more
(novelty), and a move into another state weighs more the more of that
state's transitions are still untried (frontier). This is what brings the
runs into the IDLE states, which hold most of the spec's cells: every
command, in both modes of idle-tagged-command, in three IDLE states, each
visit deciding one line. IDLE weighs 5× more in the command states, and a
tagged IDLE during lenient IDLE (which ends IDLE and starts it again, as
Apple Mail does) counts as a move into IDLE. The draws are made in order
from the run's seed, so a seed still reproduces the run; shrinking draws
nothing. The whole sequence is one gopter value (prop.ForAll, not
commands.Prop, so that the end-of-sequence checks can fail and shrink),
shrunk by dropping steps, then its modes are simplified. MaxShrinkCount
keeps shrinking to seconds.

TestWireProperties runs both global modes against the default server (no
TLS, long timers: STARTTLS is refused; 200 sequences of 16 to 40 steps per
mode), then both again against an extended server (extendedFactory; 150
shorter sequences per mode): STARTTLS with a self-signed certificate made
in the test, autologout and login timeouts of 800 ms, keepalives every
250 ms in IDLE, a command timeout of 500 ms, a 256-byte line limit and
small literal limits; then both against a TLS-only server (tlsOnlyFactory,
40 sequences per mode): the extended server without AllowInsecureAuth,
whose connections open without the plaintext-auth fact, so that LOGIN and
AUTHENTICATE get NO [PRIVACYREQUIRED] until STARTTLS. The extended
server's timers run on a test clock (server.Config.Clock)
that the runner advances (WireClock): a <sleep> step or a partial line
moves the clock past the timer in small steps instead of waiting, and no
timer fires while a step runs, however slow the machine. For it the
generator also draws the client's side of the handshake (<handshake>, or
<handshake garbage> for tls-failed; the runner then talks TLS over the same
connection), <sleep> steps (the runner asks the machine which timer event
is due: the autologout BYE, or, in IDLE, keepalives and no BYE past the
autologout timeout), partial lines (command-timeout), lines over the limit
(line-too-long, or line-too-long-tagged when the line starts with a tag
and a space: the server answers as soon as the line passes the limit;
and beyond what it skips, Limits.MaxSkip, also command-too-large, which
the runner expects after the line's answer), garbage up to the
error limit and <shutdown> (the server shuts down while the session waits;
the acknowledged APPENDs are then not read back); over-long lines and
shutdowns come 4× more often in IDLE and SASL, whose visits last one line,
and the error-limit burst in strict IDLE is empty lines, answered with an
untagged BAD while IDLE goes on. The extended generator also writes
literals over the limits (LOGIN and SELECT literals over MaxLiteral, APPEND
over APPENDLIMIT, synchronising ones answered before "+", small
non-synchronising ones skipped), a non-synchronising literal too large to
skip (answered, then command-too-large: the BYE comes at once), a
disconnect in the middle of an APPEND literal (a step that ends inside its
literal; the runner hangs up), and bytes pipelined after STARTTLS in the
same write, which the server must discard (a LOGIN injected there would
leave the session authenticated over TLS, against the model).

COMPRESS DEFLATE runs on both servers: after its OK the runner compresses
what it writes (a sync flush per write, as zlib clients do) and
decompresses what it reads, from the bytes the event stream had read
beyond the OK on; COMPRESS is written on its own, never pipelined (RFC
4978 3). On a compressed session the generator now and then sends
<corrupt>, bytes that are no DEFLATE (corrupt-stream: the BYE, then the
end of the stream); a seed sequence for corrupt-stream puts COMPRESS
DEFLATE on its path where the path first reaches a state that runs it.

Which inputs the engine raises depends on the state, so the test reports
coverage of all transitions and of the wire-reachable ones
(Reference.WireReachable: nothing in logged-out, only the handshake's
events in tls-handshake, only the inputs ClassifyWire can produce in the
state's reading mode, line-too-long and unparsable wherever lines are
read (a NUL byte makes a SASL response unparsable), and timer events only
where the machine acts on them). Some wire-reachable
transitions this server never makes happen; serverNeverReports lists them
with the reason, the report counts them apart, and the test fails if one
of them happens after all (the list is then wrong):

  - NO from CAPABILITY, NOOP, ID, LOGOUT, NAMESPACE, ENABLE, CHECK,
    UNSELECT and IDLE: these handlers fail only on their arguments (BAD).
  - NO from CANCELUPDATE: it too fails only on its arguments; a tag that
    names no update context is accepted.
  - NO from LIST, LSUB and CLOSE: only when the store fails (I/O); a
    deleted selected mailbox lists nothing, and CLOSE just leaves it.
  - OK from SETQUOTA: it is not offered (no QUOTASET) and always answers
    NO [NOPERM].
  - continue from a SASL response: PLAIN, the only mechanism, ends with
    the first response.
  - error-limit in sasl: every BAD there ends the exchange, so the count
    reaches the limit in not-authenticated.
  - command-too-large in the IDLE states and in sasl: the line or literal
    too large to skip is answered first (line-too-long, a rejection, or
    its handler), which ends IDLE or the exchange.
  - corrupt-stream in not-authenticated and sasl: compression starts only
    after login (RFC 4978 3), and no state after login leads back there.

The other wire-reachable transitions (787 of the 835) must all be
exercised, in each global mode, as at the model level: after the random
sequences of a mode, each transition they missed gets a shortest sequence
(Reference.WireSeed renders the model's covering path, CoveringSequence
under that mode, as client lines and actions: the generator's renderings,
drawn again until they aim at the path's outcome, pauses for the timers,
a partial line, over-long lines, the handshake, a shutdown, a garbage
burst for the error limit), run on the default server or, when it needs
TLS, timers or the line limit, on the extended one, or, when it needs a
connection that opens without plaintext-auth, on the TLS-only one
(WireOptions.Facts are the facts the server's connections open with), and
checked like a random sequence. The test logs "wire-level transition coverage: N/M (P%)"
per mode and fails below 100%. At the CI seed (CI=true) the random
sequences reach 627 (lenient) and 628 (strict) of the 787, and the seed
sequences the rest; before the seed sequences (and before the tagged
lines joined the spec) the random runs of both modes together reached 579
of 600. A failure prints the shrunk
sequence as a wire sequence file (the format is documented on WireStep's
file: exact lines, "..." Go strings for bytes such as a bare LF, "| " for a
pipelined step) with the seed and, per step, the spec's decision, the
server's responses and the violations. With -write-counterexamples it is
saved as testdata/wire-counterexample-*.seq; TestWireReplay replays every
testdata/wire-*.seq against a fresh server in each mode the file names, the
extended server when the file name contains "extended".

TestWireMutantsAreCaught is the wire meta-test: a middleman between client
and server rewrites the responses of the real server into defects
(WildDuck's swallowed IDLE tag, a SELECT answered twice, pipelined
completions out of order, Dovecot's and Cyrus's swallowed tag of a command
sent during IDLE in strict mode, in lenient mode the IDLE tag answered
after that command, a garbage or over-long line whose readable tag is
answered untagged, a lost acknowledged APPEND); each must fail the
wire property with a short counterexample that replays against the mutant
and passes against the real server.

# Mailbox data

The session properties say nothing of the data a client keeps in sync
with. TestMailboxDataProperties proves that part against mailboxModel, a
plain reference of one mailbox: its messages in UID order with their flags
and keywords, the highest UID ever given, and the step at which each
message last arrived or changed. A case (dataCase) is two to four sessions
on one INBOX, the first IMAP4rev1 and the second IMAP4rev2 (ENABLE
IMAP4rev2), the others either, each with CONDSTORE off (until a command
enables it), enabled by ENABLE CONDSTORE, or by SELECT INBOX (CONDSTORE),
and a sequence of actions: APPEND with flags and keywords (now and then
one new to the mailbox), UID STORE +FLAGS, -FLAGS or FLAGS (.SILENT
sometimes, new keywords too), UID COPY into INBOX, UID MOVE out of it,
EXPUNGE, FETCH (by number and by UID, with and without MODSEQ), SEARCH and
UID SEARCH (RECENT, NEW and OLD in rev1 sessions, MODSEQ), NOOP, IDLE
(ended by the session's next action, while the others act), a MODSEQ mark
and a later UID FETCH CHANGEDSINCE the mark. Actions run one at a time;
UID commands name messages the session knows the UID of. The model
follows each action (APPENDUID and COPYUID give the new UIDs; EXPUNGE
removes every \Deleted message of the mailbox). Which session a message is
\Recent in depends on timing and is not modelled, only that there is one.

Each session keeps a sessionView from the responses it receives: the UID
of each message number (0 until a FETCH tells it), the flags it was told,
the last FLAGS response, MODSEQs and HIGHESTMODSEQ. Every response is
checked against that view before it is applied; dataChecker holds what the
sessions share (who owns \Recent of a UID, the flags each (UID, MODSEQ)
pair was reported with). The properties, one subtest each, with the number
of checks each made in the test log:

  - flags-announced: every flag in a FETCH FLAGS list is in the last FLAGS
    response the session received (\Recent aside; RFC 9051 7.3.5), and no
    flag is listed twice.
  - uids-ascending: a FETCH's UID is above the UIDs of lower message
    numbers and below those of higher ones, equals the UID the message had,
    and was never expunged; APPENDUID and COPYUID give UIDs above every
    UID before.
  - seq-numbers: EXISTS never goes down; EXPUNGE, FETCH and SEARCH name a
    message of the session's view at that moment; no EXPUNGE comes during
    FETCH, STORE or SEARCH (RFC 9051 7.5.1).
  - modseq-order: a message's MODSEQ never goes down in a session and
    changes whenever its flags do; the same (UID, MODSEQ) always stands for
    the same flags; a STORE by a CONDSTORE session reports for each change a
    MODSEQ above every MODSEQ seen before it; HIGHESTMODSEQ never goes back
    nor below a MODSEQ the session was sent; the first CONDSTORE-enabling
    command gets OK [HIGHESTMODSEQ] (RFC 7162 3.1); UID FETCH CHANGEDSINCE
    returns exactly the messages the model changed since the mark.
  - recent-once: \Recent (and the RECENT response) never reaches an
    IMAP4rev2 session; at the end each message is \Recent in exactly one
    IMAP4rev1 session, never in two during the run, and UID SEARCH RECENT,
    NEW and OLD agree with FETCH FLAGS.
  - views-converge: every command succeeds; a STORE reports the model's
    flags for every message it set (a .SILENT one leaves the client to
    note them); after a NOOP in every session each view's message count,
    UIDs and told flags equal the model's, and so does a full UID FETCH 1:*
    (FLAGS).

A check that waits for a server fix is listed in dataPending: its
violations are counted and logged, not failed, and a pending/<check>
subtest is skipped naming the fix; the list is empty once the server has
them all. The default run is 60 cases of 8 to 40 actions (2 to 5 seconds
on the shared 2-core machine, about 6 with -race); -long runs 6,000 (10
minutes there, about 3 million checks).

TestDataMutantsAreCaught is the meta-test: a middleman rewrites the real
server's responses (keywords-unannounced, flag-listed-twice,
appenduid-reused, uids-descending, expunge-off-by-one, exists-undercount,
modseq-frozen, highestmodseq-stale, changedsince-misses, recent-everywhere,
seen-hidden), and
each must fail the data properties, caught by its own property, with a
case shrunk to a few actions.
*/
package proptest
