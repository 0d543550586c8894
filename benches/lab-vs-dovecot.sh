#!/usr/bin/env bash
# Side-by-side measurements of mailroom and Dovecot with the lab tools in ../shared/lab:
#   pop3   POP3 load (pop3load.py, 10 and 50 clients, users user101..150 x 100 messages)
#   idle   1,000 idle authenticated IMAP connections, then 1,000 in IDLE (idle-conns.py)
# IMAP command load (imap-load, 10 and 50 clients, logged in and --cycle): benches/imap-load.sh
# Usage: benches/lab-vs-dovecot.sh [pop3|idle|all]     (run by hand, as root; loopback only)
# Env: SECS=20 (POP3 run length), N=1000 (idle connections), SKIP_DOVECOT=1,
#      PASSWORDS=dovecot (the lab passwd-file imported; default) | hashed (SHA512-CRYPT)
# Installs dovecot-imapd/dovecot-pop3d from Debian when missing. Results go to
# /tmp/lab/results/ and a summary to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LAB=${LAB:-$ROOT/../shared/lab}
WHAT=${1:-all}
SECS=${SECS:-20}
N=${N:-1000}
ulimit -n 65536 2>/dev/null || true
mkdir -p /tmp/lab/results

if [ "${SKIP_DOVECOT:-0}" != 1 ] && ! command -v dovecot >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d
fi
[ -f /tmp/lab/data/sample.mbox ] || python3 "$LAB/gen-mbox.py"

cargo build --release --locked -p mailroom
BIN=$ROOT/target/release/mailroom
MR=/tmp/lab/mailroom
rm -rf "$MR" && mkdir -p "$MR"
# Accounts user1..user200 / pass, stored as the lab Dovecot stores them: its passwd-file
# (`userN:{PLAIN}pass`, dovecot-config.sh) imported as it is. PASSWORDS=hashed adds them
# with `account add` instead, hashed in mailroom's default scheme (SHA512-CRYPT, 5000
# rounds): every first login of an account then pays ~1.4 ms of hashing.
if [ "${PASSWORDS:-dovecot}" = hashed ]; then
    for i in $(seq 1 200); do
        "$BIN" --data "$MR/data" account add "user$i" --password pass >/dev/null
    done
else
    for i in $(seq 1 200); do echo "user$i:{PLAIN}pass"; done >"$MR/passwd"
    "$BIN" --data "$MR/data" account import "$MR/passwd"
fi
"$BIN" --data "$MR/data" serve --imap 127.0.0.1:20143 --imaps off --pop3 127.0.0.1:20110 \
    --pop3s off --lmtp 127.0.0.1:20024 --admin off >"$MR/serve.out" 2>"$MR/serve.log" &
MPID=$!
trap 'kill $MPID 2>/dev/null; [ "${SKIP_DOVECOT:-0}" = 1 ] || "$LAB/dovecot-stop.sh" >/dev/null 2>&1' EXIT
for _ in $(seq 100); do grep -q '^lmtp' "$MR/serve.out" 2>/dev/null && break; sleep 0.1; done
echo "mailroom pid $MPID: $(tr '\n' ' ' < "$MR/serve.out")"
echo "mailroom RSS at start: $(awk '/VmRSS/{print $2" "$3}' /proc/$MPID/status)"

if [ "${SKIP_DOVECOT:-0}" != 1 ]; then
    MAX_CONN=5000 NUSERS=200 "$LAB/dovecot-start.sh" >/dev/null
    DPID=$(cat /tmp/lab/dovecot/run/master.pid)
    echo "dovecot pid $DPID (imap 10143, pop3 10110)"
fi

if [ "$WHAT" = pop3 ] || [ "$WHAT" = all ]; then
    echo "== POP3: mailroom"
    IMAP_PORT=20143 SECS=$SECS SERVER_PID=$MPID "$LAB/run-pop3load.sh" 127.0.0.1 20110 user pass
    if [ "${SKIP_DOVECOT:-0}" != 1 ]; then
        echo "== POP3: dovecot"
        IMAP_PORT=10143 SECS=$SECS SERVER_PID=$DPID "$LAB/run-pop3load.sh" 127.0.0.1 10110 user pass
    fi
fi

if [ "$WHAT" = idle ] || [ "$WHAT" = all ]; then
    for mode in "" "--idle"; do
        echo "== idle connections ${mode:-(authenticated)}: mailroom"
        python3 "$LAB/idle-conns.py" -n "$N" --port 20143 --users 1-200 --server-pid "$MPID" $mode
        if [ "${SKIP_DOVECOT:-0}" != 1 ]; then
            echo "== idle connections ${mode:-(authenticated)}: dovecot"
            python3 "$LAB/idle-conns.py" -n "$N" --port 10143 --users 1-200 --server-pid "$DPID" $mode
        fi
    done
fi
