#!/usr/bin/env python3
"""Memory of idle IMAP connections with and without NOTIFY (RFC 5465).

Usage: benches/notify-idle.py PORT SERVER_PID USER_PREFIX PASSWORD [N]
Logs in as USER_PREFIX1 .. USER_PREFIX40 in turn (max_userip_connections is 10: with
the 40 warm-up connections, one per user, N is at most 120), SELECTs
INBOX and stays silent: N (default 120) connections without NOTIFY, then N with the
NOTIFY a mail client typically sends (the selected mailbox with FETCH items, INBOXES,
mailbox names and subscriptions of PERSONAL), then N watching every personal mailbox
for message events (INBOX and the four default ones). Prints the server's RSS growth
per connection of each kind.
"""
import socket
import sys
import time

port, pid, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 120

TYPICAL = (b"(selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
           b"(inboxes (MessageNew MessageExpunge)) (personal (MailboxName SubscriptionChange))")
PERSONAL = b"(personal (MessageNew MessageExpunge FlagChange))"


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


def conn(notify):
    global k
    k += 1
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    s.sendall(b"a LOGIN %s%d %s\r\n" % (user.encode(), k % 40 + 1, pw.encode()))
    if b"a OK" not in until(s, b"a"):
        raise RuntimeError("login failed")
    s.sendall(b"b SELECT INBOX\r\n")
    until(s, b"b")
    if notify:
        s.sendall(b"c NOTIFY SET " + notify + b"\r\n")
        out = until(s, b"c")
        if b"c OK" not in out:
            raise RuntimeError(out)
    return s


def settle():
    time.sleep(float(__import__("os").environ.get("SETTLE", "1.5")))
    return rss()


# One connection per user first (not counted): the accounts are open, as on a busy server.
warm = [conn(None) for _ in range(40)]
base = settle()
plain = [conn(None) for _ in range(n)]
with_plain = settle()
typical = [conn(TYPICAL) for _ in range(n)]
with_typical = settle()
personal = [conn(PERSONAL) for _ in range(n)]
with_personal = settle()
print("idle connections (INBOX selected): %d B each without NOTIFY, %d B each with a "
      "typical NOTIFY, %d B each watching 5 personal mailboxes"
      % ((with_plain - base) / n, (with_typical - with_plain) / n,
         (with_personal - with_typical) / n))
