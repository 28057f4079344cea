# shellcheck shell=bash
# NATS with JetStream, for chatty-nats (gateways and workers on different machines), sourced by
# scripts/lib/servers.sh (see README.md here).
#
# - nats-server from Debian (2.9.10 on Debian 12) on 127.0.0.1:14222, JetStream on, its store
#   under "$STATE_DIR/nats". Exported as CHATTY_TEST_NATS_URL. Every test names its own streams
#   (a prefix of its own), so tests run at the same time on the one server.
#
# CHATTY_TEST_NATS_PORT (default 14222) moves it, for a second set of servers on one machine.

NATS_PORT=${CHATTY_TEST_NATS_PORT:-14222}

install_nats_server() {
    if command -v nats-server >/dev/null; then
        echo "nothing to install: $(nats-server --version 2>&1 | head -n 1) is there"
    else
        apt_install nats-server
    fi
}

start_nats_server() {
    local base="$STATE_DIR/nats" pid
    mkdir -p "$base/store"
    # No config file: the flags say everything (JetStream on, loopback only, a store of its own).
    nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$base/store" -l "$base/nats.log" &
    pid=$!
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of nats.log:' >&2; tail -n 30 '$base/nats.log' >&2; }")
    CLEANUPS+=("stop_pid $pid")
    wait_for_port "$NATS_PORT" "nats-server"
    export CHATTY_TEST_NATS_URL="nats://127.0.0.1:$NATS_PORT"
    echo "nats-server (JetStream): $CHATTY_TEST_NATS_URL"
}

SERVER_INSTALLERS+=(install_nats_server)
SERVER_STARTERS+=(start_nats_server)
SERVER_ENV+=(CHATTY_TEST_NATS_URL)
