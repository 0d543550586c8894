# Sourced by the client scripts (qresync-client.sh, compress-client.sh): builds the
# debug binary, makes a throwaway data directory with one account, starts `mailroom
# serve` with IMAP only on an ephemeral loopback port, and stops it and removes the
# directory on exit.
# Usage: . scripts/lib/imap-server.sh; start_imap NAME USER PASSWORD
# Sets: BIN (the binary), WORK (the temporary directory), DATA, PID, IMAP (the port).
start_imap() {
    local name=$1 user=$2 password=$3
    cargo build --locked -p mailroom
    BIN=$(pwd)/target/debug/mailroom
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-$name.XXXXXX")
    DATA=$WORK/data
    "$BIN" --data "$DATA" account add "$user" --password "$password" >/dev/null
    "$BIN" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 off --pop3s off \
        --lmtp off --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
    PID=$!
    trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
    for _ in $(seq 1 100); do
        grep -q '^imap ' "$WORK/serve.out" 2>/dev/null && break
        kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
        sleep 0.1
    done
    IMAP=$(awk '$1=="imap"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
    [ -n "$IMAP" ] || { echo "the server did not report its IMAP port" >&2; cat "$WORK/serve.log" >&2; exit 1; }
}
