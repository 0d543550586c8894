#!/usr/bin/env bash
# Reload while running: a server with a configured certificate serves an IMAPS session;
# the certificate and key are replaced in place (as certbot renews them) and
# `mailroom reload` is run: the next TLS client gets the new certificate while the older
# session goes on (NOOP, SELECT, FETCH) over the old one. The same through SIGHUP, and a
# broken certificate keeps the previous one (reload says so, exit code 1). A setting that
# cannot change while running (imap.max_channels) is reported, a live one (log level)
# is taken.
# Usage: scripts/reload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
cargo build --locked -p mailroom
BIN=$ROOT/target/debug/mailroom
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-reload.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cert() { # cert NAME: a self-signed certificate and key in WORK/NAME.pem, WORK/NAME.key
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$1" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$WORK/$1.key" -out "$WORK/$1.pem" 2>/dev/null
}
for c in one two three; do cert "$c"; done
cp "$WORK/one.pem" "$WORK/live.pem"; cp "$WORK/one.key" "$WORK/live.key"
config() { # config MAX_CHANNELS LEVEL
    cat >"$WORK/mailroom.toml" <<CONF
[server]
data_dir = "$WORK/data"
[tls]
cert = "$WORK/live.pem"
key = "$WORK/live.key"
[imap]
listen = []
listen_tls = ["127.0.0.1:0"]
max_channels = $1
[pop3]
listen = []
[lmtp]
listen = []
[admin]
listen = []
[log]
level = "$2"
CONF
}
config 100 LowLevel
"$BIN" --config "$WORK/mailroom.toml" account add alice --password secret >/dev/null
"$BIN" --config "$WORK/mailroom.toml" serve >"$WORK/serve.out" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do
    grep -q '^imaps ' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
PORT=$(awk '$1=="imaps"{n=split($2,a,":"); print a[n]; exit}' "$WORK/serve.out")

python3 - "$WORK" "$PORT" "$BIN" "$PID" <<'PY'
import hashlib, imaplib, os, shutil, ssl, subprocess, sys, time
work, port, binary, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def der(name):
    pem = open(f"{work}/{name}.pem").read()
    return ssl.PEM_cert_to_DER_cert(pem)
def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c
def served():
    s = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx())
    cert = s.sock.getpeercert(binary_form=True)
    s.logout()
    return cert
def renew(name):  # as certbot: the files at the configured paths get new contents
    shutil.copy(f"{work}/{name}.key", f"{work}/live.key.new")
    shutil.copy(f"{work}/{name}.pem", f"{work}/live.pem.new")
    os.replace(f"{work}/live.key.new", f"{work}/live.key")
    os.replace(f"{work}/live.pem.new", f"{work}/live.pem")
def reload():
    r = subprocess.run([binary, "--config", f"{work}/mailroom.toml", "reload"],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr
def check(ok, what):
    if not ok:
        sys.exit(f"FAIL {what}")
    print(f"PASS {what}")

old = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx())
old.login("alice", "secret")
old.select("INBOX")
check(old.sock.getpeercert(binary_form=True) == der("one"), "the first session gets certificate one")

renew("two")
subprocess.run(["sed", "-i", "s/^max_channels = 100/max_channels = 7/; s/^level = \"LowLevel\"/level = \"AllInfo\"/",
                f"{work}/mailroom.toml"], check=True)
code, out = reload()
print(out, end="")
check(code == 0 and "TLS certificate loaded" in out, "mailroom reload loads the new certificate")
check("imap.max_channels: cannot change while running" in out, "a restart-only change is reported")
check(served() == der("two"), "the next TLS client gets certificate two")
typ, _ = old.noop()
check(typ == "OK", "the older session goes on (NOOP)")
typ, data = old.select("Sent")
check(typ == "OK", "the older session goes on (SELECT)")
check(old.sock.getpeercert(binary_form=True) == der("one"), "the older session keeps certificate one")

renew("three")
os.kill(pid, 1)  # SIGHUP
log = f"{work}/serve.log"
for _ in range(200):  # wait for the reload to be logged (not a timing assertion)
    if open(log).read().count("reload: configuration in force") >= 2:
        break
    time.sleep(0.05)
check(served() == der("three"), "after SIGHUP the next TLS client gets certificate three")

open(f"{work}/live.pem", "w").write("not a certificate\n")
code, out = reload()
print(out, end="")
check(code == 1 and "the previous one stays" in out, "a broken certificate is refused by reload (exit 1)")
check(served() == der("three"), "and the previous certificate is still served")
typ, _ = old.noop()
check(typ == "OK", "the first session is still alive")
old.logout()
PY
kill -0 "$PID"
grep -q "reload: cannot change while running" "$WORK/serve.log"
echo "PASS reload"
