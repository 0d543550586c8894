#!/usr/bin/env bash
# COMPRESS=DEFLATE (RFC 4978) with a real client library: Python's imaplib, its socket
# wrapped in zlib raw DEFLATE streams (wbits -15, a sync flush after every command as the
# RFC's clients do). It logs in, turns on COMPRESS, checks that a second COMPRESS is
# refused with NO [COMPRESSIONACTIVE] and an unknown mechanism with BAD, selects INBOX,
# appends three messages (one of 200 KiB, one with 8-bit octets) and fetches them back,
# comparing every octet, then checks that the server really compressed (fewer octets on
# the wire than inflated) and logs out cleanly.
# Usage: scripts/compress-client.sh   (Python 3 standard library only)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/imap-server.sh
start_imap compress zuser 'z pw'
python3 - "$IMAP" <<'EOF'
import imaplib
import sys
import zlib

port = int(sys.argv[1])
imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


class Deflated(imaplib.IMAP4):
    """imaplib with COMPRESS=DEFLATE: raw DEFLATE both ways once compress() said OK."""

    zin = zout = None
    wire_in = wire_out = plain_in = 0

    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        assert typ == "OK", (typ, data)
        self.zin = zlib.decompressobj(-15)
        self.zout = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.pending = b""

    def send(self, data):
        if self.zout is None:
            return super().send(data)
        z = self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)
        self.wire_out += len(z)
        self.sock.sendall(z)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise imaplib.IMAP4.abort("connection closed")
        self.wire_in += len(chunk)
        plain = self.zin.decompress(chunk)
        self.plain_in += len(plain)
        self.pending += plain

    def read(self, size):
        if self.zin is None:
            return super().read(size)
        while len(self.pending) < size:
            self._fill()
        out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def readline(self):
        if self.zin is None:
            return super().readline()
        while b"\n" not in self.pending:
            self._fill()
        i = self.pending.index(b"\n") + 1
        out, self.pending = self.pending[:i], self.pending[i:]
        return out


c = Deflated("127.0.0.1", port)
assert "COMPRESS=DEFLATE" in c.capabilities, c.capabilities
c.login("zuser", "z pw")
c.compress()

# Everything from here on is compressed.
typ, data = c._simple_command("COMPRESS", "DEFLATE")
assert (typ, data) == ("NO", [b"[COMPRESSIONACTIVE] DEFLATE is already active via COMPRESS"]), (typ, data)
try:
    c._simple_command("COMPRESS", "LZ4")
    raise AssertionError("COMPRESS LZ4 accepted")
except imaplib.IMAP4.error as e:
    assert "unknown compression mechanism LZ4" in str(e), e

typ, data = c.capability()
assert typ == "OK" and b"COMPRESS=DEFLATE" in data[0], data
typ, data = c.select("INBOX")
assert (typ, data) == ("OK", [b"0"]), (typ, data)

big = b"".join(b"Line %06d of a large message, compressible text.\r\n" % i for i in range(4000))
messages = [
    b"From: a@example.org\r\nSubject: small\r\n\r\nhello through DEFLATE\r\n",
    b"From: b@example.org\r\nSubject: big\r\n\r\n" + big,
    b"From: c@example.org\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nna\xefve caf\xe9 \xff\x80\r\n",
]
for m in messages:
    typ, data = c.append("INBOX", None, None, m)
    assert typ == "OK", (typ, data)
    assert data[0].startswith(b"[APPENDUID "), data
typ, data = c.noop()
assert typ == "OK", (typ, data)

typ, data = c.fetch("1:3", "(UID RFC822.SIZE BODY.PEEK[])")
assert typ == "OK", (typ, data)
got = [d for d in data if isinstance(d, tuple)]
assert len(got) == 3, data
for i, (head, body) in enumerate(got):
    assert head.startswith(b"%d (UID %d RFC822.SIZE %d BODY[] {%d}" % (i + 1, i + 1, len(messages[i]), len(messages[i]))), head
    assert body == messages[i], (i, body[:80])

typ, data = c.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert data[0][1] == b"Subject: big\r\n\r\n", data

typ, data = c.uid("SEARCH", None, "BODY", "DEFLATE")
assert (typ, data) == ("OK", [b"1"]), (typ, data)

ratio = c.wire_in / c.plain_in
print("compressed: %d octets received for %d inflated (%.1f%%), %d sent"
      % (c.wire_in, c.plain_in, 100 * ratio, c.wire_out))
assert ratio < 0.5, ratio

typ, data = c.logout()
assert typ == "BYE", (typ, data)
print("COMPRESS=DEFLATE with Python imaplib: OK")
EOF
