/*
Package lmtpprop proves the LMTP session machine (spec/lmtp.yaml, generated
into server/lmtp/lmtpfsm) with the machinery package proptest uses for the
IMAP machine: the spec read by the independent oracle (proptest/internal/
oracle) as the reference, gopter for random sequences, coverage of the
spec's transitions topped up by seed sequences, exhaustive exploration,
wire-level sessions against a live server, and mutants that show every
property can fail.

# Model level

A Session drives a Machine (FSM, the generated package; Reference, the
spec as the oracle reads it; or a broken machine) the way server/lmtp's
session does, counting the accepted recipients of the open transaction, and
checks after every decision:

  - valid-state: every state is declared, every action one of lmtpfsm's.
  - terminal-absorbing: nothing leaves closed; close ends there.
  - one-reply: every line read where the state reads commands (a command,
    DATA with data behind it, an over-long or bare-LF line) gets exactly
    one reply: its handler's, or the spec's rejection. Only closing the
    connection is exempt.
  - per-recipient: DATA is held only with at least one accepted recipient
    (RFC 2033 4.2), and the held DATA is completed exactly once, by one
    reply per accepted recipient at the end of the message; it is never
    left without them unless the connection closes.
  - matches-spec: every decision equals the oracle's.
  - liveness (exploration): from every reachable node the session can get
    back to reading commands with nothing held, without closing.

TestLMTPModelProperties runs random sequences (gopter; steps drawn by
weight, now and then a whole transaction up to DATA; each quirk flipped from
the global mode with probability 1/4) in both global modes, then a seed
sequence (Reference.CoveringSequence) for every transition they missed, and
fails below 100% coverage; it logs "LMTP model coverage". A transition is a
state × input, per mode where the spec splits the cell, per outcome where
the handler runs. TestLMTPExhaustiveExploration visits every node (state,
recipients 0/1/2+, replies owed) with every input and outcome in both
global modes and with each quirk flipped alone. TestLMTPMutantsAreCaught
runs broken machines, one or more per property, and requires the random
runs (with every property, and with only the mutant's) and exploration to
catch each.

# Wire level

A WireSession runs against a live lmtp.Server (lmtp.New on a boltstore
with the accounts alice and bob, over net.Pipe through ServeConn) with the
session's quirk modes. Intents (an input and the outcome to aim at) become
the bytes a client sends: LHLO and EHLO/HELO with and without a domain,
MAIL with good and bad paths and parameters (with a space after FROM:
where the quirk is tolerated, to be refused where it is not), RCPT to
accounts and to unknown ones, DATA with and without an argument, DATA with
the message in the same write, messages with a dot-stuffed line and
sometimes a bare LF, VRFY, commands not offered, unknown verbs, empty,
over-long and bare-LF lines, bursts of refusals up to the error limit.
Each line is classified as the server must classify it, in the state the
spec predicts; the reply is read and the handler's outcome taken from it
(2xx ok, 354 continue, else no). Per line and session it checks:

  - one-reply: every command gets exactly one reply, of the form its
    handler sends when accepted (a reply to another command, or the same
    reply twice, fails), and nothing follows the end of a session (421 or
    221 and EOF).
  - matches-spec: where the machine rejects, the reply is exactly the
    spec's (code, enhanced code, text); where it runs the handler, the
    reply is none of the spec's rejections; the error limit's 421 comes
    exactly when the refusals the server counts reach it.
  - per-recipient: the end of a message gets one reply per accepted
    recipient, in RCPT order, "250 2.0.0 <rcpt>" or a failure; and, read
    back from the store after each session, every message acknowledged for
    an account is stored exactly once for it (once per account however
    often it was a recipient) and no other message is stored.

Sessions end with QUIT, a timeout (a server with short timeouts), a
shutdown while waiting for a command, or a dropped connection. Inputs
whose transitions this run has not made yet weigh 8× in the generator.
TestLMTPWireProperties runs 60 sessions per global mode, then a seed
session for every wire-reachable transition they missed (Reference.
WireReachable: every line where commands are read, the end of the data,
timeouts, shutdown and the error limit while commands are read), and logs
"LMTP wire coverage"; below 100% it fails. TestLMTPWireMutantsAreCaught
breaks the server between client and server (a reply sent twice, the reply
to QUIT withheld, a per-recipient reply dropped, a rejection with another
text) or in its store (a message stored twice, acknowledged but not
stored) and requires the run to fail on the property each break violates.

IMAPFSM_PROPTEST_SEED reproduces a run and IMAPFSM_PROPTEST_LONG=1 runs
100× more sequences, as for package proptest.
*/
package lmtpprop
