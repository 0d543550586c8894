#!/usr/bin/env python3
"""Server memory around one large FETCH (run by hand, never in tests).

Logs in to a running mailroom IMAP listener, selects INBOX, fetches message 1 (by default
`BODY.PEEK[]`), reads the literal fully, and prints the server's VmRSS and VmHWM
(/proc/PID/status) before and after, with a SHA-256 of the literal. Use a freshly
started server: VmHWM is the peak since the process started.

    mailroom --data /tmp/streamdata account add --password pw user
    mailroom --data /tmp/streamdata deliver --to user@localhost < big.eml
    mailroom --data /tmp/streamdata serve --imap 127.0.0.1:11143 --pop3 off --lmtp off --admin off &
    benches/fetch-rss.py 11143 $! user@localhost pw ['BODY.PEEK[]<1000.40000000>']
"""
import hashlib
import socket
import sys
import time

port, pid, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
item = sys.argv[5] if len(sys.argv) > 5 else "BODY.PEEK[]"


def status():
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                d[k] = int(v.split()[0])
    return d


s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


def cmd(line):
    s.sendall(line.encode() + b"\r\n")
    tag = line.split()[0].encode()
    while True:
        reply = f.readline()
        if not reply or reply.startswith(tag + b" "):
            return reply


f.readline()
print("login:", cmd(f"a LOGIN {user} {password}").strip().decode()[:40])
print("select:", cmd("b SELECT INBOX").strip().decode())
time.sleep(0.5)
before = status()
s.sendall(f"c FETCH 1 {item}\r\n".encode())
head = f.readline()
n = int(head[head.rindex(b"{") + 1 : head.rindex(b"}")])
h = hashlib.sha256()
left = n
while left:
    chunk = f.read(min(left, 1 << 16))
    if not chunk:
        sys.exit("connection closed inside the literal")
    h.update(chunk)
    left -= len(chunk)
tail, tagged = f.readline(), f.readline()
after = status()
print(f"literal {n} octets, sha256 {h.hexdigest()}, then {tail!r} {tagged.strip().decode()}")
print(f"before: {before}  after: {after}")
print(f"VmRSS +{after['VmRSS'] - before['VmRSS']} kB, VmHWM +{after['VmHWM'] - before['VmHWM']} kB")
cmd("z LOGOUT")
