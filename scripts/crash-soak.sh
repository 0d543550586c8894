#!/usr/bin/env bash
# Crash soak (scripts/crash-soak.py): concurrent LMTP, APPEND, COPY, MOVE, STORE, EXPUNGE
# and POP3 DELE against a mailroom server killed with SIGKILL N times at random moments;
# after each restart every invariant is checked (nothing acknowledged lost, duplicated or
# resurrected, no UID reused, a MOVE in exactly one mailbox, acknowledged flags kept).
#
# Usage: scripts/crash-soak.sh [N] [--seed S] [--keep]    (N defaults to 10; 100 by hand)
# Uses the debug build (MAILROOM_BIN to point elsewhere, e.g. target/release/mailroom).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
shift || true
if [ -z "${MAILROOM_BIN:-}" ]; then
    cargo build --locked -q -p mailroom
    MAILROOM_BIN=target/debug/mailroom
fi
exec python3 scripts/crash-soak.py --bin "$MAILROOM_BIN" --cycles "$N" "$@"
