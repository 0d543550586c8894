#!/usr/bin/env bash
# A real client library that speaks CONDSTORE/QRESYNC (Python imapclient, from PyPI)
# against mailroom (RFC 7162 3.2.5): one session selects INBOX with QRESYNC enabled and
# notes UIDVALIDITY, HIGHESTMODSEQ and the UIDs; another session expunges two messages,
# changes flags of a third (a keyword too) and appends one; a third session selects with
# QRESYNC (uidvalidity modseq known-uids) and must get exactly VANISHED (EARLIER) for the
# expunged UIDs and FETCH (UID FLAGS MODSEQ) for the changed and new messages, then the
# same through UID FETCH (CHANGEDSINCE n VANISHED) and a live VANISHED after an EXPUNGE.
# Usage: scripts/qresync-client.sh   (installs imapclient with pip when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import imapclient" 2>/dev/null || python3 -m pip install --quiet imapclient
. scripts/lib/imap-server.sh
start_imap qresync qruser 'qr pw'
python3 - "$IMAP" <<'EOF'
import sys
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

port = int(sys.argv[1])


def connect():
    c = IMAPClient("127.0.0.1", port=port, ssl=False)
    c.login("qruser", "qr pw")
    return c


def untagged(c, name):
    return c._imap.untagged_responses.pop(name, [])


# Session 1: fills INBOX, selects with QRESYNC on, remembers the state.
a = connect()
caps = a.capabilities()
assert b"CONDSTORE" in caps and b"QRESYNC" in caps, caps
for i in range(1, 6):
    a.append("INBOX", b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
assert a.enable("QRESYNC") == [b"QRESYNC"]
info = a.select_folder("INBOX")
validity, modseq = info[b"UIDVALIDITY"], info[b"HIGHESTMODSEQ"]
known = a.search("ALL")
assert known == [1, 2, 3, 4, 5], known
a.logout()

# Session 2 (no CONDSTORE): expunges 1 and 3, flags 2, appends a sixth.
b = connect()
b.select_folder("INBOX")
b.add_flags([2], [b"\\Flagged", b"$Work"])
b.delete_messages([1, 3])
b.expunge()
b.append("INBOX", b"Subject: m6\r\n\r\nbody 6\r\n")
b.logout()

# Session 3: SELECT INBOX (QRESYNC (validity modseq 1:5)).
c = connect()
assert c.enable("QRESYNC") == [b"QRESYNC"]
c._imap.untagged_responses.clear()
typ, _ = c._raw_command(
    b"SELECT", [b"INBOX", b"(QRESYNC (%d %d 1:5))" % (validity, modseq)], uid=False
)
assert typ == "OK", typ
vanished = untagged(c, "VANISHED")
assert vanished == [b"(EARLIER) 1,3"], vanished
fetched = parse_fetch_response(untagged(c, "FETCH"))
flags = {uid: set(d[b"FLAGS"]) for uid, d in fetched.items()}
assert flags == {2: {b"\\Flagged", b"$Work"}, 6: set()}, flags
assert all(d[b"MODSEQ"][0] > modseq for d in fetched.values()), fetched
c._imap.state = "SELECTED"

# The same through UID FETCH (CHANGEDSINCE modseq VANISHED).
got = c.fetch(list(range(1, 7)), ["FLAGS"], modifiers=["CHANGEDSINCE %d" % modseq, "VANISHED"])
assert untagged(c, "VANISHED") == [b"(EARLIER) 1,3"]
assert {u: set(d[b"FLAGS"]) for u, d in got.items()} == flags, got

# A live expunge by another session comes as VANISHED, not EXPUNGE.
d = connect()
d.select_folder("INBOX")
d.delete_messages([4])
d.expunge()
d.logout()
c.noop()
assert untagged(c, "VANISHED") == [b"4"]
assert untagged(c, "EXPUNGE") == []
c.logout()
print("PASS qresync: imapclient resynchronised (VANISHED (EARLIER) 1,3; UIDs 2 and 6 fetched; live VANISHED 4)")
EOF
