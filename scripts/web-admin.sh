#!/usr/bin/env bash
# The web admin in a real browser (issue 17): Chromium from Debian driven by playwright-core
# (scripts/web-admin.mjs) against a freshly built mailroom on a temporary data directory
# and private loopback ports. Logs in, adds an account, sees an IMAP session the test
# opens appear in the live monitor and closes it there, posts an alert and sees it at the
# next IMAP login, visits every page and scrapes /metrics.
# Screenshots (one per page): target/web-admin/screenshots/NN-page.png.
# Usage: scripts/web-admin.sh   (installs chromium with apt and playwright-core with npm,
#                                into target/web-admin/node, when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/target/web-admin
NODE_DIR=$OUT/node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
    else
        sudo apt-get install -y chromium >/dev/null
    fi
fi
command -v node >/dev/null || { echo "node (Debian package nodejs) is needed" >&2; exit 1; }
if [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
    mkdir -p "$NODE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" playwright-core@1 >/dev/null
fi

cargo build --locked -p mailroom
BIN=$ROOT/target/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-web.XXXXXX")
DATA=$WORK/data
"$BIN" --data "$DATA" account add boss --password 'boss-pw' --admin >/dev/null
"$BIN" --data "$DATA" serve --imap 127.0.0.1:0 --imaps off --pop3 127.0.0.1:0 --pop3s off \
    --lmtp 127.0.0.1:0 --admin 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
    grep -q '^admin ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
IMAP=$(awk '$1=="imap"{split($2,a,":"); print a[2]; exit}' "$WORK/serve.out")
ADMIN=$(awk '$1=="admin"{print $2; exit}' "$WORK/serve.out")
[ -n "$IMAP" ] && [ -n "$ADMIN" ] || { echo "server did not report its ports" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "mailroom: imap 127.0.0.1:$IMAP admin https://$ADMIN (data $DATA)"

rm -rf "$OUT/screenshots"
mkdir -p "$WORK/profile"
# ES modules resolve imports next to the file: run a copy beside node_modules.
cp "$ROOT/scripts/web-admin.mjs" "$NODE_DIR/web-admin.mjs"
if ! ADMIN_URL="https://$ADMIN" IMAP_PORT="$IMAP" SHOTS="$OUT/screenshots" PROFILE="$WORK/profile" \
    CHROMIUM="$CHROMIUM" node "$NODE_DIR/web-admin.mjs"; then
    echo "--- last lines of the server log" >&2
    tail -n 40 "$WORK/serve.log" >&2 || true
    exit 1
fi
# The settings changed in the browser took effect and were kept.
grep -q 'command="\{0,1\}NOOP' "$WORK/serve.log" || { echo "the IMAP log level did not change live (no NOOP logged)" >&2; exit 1; }
grep -q '^max_channels = 42$' "$DATA/settings.toml" || { echo "settings.toml does not keep the POP3 maximum" >&2; cat "$DATA/settings.toml" >&2; exit 1; }
echo "ok: the IMAP log level changed live; settings.toml keeps the settings"
