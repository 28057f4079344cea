# shellcheck shell=bash
# PostgreSQL, for what several machines share (the journal, the Logger, bots' state), sourced by
# scripts/lib/servers.sh (see README.md here).
#
# - PostgreSQL 15 from Debian, a cluster of its own made by initdb in a temporary directory and
#   started by pg_ctl on 127.0.0.1:15432 (never the system service, never its port 5432).
#   Superuser `chatty`, trust authentication on loopback. Exported as CHATTY_TEST_POSTGRES_URL
#   (the `postgres` database); a test makes a database of its own from it.
# - PostgreSQL refuses to run as root: when the script runs as root, the cluster belongs to
#   `nobody` and its directory is outside "$STATE_DIR" (which only root may enter).
#
# CHATTY_TEST_POSTGRES_PORT (default 15432) moves it, for a second set of servers on one machine.

POSTGRES_PORT=${CHATTY_TEST_POSTGRES_PORT:-15432}
POSTGRES_VERSION=15
POSTGRES_BIN=/usr/lib/postgresql/$POSTGRES_VERSION/bin

install_postgres() {
    if [[ -x $POSTGRES_BIN/initdb && -x $POSTGRES_BIN/pg_ctl ]]; then
        echo "nothing to install: $("$POSTGRES_BIN/postgres" --version) is there"
    else
        apt_install "postgresql-$POSTGRES_VERSION"
    fi
}

# Runs a PostgreSQL tool as the cluster's owner: `nobody` under root, else the caller.
as_postgres_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    local base
    base=$(mktemp -d "${TMPDIR:-/tmp}/chatty-postgres.XXXXXX")
    CLEANUPS+=("rm -rf '$base'")
    [[ $(id -u) -eq 0 ]] && chown nobody "$base"
    as_postgres_owner "$POSTGRES_BIN/initdb" -D "$base/data" -A trust -U chatty \
        --no-sync >"$base/initdb.log" 2>&1 ||
        { cat "$base/initdb.log" >&2; fail "initdb failed"; }
    # The socket in the cluster's own directory; fsync off: the tests' data need not survive a
    # crash of the machine, and it keeps CI fast.
    as_postgres_owner "$POSTGRES_BIN/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $base -c fsync=off -c max_connections=200" \
        start >/dev/null || { tail -n 30 "$base/postgres.log" >&2; fail "PostgreSQL did not start"; }
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of postgres.log:' >&2; tail -n 30 '$base/postgres.log' >&2; }")
    CLEANUPS+=("as_postgres_owner '$POSTGRES_BIN/pg_ctl' -D '$base/data' -m fast -w stop >/dev/null")
    wait_for_port "$POSTGRES_PORT" "PostgreSQL"
    export CHATTY_TEST_POSTGRES_URL="postgres://chatty@127.0.0.1:$POSTGRES_PORT/postgres"
    echo "PostgreSQL $POSTGRES_VERSION: $CHATTY_TEST_POSTGRES_URL"
}

SERVER_INSTALLERS+=(install_postgres)
SERVER_STARTERS+=(start_postgres)
SERVER_ENV+=(CHATTY_TEST_POSTGRES_URL)
