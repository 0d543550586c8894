#!/usr/bin/env bash
# Runs every test and check that CI runs: rustfmt, clippy (warnings denied), the unit,
# transcript and integration tests, every fuzz target for 25 s (scripts/fuzz.sh;
# CHECK_FUZZ_SECS=N, CHECK_SKIP_FUZZ=1), and the real-client acceptance kit
# (../shared/clientkit) against a freshly started mailroom, then poplib, curl, getmail and
# fetchmail on a mailbox filled through LMTP (scripts/pop3-clients.sh). A QRESYNC
# resynchronisation with Python imapclient (scripts/qresync-client.sh), COMPRESS=DEFLATE
# with Python imaplib (scripts/compress-client.sh), SORT/THREAD against a real Dovecot
# (scripts/sort-vs-dovecot.sh) and the web admin in Chromium (scripts/web-admin.sh) run
# even without the kit. The PostgreSQL store backend's tests run against a throwaway
# PostgreSQL cluster (scripts/postgres.sh).
#
# Usage: scripts/check.sh            everything
#        CHECK_SKIP_KIT=1 scripts/check.sh   everything but the client kit
# Installs what it needs on a fresh Debian 12 machine (as root): rustfmt/clippy
# components and the kit's mail clients.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED=${SHARED:-$ROOT/../shared}

step() { printf '\n=== %s\n' "$*"; }

step "toolchain"
for comp in rustfmt clippy; do
    if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$comp"
    fi
done
cargo --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "mailroom-server builds against the store traits alone (no storage backend)"
# Alone, the server crate gets mailroom-store without its `maildir` feature: naming a
# backend type anywhere in its library code fails here.
cargo check -p mailroom-server --lib --locked

step "cargo test"
# tests/submit.rs relays through a real SMTP server (tests/smtp-sink.py, aiosmtpd).
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install --quiet aiosmtpd
# COPY ... ENCRYPTED (I13): crates/server/tests/smime.rs and crates/smime/tests/openssl.rs
# decrypt with Debian's openssl CLI; required here, never skipped.
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
MAILROOM_REQUIRE_OPENSSL=1 cargo test --workspace --locked

step "the PostgreSQL store backend against a throwaway PostgreSQL (scripts/postgres.sh)"
# Installs Debian's postgresql if missing, starts a private cluster as an unprivileged
# user, runs `cargo test -p mailroom-store-postgres` with MAILROOM_PG_URL set (in the
# workspace run above those tests print SKIPPED) and the IMAP, POP3 and LMTP transcripts
# on the PostgreSQL backend (MAILROOM_TEST_STORE=postgres), and stops the cluster.
scripts/postgres.sh

step "crash soak: SIGKILL during concurrent LMTP, APPEND, COPY, MOVE, STORE, EXPUNGE, POP3 DELE"
scripts/crash-soak.sh "${CRASH_SOAK_CYCLES:-10}"

step "a real QRESYNC client (Python imapclient) resynchronises after another session's changes"
scripts/qresync-client.sh

step "a real client (Python imaplib with zlib) through COMPRESS=DEFLATE"
scripts/compress-client.sh

step "the web admin in a real browser (Chromium + playwright-core), screenshots in target/web-admin/screenshots"
scripts/web-admin.sh

step "reload: a new certificate for the next TLS client while an older session goes on"
scripts/reload.sh

step "migration: a real Dovecot filled, imported (mailroom import dovecot) and compared"
scripts/import-dovecot.sh

step "SORT and THREAD compared with a real Dovecot's on the same mailbox (every key, REVERSE, DISPLAY, ORDEREDSUBJECT/REFERENCES/REFS)"
scripts/sort-vs-dovecot.sh

step "Debian package: cargo deb, installed into a throwaway root, started from its unit"
scripts/package.sh

step "fuzz targets, ${CHECK_FUZZ_SECS:-25} s each"
# Every libFuzzer target of fuzz/ from the corpus kept in fuzz/corpus, on the stable
# toolchain (scripts/fuzz.sh); a crash fails the check with its reproducer kept in
# fuzz/artifacts/.
if [ "${CHECK_SKIP_FUZZ:-0}" = 1 ]; then
    echo "fuzzing skipped (CHECK_SKIP_FUZZ=1)"
else
    scripts/fuzz.sh "${CHECK_FUZZ_SECS:-25}"
fi

if [ "${CHECK_SKIP_KIT:-0}" = 1 ]; then
    echo "client kit skipped (CHECK_SKIP_KIT=1)"
    exit 0
fi
scripts/clientkit.sh "$SHARED"

step "the client kit against a node on PostgreSQL (scripts/postgres.sh)"
CLIENTKIT_STORE=postgres scripts/postgres.sh scripts/clientkit.sh "$SHARED"

step "real POP3 clients on a mailbox filled through LMTP"
scripts/pop3-clients.sh
