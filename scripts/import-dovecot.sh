#!/usr/bin/env bash
# Migration from a real Dovecot (Debian's dovecot-imapd/dovecot-pop3d): a lab Dovecot on
# its own ports and directory is filled over IMAP (nested and non-ASCII folders, flags,
# keywords, internal dates, UID gaps, a large message, subscriptions), everything a
# client sees is read over IMAP and POP3 (UIDs, UIDVALIDITY, UIDNEXT, flags, keywords,
# sizes, dates, contents, LIST, LSUB, UIDL), Dovecot is stopped, its whole server is
# imported (`mailroom import dovecot --passwd-file PASSWD MAILROOT`), and mailroom must
# show the same. The import is then run again: it must import nothing and change nothing.
# Installs dovecot-imapd and dovecot-pop3d with apt when missing (as root); stops the
# Dovecot and mailroom it started, whatever happens.
# Usage: scripts/import-dovecot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LAB=${SHARED:-$ROOT/../shared}/lab
if [ ! -x /usr/sbin/dovecot ] || ! dpkg -s dovecot-imapd dovecot-pop3d >/dev/null 2>&1; then
    echo "installing dovecot-imapd dovecot-pop3d"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d >/dev/null
fi
cargo build --locked -p mailroom
BIN=$ROOT/target/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-import.XXXXXX")
chmod 755 "$WORK"
LABDIR=$WORK/dovecot
PID=
cleanup() {
    "$LAB/dovecot-stop.sh" "$LABDIR" >/dev/null 2>&1 || true
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IMAP_PORT=$(free_port); POP3_PORT=$(free_port)
USERS=user1,user2,user3
IMAP_PORT=$IMAP_PORT POP3_PORT=$POP3_PORT NUSERS=3 MAX_CONN=50 "$LAB/dovecot-start.sh" "$LABDIR"
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $IMAP_PORT)).close()" 2>/dev/null && break
    sleep 0.1
done
python3 scripts/import-dovecot.py fill --port "$IMAP_PORT" --users user1,user2
python3 scripts/import-dovecot.py dump --imap-port "$IMAP_PORT" --pop3-port "$POP3_PORT" \
    --users "$USERS" >"$WORK/before.json"
"$LAB/dovecot-stop.sh" "$LABDIR"

DATA=$WORK/data
"$BIN" --data "$DATA" import dovecot --passwd-file "$LABDIR/passwd" "$LABDIR/mail" | tee "$WORK/import1.out"
grep -q "; 0 failed$" "$WORK/import1.out"
"$BIN" --data "$DATA" import dovecot --passwd-file "$LABDIR/passwd" "$LABDIR/mail" | tee "$WORK/import2.out"
grep -q "^imported 0 messages (0 octets)" "$WORK/import2.out" \
    || { echo "FAIL the second import imported again" >&2; exit 1; }

"$BIN" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 127.0.0.1:0 --pop3s off \
    --lmtp off --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do
    grep -q '^pop3 ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
MIMAP=$(awk '$1=="imap"{n=split($2,a,":"); print a[n]; exit}' "$WORK/serve.out")
MPOP3=$(awk '$1=="pop3"{n=split($2,a,":"); print a[n]; exit}' "$WORK/serve.out")
python3 scripts/import-dovecot.py dump --imap-port "$MIMAP" --pop3-port "$MPOP3" \
    --users "$USERS" >"$WORK/after.json"
python3 scripts/import-dovecot.py compare "$WORK/before.json" "$WORK/after.json"
echo "PASS import from Dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1)"
