"""Message commands through Python's imaplib: APPEND of a multipart message,
FETCH of parts and structure, SEARCH, STORE, COPY, MOVE and EXPUNGE.

Usage: imaplib_messages.py HOST PORT USER PASSWORD

Exits 0 after printing OK when every step behaves, 1 with a message on the
first failure, and 3 with a message when the server answers a command with
"not available yet" (the Go test then skips instead of failing).
"""

import imaplib
import re
import sys

NOT_YET = b"not available yet"
BOX = "PyMsg"

# Part contents; the CRLF before each boundary belongs to the boundary
# (RFC 2046 5.1.1), not to the part.
TEXT_PART = b"Hello,\r\n\r\nthe report is attached.\r\n-- \r\nCarol"
HTML_PART = b"<p>Hello,</p><p>the report is attached.</p>"
ATTACHMENT_B64 = b"AAECAwQFBgcICQoLDA0ODxAREhM="

MULTIPART = (
    b"From: Carol Example <carol@example.org>\r\n"
    b"To: demo@example.org\r\n"
    b"Subject: Quarterly report\r\n"
    b"Date: Wed, 06 Mar 2024 09:30:00 +0100\r\n"
    b"Message-ID: <report-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer-b"\r\n'
    b"\r\n"
    b"This is a multi-part message in MIME format.\r\n"
    b"--outer-b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n" + TEXT_PART + b"\r\n--outer-b\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n" + HTML_PART + b"\r\n--outer-b\r\n"
    b'Content-Type: application/octet-stream; name="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="data.bin"\r\n'
    b"\r\n" + ATTACHMENT_B64 + b"\r\n--outer-b--\r\n"
)

FROM_BOB = (
    b"From: Bob Builder <bob@example.net>\r\n"
    b"To: demo@example.org\r\n"
    b"Subject: Lunch on Friday\r\n"
    b"Message-ID: <lunch@example.net>\r\n"
    b"\r\n"
    b"Pizza?\r\n"
)

SEEN_NOTE = (
    b"From: Dave <dave@example.com>\r\n"
    b"Subject: Old note\r\n"
    b"\r\n"
    b"Already read.\r\n"
)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def joined(data):
    """Flattens an imaplib response list to bytes."""
    out = b""
    for d in data or []:
        if isinstance(d, tuple):
            out += d[0] + d[1]
        elif isinstance(d, bytes):
            out += d
    return out


def check(what, typ, data, want="OK"):
    if typ != want:
        if NOT_YET in joined(data):
            print("NOT-YET: %s: %r" % (what, data))
            sys.exit(3)
        fail("%s: got %s %r, want %s" % (what, typ, data, want))
    return data


def literal(what, data):
    """Returns the literal of a single-message FETCH response."""
    for d in data:
        if isinstance(d, tuple):
            return d[1]
    fail("%s: no literal in %r" % (what, data))


