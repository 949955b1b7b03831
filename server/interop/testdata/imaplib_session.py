"""Drive an imapd server with Python's imaplib.

Usage: imaplib_session.py HOST PORT USER PASSWORD

Exits 0 when every step behaves, 1 with a message on the first failure, and
3 with a message when the server answers a command with "not available yet"
(the Go test then skips instead of failing).
"""

import imaplib
import sys

NOT_YET = b"not available yet"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(what, typ, data, want="OK"):
    if typ != want:
        joined = b" ".join(d if isinstance(d, bytes) else b"" for d in data or [])
        if NOT_YET in joined:
            print("NOT-YET: %s: %r" % (what, data))
            sys.exit(3)
        fail("%s: got %s %r, want %s" % (what, typ, data, want))
    return data


def connect(host, port, user, password):
    c = imaplib.IMAP4(host, port, timeout=15)
    check("LOGIN", *c.login(user, password))
    return c


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = connect(host, port, user, password)

    caps = c.capabilities
    if "IDLE" not in caps:
        fail("IDLE not advertised: %r" % (caps,))

    data = check("LIST", *c.list())
    if not any(line.endswith(b" INBOX") or line.endswith(b' "INBOX"') for line in data):
        fail("LIST has no INBOX: %r" % (data,))

    check("CREATE", *c.create('"Py/Test"'))
    data = check("LIST Py", *c.list('""', "Py*"))
    if not any(b"Py/Test" in line for line in data):
        fail("LIST does not show Py/Test: %r" % (data,))

    msg = b"From: py@example.org\r\nSubject: from imaplib\r\n\r\nHello from Python.\r\n"
    check("APPEND", *c.append('"Py/Test"', "(\\Seen)", None, msg))

    data = check("SELECT", *c.select('"Py/Test"'))
    if data != [b"1"]:
        fail("SELECT: want 1 message, got %r" % (data,))

    # QUOTA (RFC 9208): the account's limits (10M, 100 messages) were set
    # with "imapd user quota"; one message of len(msg) bytes is stored.
    caps = check("CAPABILITY", *c.capability())[0].split()
    for cap in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"):
        if cap not in caps:
            fail("%s not advertised: %r" % (cap, caps))
    quota = b'"" (STORAGE %d 10240 MESSAGE 1 100)' % ((len(msg) + 1023) // 1024)
    roots, quotas = check("GETQUOTAROOT", *c.getquotaroot('"Py/Test"'))
    if roots not in ([b'Py/Test ""'], [b'"Py/Test" ""']) or quotas != [quota]:
        fail("GETQUOTAROOT: got %r %r, want root \"\" and %r" % (roots, quotas, quota))
    data = check("GETQUOTA", *c.getquota('""'))
    if data != [quota]:
        fail("GETQUOTA: got %r, want %r" % (data, quota))

    data = check("FETCH", *c.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    flat = b"".join(p[0] + p[1] if isinstance(p, tuple) else p for p in data)
    if b"\\Seen" not in flat or b"Subject: from imaplib" not in flat:
        fail("FETCH: unexpected %r" % (data,))

    # imaplib in Python 3.11 has no idle(): speak IDLE on the socket.
    c.sock.settimeout(15)
    tag = c._new_tag()
    c.send(tag + b" IDLE\r\n")
    line = c.readline()
    if not line.startswith(b"+"):
        if NOT_YET in line:
            print("NOT-YET: IDLE: %r" % line)
            sys.exit(3)
        fail("IDLE: want continuation, got %r" % line)

    other = connect(host, port, user, password)
    check("APPEND (second connection)", *other.append('"Py/Test"', None, None, b"Subject: two\r\n\r\nx\r\n"))
    other.logout()

    while True:
        line = c.readline()
        if not line:
            fail("connection closed while idling")
        if line.strip() == b"* 2 EXISTS":
            break
        if not line.startswith(b"* "):
            fail("IDLE: unexpected %r" % line)

    c.send(b"DONE\r\n")
    while True:
        line = c.readline()
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                fail("IDLE completion: %r" % line)
            break
        if not line:
            fail("connection closed after DONE")

    check("NOOP after IDLE", *c.noop())

    # NOTIFY (RFC 5465): imaplib has no notify(); xatom sends it. Another
    # connection's CREATE is pushed as LIST between commands, so it has
    # arrived when the next command completes.
    if b"NOTIFY" not in caps:
        fail("NOTIFY not advertised: %r" % (caps,))
    check("NOTIFY", *c.xatom("NOTIFY", "SET (personal (MessageNew MessageExpunge MailboxName))"))
    other = connect(host, port, user, password)
    check("CREATE (second connection)", *other.create('"Py/Notified"'))
    other.logout()
    check("NOOP after NOTIFY", *c.noop())
    typ, data = c.response("LIST")
    if not data or not any(d and b"Py/Notified" in d for d in data):
        fail("NOTIFY: no LIST for the new mailbox: %r" % (data,))
    check("NOTIFY NONE", *c.xatom("NOTIFY", "NONE"))
    typ, _ = c.logout()
    if typ != "BYE":
        fail("LOGOUT: got %s" % typ)
    print("OK")


if __name__ == "__main__":
    main()
