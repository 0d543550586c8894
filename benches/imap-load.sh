#!/usr/bin/env bash
# IMAP load (crates/imap-load) against mailroom and the lab Dovecot, one after the other on
# the same machine with the same mix and seed: users user101..150 filled with 100 messages
# each (IMAP APPEND from the lab mbox), then for each client count in CLIENTS_LIST both
# modes: logged in throughout ("stay") and LOGIN ... LOGOUT every round ("cycle").
# Usage: benches/imap-load.sh      (run by hand, as root for apt and the lab Dovecot;
#                                  loopback only; never run by CI)
# Env: SECS=20 WARMUP=2 CLIENTS_LIST="10 50" MODES="stay cycle" SEED=1 USERS=101-150
#      MR_IMAP=12143 MR_POP3=12110 (mailroom's ports)  SKIP_DOVECOT=1  FILL=0 (keep mailboxes)
#      LAB=../shared/lab  OUT=/tmp/lab/results/imap-load-<timestamp>
# Installs dovecot-imapd/dovecot-pop3d from Debian when missing. Each run's full report is
# in OUT/<server>-c<N>-<mode>.txt; a summary goes to stdout.
# On a 2-core box the load tool shares the CPU with the server: compare servers only
# within one run of this script, and read the load tool's own CPU line in each report.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LAB=${LAB:-$ROOT/../shared/lab}
# from a git worktree, the lab sits beside the main checkout
[ -d "$LAB" ] || LAB=$(cd "$(git rev-parse --git-common-dir)/../.." && pwd)/shared/lab
SECS=${SECS:-20}
WARMUP=${WARMUP:-2}
CLIENTS_LIST=${CLIENTS_LIST:-"10 50"}
MODES=${MODES:-"stay cycle"}
SEED=${SEED:-1}
USERS=${USERS:-101-150}
MR_IMAP=${MR_IMAP:-12143}
MR_POP3=${MR_POP3:-12110}
MBOX=/tmp/lab/data/sample.mbox
OUT=${OUT:-/tmp/lab/results/imap-load-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || true

if [ "${SKIP_DOVECOT:-0}" != 1 ] && ! command -v dovecot >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-pop3d
fi
[ -f "$MBOX" ] || python3 "$LAB/gen-mbox.py"

cargo build --release --locked -p mailroom -p imap-load || exit 1
BIN=$ROOT/target/release/mailroom
LOAD=$ROOT/target/release/imap-load

wait_port() { # PORT: until something accepts on 127.0.0.1:PORT (10 s)
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "nothing listens on port $1" >&2; return 1
}

# mailroom on a fresh data dir, accounts user1..user200 / pass as the lab Dovecot has them
MR=/tmp/lab/imap-load-mailroom
rm -rf "$MR" && mkdir -p "$MR"
for i in $(seq 1 200); do echo "user$i:{PLAIN}pass"; done >"$MR/passwd"
"$BIN" --data "$MR/data" account import "$MR/passwd" >/dev/null || exit 1
"$BIN" --data "$MR/data" serve --imap "127.0.0.1:$MR_IMAP" --imaps off \
    --pop3 "127.0.0.1:$MR_POP3" --pop3s off --lmtp off --admin off >"$MR/serve.out" 2>"$MR/serve.log" &
MPID=$!
DPID=
cleanup() {
    kill "$MPID" 2>/dev/null
    [ -n "$DPID" ] && "$LAB/dovecot-stop.sh" >/dev/null 2>&1
}
trap cleanup EXIT
wait_port "$MR_IMAP" || exit 1
SERVERS="mailroom:$MR_IMAP:$MPID"
if [ "${SKIP_DOVECOT:-0}" != 1 ]; then
    NUSERS=200 "$LAB/dovecot-start.sh" >/dev/null || exit 1
    DPID=$(cat /tmp/lab/dovecot/run/master.pid)
    wait_port 10143 || exit 1
    SERVERS="$SERVERS dovecot:10143:$DPID"
fi

for s in $SERVERS; do
    IFS=: read -r name port pid <<<"$s"
    if [ "${FILL:-1}" != 0 ]; then
        python3 "$LAB/pop3-fill.py" --method imap --port "$port" --users "$USERS" --reset \
            --mbox "$MBOX" | sed "s/^/$name: /"
    fi
done

for C in $CLIENTS_LIST; do
    for mode in $MODES; do
        for s in $SERVERS; do
            IFS=: read -r name port pid <<<"$s"
            flag=; [ "$mode" = cycle ] && flag=--cycle
            "$LOAD" --port "$port" --clients "$C" --duration "$SECS" --warmup "$WARMUP" \
                --users "$USERS" --mbox "$MBOX" --seed "$SEED" --server-pid "$pid" $flag \
                --label "$name c$C $mode" >"$OUT/$name-c$C-$mode.txt" 2>&1
            echo "== $name, $C clients, $mode"
            grep -E '^(total|rounds|protocol|connection|load tool|server CPU|note)' \
                "$OUT/$name-c$C-$mode.txt" | sed 's/^/   /'
        done
    done
done
echo "full reports: $OUT"