def expect_eq(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def search(c, *criteria):
    data = check("SEARCH %s" % " ".join(criteria), *c.search(None, *criteria))
    return sorted(int(n) for n in data[0].split())


def flags_of(c, seq, recent=True):
    """The flags of a message without \\Recent, which must be set (or not)
    as recent says: imaplib speaks IMAP4rev1, and this session is the first
    to select the mailboxes it appended to (RFC 3501 2.3.2)."""
    data = check("FETCH FLAGS %s" % seq, *c.fetch(seq, "(FLAGS)"))
    m = re.search(rb"FLAGS \(([^)]*)\)", joined(data))
    if not m:
        fail("FETCH FLAGS %s: %r" % (seq, data))
    flags = set(m.group(1).split())
    if (b"\\Recent" in flags) != recent:
        fail("FETCH FLAGS %s: \\Recent %s expected: %r" % (seq, "is" if recent else "not", data))
    return flags - {b"\\Recent"}


def status_messages(c, box):
    data = check("STATUS %s" % box, *c.status(box, "(MESSAGES)"))
    m = re.search(rb"MESSAGES (\d+)", joined(data))
    if not m:
        fail("STATUS %s: %r" % (box, data))
    return int(m.group(1))


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = imaplib.IMAP4(host, port, timeout=15)
    check("LOGIN", *c.login(user, password))
    for box in (BOX, BOX + "/Copies", BOX + "/Moved"):
        check("CREATE " + box, *c.create(box))

    typ, data = c.append(BOX, None, None, MULTIPART)
    check("APPEND multipart", typ, data)
    if not re.search(rb"\[APPENDUID \d+ 1\]", joined(data)):
        fail("APPEND: no APPENDUID for UID 1 in %r" % (data,))
    check("APPEND bob", *c.append(BOX, None, None, FROM_BOB))
    check("APPEND seen", *c.append(BOX, "(\\Seen)", None, SEEN_NOTE))

    expect_eq("SELECT", check("SELECT", *c.select(BOX)), [b"3"])

    # Parts, by section number and header field.
    data = check("FETCH BODY.PEEK[1]", *c.fetch("1", "(BODY.PEEK[1])"))
    expect_eq("BODY.PEEK[1]", literal("BODY.PEEK[1]", data), TEXT_PART)
    data = check("FETCH BODY.PEEK[2]", *c.fetch("1", "(BODY.PEEK[2])"))
    expect_eq("BODY.PEEK[2]", literal("BODY.PEEK[2]", data), HTML_PART)
    data = check("FETCH BODY.PEEK[3.MIME]", *c.fetch("1", "(BODY.PEEK[3.MIME])"))
    if b"Content-Transfer-Encoding: base64" not in literal("3.MIME", data):
        fail("BODY.PEEK[3.MIME]: %r" % (data,))
    if b"\\Seen" in flags_of(c, "1"):
        fail("BODY.PEEK set \\Seen")
    data = check("FETCH BODY[HEADER.FIELDS (SUBJECT)]", *c.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])"))
    expect_eq("HEADER.FIELDS (SUBJECT)", literal("HEADER.FIELDS", data), b"Subject: Quarterly report\r\n\r\n")
    if b"\\Seen" not in flags_of(c, "1"):
        fail("BODY[...] without PEEK did not set \\Seen")
    data = check("FETCH whole", *c.fetch("1", "(BODY.PEEK[])"))
    expect_eq("BODY.PEEK[]", literal("BODY.PEEK[]", data), MULTIPART)

    data = joined(check("FETCH BODYSTRUCTURE", *c.fetch("1", "(BODYSTRUCTURE)"))).upper()
    for want in (
        rb'\("TEXT" "PLAIN" \("CHARSET" "UTF-8"\) NIL NIL "7BIT" %d ' % len(TEXT_PART),
        rb'\("TEXT" "HTML" \("CHARSET" "UTF-8"\) NIL NIL "7BIT" %d ' % len(HTML_PART),
        rb'\("APPLICATION" "OCTET-STREAM" \("NAME" "DATA.BIN"\) NIL NIL "BASE64" %d' % len(ATTACHMENT_B64),
        rb'"ATTACHMENT" \("FILENAME" "DATA.BIN"\)',
        rb'\) "MIXED" \("BOUNDARY" "OUTER-B"\)',
    ):
        if not re.search(want, data):
            fail("BODYSTRUCTURE: %r not found in %r" % (want, data))

    data = joined(check("FETCH ENVELOPE", *c.fetch("1", "(ENVELOPE)")))
    for want in (
        b'"Wed, 06 Mar 2024 09:30:00 +0100" "Quarterly report"',
        b'(("Carol Example" NIL "carol" "example.org"))',
        b'((NIL NIL "demo" "example.org"))',
        b'"<report-1@example.org>"',
    ):
        if want not in data:
            fail("ENVELOPE: %r not found in %r" % (want, data))

    # SEARCH: 1 is now \Seen (non-peek fetch), 2 is unseen, 3 was appended seen.
    expect_eq("SEARCH SUBJECT", search(c, "SUBJECT", '"quarterly"'), [1])
    expect_eq("SEARCH FROM", search(c, "FROM", "bob"), [2])
    expect_eq("SEARCH UNSEEN", search(c, "UNSEEN"), [2])
    expect_eq("SEARCH OR", search(c, "OR", "SUBJECT", "lunch", "FROM", "dave"), [2, 3])
    expect_eq("SEARCH NOT", search(c, "NOT", "FROM", "carol"), [2, 3])
    expect_eq("SEARCH BODY", search(c, "BODY", "pizza"), [2])

    # STORE.
    data = check("STORE +FLAGS", *c.store("2", "+FLAGS", "(\\Flagged $Work)"))
    if b"\\Flagged" not in joined(data):
        fail("STORE +FLAGS: no FLAGS response %r" % (data,))
    expect_eq("flags of 2", flags_of(c, "2"), {b"\\Flagged", b"$Work"})
    check("STORE -FLAGS", *c.store("1", "-FLAGS.SILENT", "(\\Seen)"))
    expect_eq("flags of 1", flags_of(c, "1"), set())
    expect_eq("SEARCH FLAGGED", search(c, "FLAGGED"), [2])
    expect_eq("SEARCH KEYWORD", search(c, "KEYWORD", "$Work"), [2])
    expect_eq("SEARCH UNSEEN after -FLAGS", search(c, "UNSEEN"), [1, 2])

    # COPY 1:2; the copies keep bytes and flags.
    typ, data = c.copy("1:2", BOX + "/Copies")
    check("COPY", typ, data)
    if not re.search(rb"\[COPYUID \d+ 1:2 1:2\]", joined(data)):
        fail("COPY: no COPYUID in %r" % (data,))
    expect_eq("STATUS copies", status_messages(c, BOX + "/Copies"), 2)

    # MOVE message 3 by UID.
    typ, data = c.uid("MOVE", "3", BOX + "/Moved")
    check("UID MOVE", typ, data)
    expunged = c.response("EXPUNGE")[1]
    if expunged != [b"3"]:
        fail("UID MOVE: untagged EXPUNGE %r, want [b'3']" % (expunged,))
    expect_eq("STATUS moved", status_messages(c, BOX + "/Moved"), 1)

    # EXPUNGE message 1.
    check("STORE \\Deleted", *c.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    expect_eq("EXPUNGE", check("EXPUNGE", *c.expunge()), [b"1"])
    data = joined(check("UID FETCH after EXPUNGE", *c.uid("FETCH", "1:*", "(UID)")))
    expect_eq("UIDs left", re.findall(rb"UID (\d+)", data), [b"2"])
    check("CLOSE", *c.close())

    # The copies and the moved message are intact.
    expect_eq("SELECT copies", check("SELECT copies", *c.select(BOX + "/Copies")), [b"2"])
    data = check("FETCH copy", *c.fetch("1", "(BODY.PEEK[])"))
    expect_eq("copied bytes", literal("copy", data), MULTIPART)
    expect_eq("flags of copy 2", flags_of(c, "2"), {b"\\Flagged", b"$Work"})
    expect_eq("SELECT moved", check("SELECT moved", *c.select(BOX + "/Moved")), [b"1"])
    data = check("FETCH moved", *c.fetch("1", "(FLAGS BODY.PEEK[])"))
    expect_eq("moved bytes", literal("moved", data), SEEN_NOTE)
    if b"\\Seen" not in joined(data):
        fail("moved message lost \\Seen: %r" % (data,))

    typ, _ = c.logout()
    if typ != "BYE":
        fail("LOGOUT: got %s" % typ)
    print("OK")


if __name__ == "__main__":
    main()
