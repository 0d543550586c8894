#!/usr/bin/env bash
# Runs the real-client acceptance kit (../shared/clientkit) against a freshly started
# mailroom on loopback with a temporary data directory, then stops the server.
# Usage: scripts/clientkit.sh [SHARED_DIR]      (CK_ONLY etc. pass through to the kit)
#        CLIENTKIT_STORE=postgres scripts/postgres.sh scripts/clientkit.sh   (on PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-${SHARED:-$(pwd)/../shared}}
KIT=$SHARED/clientkit
[ -x "$KIT/run-all.sh" ] || { echo "client kit not found at $KIT" >&2; exit 2; }

missing=()
for c in curl python3 fetchmail mbsync offlineimap getmail mutt tmux; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing the kit's clients (missing: ${missing[*]})"
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to install them: sudo sh $KIT/install-deps.sh" >&2
        exit 2
    fi
    sh "$KIT/install-deps.sh"
fi

cargo build --locked -p mailroom
BIN=${CARGO_TARGET_DIR:-$(pwd)/target}/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-kit.XXXXXX")
DATA=$WORK/data
# CLIENTKIT_STORE=postgres: the server keeps the mail in the PostgreSQL database of
# MAILROOM_PG_URL (a schema of its own), as `scripts/postgres.sh` provides.
CONF=()
if [ "${CLIENTKIT_STORE:-maildir}" = postgres ]; then
    : "${MAILROOM_PG_URL:?CLIENTKIT_STORE=postgres needs MAILROOM_PG_URL (scripts/postgres.sh sets it)}"
    printf '[store]\nbackend = "postgres"\nurl = "%s"\nschema = "kit_%s_%s"\n' \
        "$MAILROOM_PG_URL" "$(date +%s)" "$$" >"$WORK/mailroom.toml"
    CONF=(--config "$WORK/mailroom.toml")
    "$BIN" "${CONF[@]}" check-config
fi
for u in user1 user2; do
    "$BIN" "${CONF[@]}" --data "$DATA" account add "$u" --password pass >/dev/null
    # APOP and CRAM-MD5 need a secret the server can read (the seed's apoppasswd).
    echo pass | "$BIN" "${CONF[@]}" --data "$DATA" account mail-secret "$u" >/dev/null
done

"$BIN" "${CONF[@]}" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 127.0.0.1:0 --pop3s off \
    --lmtp 127.0.0.1:0 --admin off >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
cleanup() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    grep -q '^lmtp ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; echo "server died" >&2; exit 1; }
    sleep 0.1
done
IMAP=$(awk '$1=="imap"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
POP3=$(awk '$1=="pop3"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
[ -n "$IMAP" ] && [ -n "$POP3" ] || { echo "server did not report its ports" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "mailroom: imap 127.0.0.1:$IMAP pop3 127.0.0.1:$POP3 (data $DATA, log $WORK/serve.log)"

export CK_LOGDIR=${CK_LOGDIR:-$WORK/kit-logs}
set +e
"$KIT/run-all.sh" 127.0.0.1 "$IMAP" "$POP3" user1 pass user2
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "--- last lines of the server log ($WORK/serve.log)"
    tail -n 40 "$WORK/serve.log" || true
fi
exit $rc
