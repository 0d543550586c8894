#!/usr/bin/env bash
# The PostgreSQL store backend's tests against a real PostgreSQL: installs Debian's
# `postgresql` if missing, makes a throwaway cluster (initdb) owned by an unprivileged
# user in a temporary directory, starts it (pg_ctl) on a private port with its socket in
# that directory, exports MAILROOM_PG_URL, runs the tests, and stops the cluster and
# removes the directory whatever happens (trap).
#
# Usage: scripts/postgres.sh                 cargo test -p mailroom-store-postgres, the
#                                            two-node test (mailroom-server tests/cluster.rs)
#                                            and the IMAP, POP3 and LMTP transcripts on
#                                            PostgreSQL (MAILROOM_TEST_STORE=postgres)
#        scripts/postgres.sh CMD [ARGS...]   CMD with MAILROOM_PG_URL set (for a shell:
#                                            scripts/postgres.sh bash)
# Environment: PG_PORT (default: the first free of 54329..54399), PG_BIN (default
# /usr/lib/postgresql/15/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -z "${PG_PORT:-}" ]; then
    # The first port of 54329..54399 that nothing listens on.
    for PG_PORT in $(seq 54329 54399); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null || break
    done
fi

if [ ! -x "$PG_BIN/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "postgres.sh: $PG_BIN/initdb missing and not root: install Debian's postgresql" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    # Debian's package makes and starts a default cluster on 5432; ours is separate.
fi

TMP=$(mktemp -d /tmp/mailroom-pg.XXXXXX)
chmod 755 "$TMP"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: the cluster belongs to an unprivileged user.
    OWNER=nobody
    RUN_AS=(runuser -u "$OWNER" --)
    chown "$OWNER" "$TMP"
fi
DATA=$TMP/data
SOCK=$TMP

cleanup() {
    "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DATA" -U mailroom --auth=trust -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log" >&2; exit 1; }
# fsync stays on: the tests check durability claims against a real server.
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -l "$TMP/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" \
    start >/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
"${RUN_AS[@]}" "$PG_BIN/createdb" -h "$SOCK" -p "$PG_PORT" -U mailroom mailroom

export MAILROOM_PG_URL="postgres://mailroom@127.0.0.1:$PG_PORT/mailroom"
echo "postgres.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (socket dir $SOCK), MAILROOM_PG_URL=$MAILROOM_PG_URL"

status=0
if [ $# -eq 0 ]; then
    # The backend's own tests (conformance suite, two nodes, concurrency, blobs), then
    # the IMAP transcript suite against servers on the PostgreSQL backend.
    set -- cargo test -p mailroom-store-postgres --locked
    "$@" || status=$?
    if [ $status -eq 0 ]; then
        # Two server nodes on the database: IDLE on one sees the other's changes.
        cargo test -p mailroom-server --locked --test cluster || status=$?
    fi
    if [ $status -eq 0 ]; then
        set -- env MAILROOM_TEST_STORE=postgres \
            cargo test -p mailroom-server --locked --test imap --test pop3 --test lmtp transcripts
        "$@" || status=$?
    fi
else
    "$@" || status=$?
fi
if [ $status -ne 0 ]; then
    echo "postgres.sh: '$*' failed ($status); server log tail:" >&2
    tail -n 30 "$TMP/server.log" >&2 || true
fi
exit $status
