#!/usr/bin/env bash
# Real POP3 clients against mailroom, with the mailbox filled through LMTP (as an MTA
# fills it): Python poplib, curl, getmail6 and fetchmail each retrieve every message, and
# what they got is compared with what LMTP delivered, octet for octet (after the headers
# the server adds and, for the clients that write files, with LF line ends). fetchmail
# runs last and deletes: the mailbox must then be empty (DELE committed at QUIT).
# Usage: scripts/pop3-clients.sh      (needs curl, fetchmail, getmail6: the kit installs them)
set -euo pipefail
cd "$(dirname "$0")/.."
for c in python3 curl fetchmail getmail; do
    command -v "$c" >/dev/null || { echo "pop3-clients: $c not found" >&2; exit 2; }
done
cargo build --locked -p mailroom
BIN=$(pwd)/target/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-pop3.XXXXXX")
chmod 755 "$WORK"
DATA=$WORK/data
"$BIN" --data "$DATA" account add popuser --password 'pop pw' >/dev/null
"$BIN" --data "$DATA" serve --imap off --imaps off --pop3 127.0.0.1:0 --pop3s off \
    --lmtp 127.0.0.1:0 --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q '^lmtp ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
POP3=$(awk '$1=="pop3"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
LMTP=$(awk '$1=="lmtp"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
fails=0
check() { # check NAME COMMAND...: runs a check, prints PASS/FAIL
    local name=$1; shift
    if out=$("$@" 2>&1); then echo "PASS $name"; else echo "FAIL $name: $out"; fails=$((fails + 1)); fi
}

# Messages: plain, dot lines (stuffing both ways), 8-bit UTF-8, ~1 MiB with long lines.
mkdir -p "$WORK/msgs"
python3 - "$WORK/msgs" <<'EOF'
import sys
d = sys.argv[1]
head = "From: a@example.com\r\nTo: popuser@localhost\r\nSubject: {}\r\nMessage-ID: <{}@t>\r\n\r\n"
msgs = [
    head.format("plain", 1) + "Hello.\r\nSecond line.\r\n",
    head.format("dots", 2) + ".leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n. \r\n",
    head.format("utf8", 3).replace("Subject: utf8", "Subject: =?utf-8?q?caf=C3=A9?=")
        + "Grüße, 日本語のテキスト.\r\n",
    head.format("large", 4) + "".join(f"{i:07d} " + "x" * 1000 + "\r\n" for i in range(1000))
        + ".last line starts with a dot\r\n",
]
for i, m in enumerate(msgs, 1):
    open(f"{d}/{i}.eml", "wb").write(m.encode())
EOF
check lmtp-fill python3 - "$WORK/msgs" "$LMTP" <<'EOF'
import smtplib, sys, glob
d, port = sys.argv[1], int(sys.argv[2])
c = smtplib.LMTP("127.0.0.1", port)
for f in sorted(glob.glob(f"{d}/*.eml"), key=lambda p: int(p.rsplit("/", 1)[1][:-4])):
    refused = c.sendmail("a@example.com", ["popuser@localhost"], open(f, "rb").read())
    assert not refused, refused
c.quit()
EOF

# compare.py DIR_OR_FILES...: each retrieved message ends with exactly one sent message's
# text (CRLF or LF), every sent message is matched once.
cat >"$WORK/compare.py" <<'EOF'
import glob, sys
sent = [open(f, "rb").read() for f in sorted(glob.glob(sys.argv[1] + "/*.eml"))]
got = [open(f, "rb").read() for f in sys.argv[2:]]
assert len(got) == len(sent), f"{len(got)} messages retrieved, {len(sent)} sent"
left = list(sent)
for g in got:
    lf = g.replace(b"\r\n", b"\n")
    hit = [s for s in left if g.endswith(s) or lf.endswith(s.replace(b"\r\n", b"\n"))]
    assert hit, f"a retrieved message matches no sent one: {g[:200]!r}"
    left.remove(hit[0])
EOF

check poplib python3 - "$WORK/msgs" "$POP3" <<'EOF'
import glob, poplib, sys
d, port = sys.argv[1], int(sys.argv[2])
sent = [open(f, "rb").read() for f in sorted(glob.glob(d + "/*.eml"), key=lambda p: int(p.rsplit("/", 1)[1][:-4]))]
p = poplib.POP3("127.0.0.1", port, timeout=30)
p.user("popuser"); p.pass_("pop pw")
n, _ = p.stat()
assert n == len(sent), (n, len(sent))
sizes = {int(x.split()[0]): int(x.split()[1]) for x in p.list()[1]}
uidls = [x.split()[1] for x in p.uidl()[1]]
assert len(set(uidls)) == n
for i, s in enumerate(sent, 1):
    _, lines, octets = p.retr(i)
    body = b"\r\n".join(lines) + b"\r\n"
    assert body.endswith(s), f"message {i} differs"
    assert len(body) == sizes[i], f"message {i}: {len(body)} octets, LIST says {sizes[i]}"
    top = b"\r\n".join(p.top(i, 0)[1]) + b"\r\n"
    assert body.startswith(top) and len(top) < len(body), f"TOP {i} 0 is not the header"
p.quit()
EOF

mkdir -p "$WORK/curl"
curl_all() {
    curl -sS --max-time 30 -u 'popuser:pop pw' "pop3://127.0.0.1:$POP3/" >"$WORK/curl/list" || return 1
    [ "$(grep -c . "$WORK/curl/list")" = 4 ] || { cat "$WORK/curl/list"; return 1; }
    for i in 1 2 3 4; do
        curl -sS --max-time 30 -u 'popuser:pop pw' "pop3://127.0.0.1:$POP3/$i" >"$WORK/curl/$i" || return 1
    done
    python3 "$WORK/compare.py" "$WORK/msgs" "$WORK/curl"/[0-9]
}
check curl curl_all

# getmail refuses to deliver as root: it delivers as nobody then.
GM_USER=""
[ "$(id -u)" = 0 ] && GM_USER="user = nobody"
mkdir -p "$WORK/gm/cur" "$WORK/gm/new" "$WORK/gm/tmp" "$WORK/gmdir"
[ -n "$GM_USER" ] && chown -R nobody "$WORK/gm"
cat >"$WORK/getmailrc" <<EOF
[retriever]
type = SimplePOP3Retriever
server = 127.0.0.1
port = $POP3
username = popuser
password = pop pw

[destination]
type = Maildir
path = $WORK/gm/
$GM_USER

[options]
verbose = 0
read_all = true
delete = false
delivered_to = false
received = false
EOF
getmail_all() {
    getmail --getmaildir "$WORK/gmdir" --rcfile "$WORK/getmailrc" || return 1
    python3 "$WORK/compare.py" "$WORK/msgs" "$WORK/gm/new"/*
}
check getmail getmail_all

# fetchmail (deletes what it fetched) through an MDA writing one file per message.
mkdir -p "$WORK/fm"
cat >"$WORK/mda.sh" <<'EOF'
#!/bin/sh
f=$(mktemp "$1/msg.XXXXXX") || exit 75
cat >"$f" || exit 75
EOF
chmod 755 "$WORK/mda.sh"
cat >"$WORK/fetchmailrc" <<EOF
set no bouncemail
set no syslog
poll 127.0.0.1 with proto POP3 service $POP3 auth password timeout 60
    user "popuser" there with password "pop pw" is "$(id -un)" here
    options no rewrite sslproto ''
EOF
chmod 600 "$WORK/fetchmailrc"
fetchmail_all() {
    HOME=$WORK fetchmail -f "$WORK/fetchmailrc" --idfile "$WORK/fetchids" \
        --pidfile "$WORK/fetchmail.pid" --nodetach --mda "$WORK/mda.sh $WORK/fm" || return 1
    python3 "$WORK/compare.py" "$WORK/msgs" "$WORK/fm"/msg.*
}
check fetchmail fetchmail_all
check mailbox-empty-after-fetchmail python3 -c "
import poplib
p = poplib.POP3('127.0.0.1', $POP3, timeout=30)
p.user('popuser'); p.pass_('pop pw')
assert p.stat()[0] == 0, p.stat()
p.quit()"

if [ "$fails" -gt 0 ]; then
    echo "pop3-clients: $fails failed (work dir $WORK)"
    tail -n 20 "$WORK/serve.log"
    exit 1
fi
echo "pop3-clients: all passed"
rm -rf "$WORK"
