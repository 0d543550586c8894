#!/usr/bin/env python3
"""Memory of idle IMAP connections with and without COMPRESS=DEFLATE (RFC 4978).

Usage: benches/compress-idle.py PORT SERVER_PID USER_PREFIX PASSWORD [N]
Logs in as USER_PREFIX1 .. USER_PREFIX40 in turn (max_userip_connections is 10).
Opens N (default 200) logged-in connections that stay silent, reads the server's RSS,
then N more that also ran COMPRESS DEFLATE (and one compressed NOOP each, so both
DEFLATE states have been used), and prints the RSS growth per connection of each kind.
"""
import socket
import sys
import time
import zlib

port, pid, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 200


def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def until(s, tag):
    buf = b""
    while not buf.endswith(b"\r\n") or (tag + b" ") not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


k = 0


def conn(compress):
    global k
    k += 1
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    s.sendall(b"a LOGIN %s%d %s\r\n" % (user.encode(), k % 40 + 1, pw.encode()))
    until(s, b"a")
    if compress:
        s.sendall(b"b COMPRESS DEFLATE\r\n")
        until(s, b"b")
        zo, zi = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
        s.sendall(zo.compress(b"c NOOP\r\n") + zo.flush(zlib.Z_SYNC_FLUSH))
        out = b""
        while b"c OK" not in out:
            out += zi.decompress(s.recv(4096))
        return s, zo, zi
    return s, None, None


def settle():
    time.sleep(1.0)
    return rss()


base = settle()
plain = [conn(False) for _ in range(n)]
with_plain = settle()
comp = [conn(True) for _ in range(n)]
with_comp = settle()
print("idle connections: %d B each without COMPRESS, %d B each with COMPRESS=DEFLATE"
      % ((with_plain - base) / n, (with_comp - with_plain) / n))
