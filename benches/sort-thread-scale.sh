#!/usr/bin/env bash
# SORT (DATE) and THREAD=REFERENCES (and REFS, SORT (SUBJECT)) on one large mailbox,
# mailroom (release build) beside a real Dovecot in the same run: both Maildirs get the
# same N messages of benches/sort-thread-scale.py (threads, varied dates and subjects)
# as an MTA would drop them, each server indexes them at its first SELECT, then every
# command is timed once cold (mailroom computes and caches the sort keys then; Dovecot
# builds its caches) and as the best of 3 warm runs. Run by hand, never in tests.
# Usage: benches/sort-thread-scale.sh [N]   (default 100000; needs root and
# dovecot-imapd, installed with apt when missing; BENCH_PROFILE=debug times the debug
# build instead of the release one)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LAB=${SHARED:-$ROOT/../shared}/lab
N=${1:-100000}
if [ ! -x /usr/sbin/dovecot ] || ! dpkg -s dovecot-imapd dovecot-pop3d >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d >/dev/null
fi
PROFILE=${BENCH_PROFILE:-release}
if [ "$PROFILE" = release ]; then
    cargo build --release --locked -p mailroom
else
    cargo build --locked -p mailroom
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/mailroom
echo "mailroom: $PROFILE build"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-sortscale.XXXXXX")
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
DATA=$WORK/data
"$BIN" --data "$DATA" account add user1 --password pass >/dev/null
mkdir -p "$LABDIR/mail/user1"
chown labmail:labmail "$LABDIR/mail/user1"
echo "writing $N messages into both Maildirs"
python3 benches/sort-thread-scale.py --n "$N" "$DATA/mail/localhost/user1/Maildir" "$LABDIR/mail/user1/Maildir"
"$BIN" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 off --pop3s off \
    --lmtp off --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do
    grep -q '^imap ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
MIMAP=$(awk '$1=="imap"{n=split($2,a,":"); print a[n]; exit}' "$WORK/serve.out")
T=scripts/sort-vs-dovecot.py
for cmd in "SORT (DATE) UTF-8 ALL" "THREAD REFERENCES UTF-8 ALL" "THREAD REFS UTF-8 ALL" "SORT (SUBJECT) UTF-8 ALL"; do
    python3 "$T" time --name dovecot --port "$IMAP_PORT" --user user1 --password pass --command "$cmd"
    python3 "$T" time --name mailroom --port "$MIMAP" --user user1 --password pass --command "$cmd"
done
