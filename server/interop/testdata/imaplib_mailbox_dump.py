"""Report what Python's imaplib sees in a mailbox, as JSON for a Go test.

Usage: imaplib_mailbox_dump.py HOST PORT USER PASSWORD MAILBOX SEQ...

Prints one JSON object: "exists" (the SELECT count), "subjects" (the Subject
header of every message, in sequence order, from one FETCH 1:*) and
"bodies" (the base64 of BODY.PEEK[] of each SEQ given). Exits 1 with a
message when a command fails.
"""

import base64
import email
import imaplib
import json
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(what, typ, data):
    if typ != "OK":
        fail("%s: got %s %r" % (what, typ, data))
    return data


def main():
    host, port, user, password, box = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    seqs = sys.argv[6:]
    c = imaplib.IMAP4(host, port, timeout=30)
    check("LOGIN", *c.login(user, password))
    exists = int(check("SELECT", *c.select(box, readonly=True))[0])

    subjects = []
    if exists:
        data = check("FETCH subjects", *c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        for d in data:
            if isinstance(d, tuple):
                subjects.append(email.message_from_bytes(d[1])["Subject"])

    bodies = {}
    for seq in seqs:
        data = check("FETCH " + seq, *c.fetch(seq, "(BODY.PEEK[])"))
        parts = [d[1] for d in data if isinstance(d, tuple)]
        if len(parts) != 1:
            fail("FETCH %s: %r" % (seq, data))
        bodies[seq] = base64.b64encode(parts[0]).decode("ascii")

    typ, _ = c.logout()
    if typ != "BYE":
        fail("LOGOUT: got %s" % typ)
    print(json.dumps({"exists": exists, "subjects": subjects, "bodies": bodies}))


if __name__ == "__main__":
    main()
