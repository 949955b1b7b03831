"""Drive COMPRESS=DEFLATE (RFC 4978) with Python's imaplib and zlib.

Usage: imaplib_compress.py HOST PORT USER PASSWORD

imaplib has no COMPRESS command, so a subclass issues it and, after the
tagged OK, reads through a zlib decompressor and writes through a zlib
compressor (raw DEFLATE, wbits -15, a sync flush after each command, as
C IMAP clients using zlib do). zlib is an implementation of DEFLATE
independent of the server's. Exits 0 and prints OK when every step
behaves, 1 with a message on the first failure.
"""

import imaplib
import io
import sys
import zlib


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(what, typ, data, want="OK"):
    if typ != want:
        fail("%s: got %s %r, want %s" % (what, typ, data, want))
    return data


class InflatingReader(io.RawIOBase):
    """The socket's bytes, decompressed."""

    def __init__(self, sock):
        self.sock = sock
        self.z = zlib.decompressobj(-15)
        self.pending = b""

    def readable(self):
        return True

    def readinto(self, b):
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                return 0
            self.pending = self.z.decompress(data)
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


# imaplib refuses commands it does not know.
imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


class CompressingIMAP4(imaplib.IMAP4):
    deflate = None

    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        if typ != "OK":
            return typ, data
        # The server sends nothing after the OK until the next command,
        # so the buffered reader holds no compressed byte yet.
        self.file = io.BufferedReader(InflatingReader(self.sock))
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        return typ, data

    def send(self, data):
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        super().send(data)


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = CompressingIMAP4(host, port, timeout=15)
    check("LOGIN", *c.login(user, password))
    check("COMPRESS", *c.compress())
    check("NOOP", *c.noop())
    check("SELECT", *c.select("INBOX"))

    # A large message up and down through both compressors.
    lines = [b"From: py@example.org", b"Subject: compressed", b""]
    i = 0
    while sum(len(l) + 2 for l in lines) < 300000:
        lines.append(b"line %d: some text that repeats, and a number that does not: %x" % (i, i * 2654435761))
        i += 1
    msg = b"\r\n".join(lines) + b"\r\n"
    check("APPEND", *c.append("INBOX", None, None, msg))
    data = check("SEARCH", *c.search(None, "SUBJECT", "compressed"))
    num = data[0].split()[-1]
    data = check("FETCH", *c.fetch(num, "(BODY.PEEK[])"))
    if data[0][1] != msg:
        fail("the fetched body differs: %d bytes sent, %d back" % (len(msg), len(data[0][1])))

    # A second COMPRESS is refused (RFC 4978 3); the session goes on.
    typ, data = c._simple_command("COMPRESS", "DEFLATE")
    if typ != "NO" or b"[COMPRESSIONACTIVE]" not in data[0]:
        fail("a second COMPRESS: %s %r, want NO [COMPRESSIONACTIVE]" % (typ, data))
    check("NOOP after a second COMPRESS", *c.noop())
    check("LOGOUT", *c.logout(), want="BYE")
    print("OK")


if __name__ == "__main__":
    main()
