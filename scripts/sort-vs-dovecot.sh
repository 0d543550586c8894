#!/usr/bin/env bash
# SORT and THREAD of mailroom compared with a real Dovecot's (Debian's dovecot-imapd, which
# has SORT, SORT=DISPLAY, THREAD=ORDEREDSUBJECT/REFERENCES/REFS and I18NLEVEL=1) on the
# same mailbox: ../shared/lab/gen-mbox.py writes SORT_VS_DOVECOT_COUNT (default 400)
# sample messages (threads, RFC 2047 subjects and names, Cc lists, non-ASCII text), both
# INBOXes get them over IMAP APPEND in the same order with the same internal dates, and
# scripts/sort-vs-dovecot.py compares every SORT key (each also REVERSE), multi-key
# orders, DISPLAYFROM/DISPLAYTO, THREAD ORDEREDSUBJECT/REFERENCES/REFS and some
# i;unicode-casemap SEARCHes, failing on any difference that is not a documented
# divergence (its DIVERGENCES). The lab Dovecot runs on its own ports and directory;
# installs dovecot-imapd and dovecot-pop3d with apt when missing (as root); stops the
# Dovecot and mailroom it started, whatever happens.
# Usage: scripts/sort-vs-dovecot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LAB=${SHARED:-$ROOT/../shared}/lab
COUNT=${SORT_VS_DOVECOT_COUNT:-400}
if [ ! -x /usr/sbin/dovecot ] || ! dpkg -s dovecot-imapd dovecot-pop3d >/dev/null 2>&1; then
    echo "installing dovecot-imapd dovecot-pop3d"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d >/dev/null
fi
cargo build --locked -p mailroom
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-sortcmp.XXXXXX")
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
IMAP_PORT=$IMAP_PORT POP3_PORT=$POP3_PORT NUSERS=1 MAX_CONN=20 "$LAB/dovecot-start.sh" "$LABDIR"
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $IMAP_PORT)).close()" 2>/dev/null && break
    sleep 0.1
done

DATA=$WORK/data
"$BIN" --data "$DATA" account add user1 --password pass >/dev/null
"$BIN" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 off --pop3s off \
    --lmtp off --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do
    grep -q '^imap ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
MIMAP=$(awk '$1=="imap"{n=split($2,a,":"); print a[n]; exit}' "$WORK/serve.out")

python3 "$LAB/gen-mbox.py" --out "$WORK/sample.mbox" --count "$COUNT" --max-attach 4096 >/dev/null
python3 scripts/sort-vs-dovecot.py fill --port "$IMAP_PORT" --user user1 --password pass --mbox "$WORK/sample.mbox"
python3 scripts/sort-vs-dovecot.py fill --port "$MIMAP" --user user1 --password pass --mbox "$WORK/sample.mbox"
python3 scripts/sort-vs-dovecot.py compare --a "dovecot:$IMAP_PORT" --b "mailroom:$MIMAP" \
    --user user1 --password pass ${SORT_VS_DOVECOT_VERBOSE:+--verbose}
