# Test servers for the protocol crates' tests, shared by scripts/test (which runs every test) and
# scripts/test-servers (which runs the servers by hand, for `cargo test -p chatty-xmpp`).
#
# Sourced, never run. The caller sets STATE_DIR (a fresh directory for configs, data and logs) and
# CLEANUPS (an array of commands its EXIT trap runs, last first). The helpers below (run, fail,
# as_root, apt_install, stop_pid, wait_for_port) are defined here only where the caller has not
# defined its own: scripts/test has them already.
#
# Servers (all on 127.0.0.1, non-default ports, never the system copies):
# - Prosody (XMPP): c2s on 15222 (STARTTLS, plaintext allowed), direct TLS on 15223, MUC component
#   rooms.localhost, HTTP file upload component upload.localhost (HTTP on 15280), users alice/bob/carol (secret-alice, …) and a pool t00…t39 (secret-t00, …)
#   for tests that run in parallel. TLS from a test CA made on the fly under "$STATE_DIR/tls".
# - A second Prosody on 15232 (direct TLS 15233, HTTP 15290) with users r00…r03, which the tests
#   that restart the server mid-conversation stop and start through its `ctl` script.

XMPP_PORT=15222
XMPP_DIRECT_TLS_PORT=15223
# Prosody's HTTP server, for file uploads (XEP-0363).
XMPP_HTTP_PORT=15280
# The second, restartable Prosody.
XMPP_RESTART_PORT=15232
XMPP_RESTART_DIRECT_TLS_PORT=15233
XMPP_RESTART_HTTP_PORT=15290
# Pool accounts for tests running at the same time (see chatty-xmpp/tests/common).
XMPP_POOL_SIZE=40

declare -F run >/dev/null || run() {
    printf '$ %s\n' "$*"
    "$@"
}

declare -F fail >/dev/null || fail() {
    printf '\n%s: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

declare -F as_root >/dev/null || as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        fail "not root and no sudo: run as root, or run this yourself: $*"
    fi
}

declare -F apt_install >/dev/null || apt_install() {
    command -v apt-get >/dev/null || fail "apt-get not found: install $* by hand, then run again"
    if [[ ${APT_UPDATED:-0} -eq 0 ]]; then
        run as_root apt-get update
        APT_UPDATED=1
    fi
    run as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

declare -F stop_pid >/dev/null || stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null || [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]]; then
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

declare -F wait_for_port >/dev/null || wait_for_port() {
    local port=$1 what=$2 i
    for ((i = 0; i < 300; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail "$what did not listen on 127.0.0.1:$port within 30 s"
}

# Installs the server packages whose binaries are missing (never starts or stops system copies).
install_server_packages() {
    local missing=()
    command -v prosody >/dev/null || missing+=(prosody)
    command -v openssl >/dev/null || missing+=(openssl)
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    else
        echo "nothing to install: prosody and openssl are there"
    fi
}

# Makes the test CA and a server certificate for localhost, rooms.localhost and 127.0.0.1 under
# "$STATE_DIR/tls", and a bundle of the system roots plus the test CA (for SSL_CERT_FILE, so
# that cargo's own downloads keep working while rustls-native-certs trusts the test CA).
make_test_ca() {
    local tls="$STATE_DIR/tls"
    # Once per run: every server's TLS uses the same CA.
    [[ -s $tls/bundle.crt ]] && return 0
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Chatty Test CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf '%s\n' 'subjectAltName=DNS:localhost,DNS:rooms.localhost,IP:127.0.0.1' \
        'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 825 -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
    chmod 644 "$tls/server.key"
    : >"$tls/bundle.crt"
    if [[ -r /etc/ssl/certs/ca-certificates.crt ]]; then
        cat /etc/ssl/certs/ca-certificates.crt >>"$tls/bundle.crt"
    fi
    cat "$tls/ca.crt" >>"$tls/bundle.crt"
    echo "test CA: $tls/ca.crt"
}

# Writes a Prosody config under BASE for the ports C2S, DIRECT_TLS and HTTP, and registers the
# users given after them.
configure_prosody() {
    local base=$1 c2s=$2 direct_tls=$3 http=$4 user
    shift 4
    local config="$base/prosody.cfg.lua"
    mkdir -p "$base/data" "$base/certs"
    cat >"$config" <<LUA
local base = "$base"
run_as_root = true
data_path = base .. "/data"
pidfile = base .. "/prosody.pid"
certificates = base .. "/certs"
log = { { levels = { min = "info" }, to = "file", filename = base .. "/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
c2s_direct_tls_ports = { $direct_tls }
s2s_ports = { }
-- No offline storage: a message to a test account that is offline bounces (an error, as for
-- any unavailable recipient) instead of reaching whichever later test takes that account.
modules_disabled = { "s2s"; "offline" }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "presence"; "message"; "iq"; "ping";
  "posix"; "smacks"; "mam"; "carbons"; "blocklist"; "private"; "vcard_legacy"; "pep";
}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
ssl = { certificate = "$STATE_DIR/tls/server.crt"; key = "$STATE_DIR/tls/server.key"; }
archive_expires_after = "never"
-- Prosody's internal store keeps 10 000 archived stanzas per account; past that, every new one
-- rewrites the whole archive file to drop the oldest, and the server slows to a crawl. The echo
-- benchmark archives thousands per run on pooled accounts: no limit it will reach.
storage_archive_item_limit = 10000000
limits = { }
-- Nagle's algorithm off (Prosody leaves it on by default). With it on, a stanza for a client that
-- has not ACKed Prosody's last small write yet (an XEP-0198 <a/>, say) waits for that client's
-- delayed ACK: up to 40 ms per hop, which the tests would wait out and the echo benchmark measure.
network_settings = { nagle = false }
-- A session that vanished without closing its stream waits this long to be resumed (XEP-0198;
-- Prosody's default is 10 minutes). Meanwhile it still counts as online: it gets copies of
-- messages to its bare JID and bounces them when it expires, long after the test that left it,
-- to whichever test has the pooled account then. A minute covers every reconnection the tests
-- make.
smacks_hibernation_time = 60
-- HTTP File Upload (XEP-0363) over plain HTTP on loopback.
http_ports = { $http }
http_interfaces = { "127.0.0.1" }
https_ports = { }
https_interfaces = { }
-- Requests come to 127.0.0.1, not to the component's name: route them to it.
http_default_host = "upload.localhost"
http_external_url = "http://127.0.0.1:$http/"
VirtualHost "localhost"
Component "upload.localhost" "http_file_share"
  http_file_share_size_limit = 16 * 1024 * 1024
  http_file_share_expires_after = 60 * 60
Component "rooms.localhost" "muc"
  modules_enabled = { "muc_mam" }
  restrict_room_creation = false
  muc_room_locking = false
  muc_room_default_public = true
  muc_room_default_persistent = false
LUA
    for user in "$@"; do
        prosodyctl --config "$config" register "$user" localhost "secret-$user" >/dev/null ||
            fail "prosodyctl could not register $user (see $base/prosody.log)"
    done
    echo "registered $# users in $base"
}

# Writes BASE/ctl: `ctl start|stop|restart` for the Prosody configured in BASE, waiting for its
# port C2S (start) or for its exit (stop).
write_prosody_ctl() {
    local base=$1 c2s=$2
    cat >"$base/ctl" <<SH
#!/usr/bin/env bash
# Starts, stops or restarts the test Prosody in $base (for tests that restart the server).
set -euo pipefail
stop() {
    local pid i
    [[ -s "$base/prosody.pid" ]] || return 0
    pid=\$(cat "$base/prosody.pid")
    kill -TERM "\$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "\$pid" 2>/dev/null || [[ \$(ps -o stat= -p "\$pid" 2>/dev/null) == Z* ]]; then
            rm -f "$base/prosody.pid"
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "\$pid" 2>/dev/null || true
    rm -f "$base/prosody.pid"
}
start() {
    local i
    prosody --config "$base/prosody.cfg.lua" -F >>"$base/stdout.log" 2>&1 &
    for ((i = 0; i < 300; i++)); do
        if [[ -s "$base/prosody.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$c2s") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "prosody in $base did not listen on $c2s within 30 s" >&2
    exit 1
}
case "\${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    *) echo "usage: \$0 start|stop|restart" >&2; exit 2 ;;
esac
SH
    chmod +x "$base/ctl"
}

# Starts Prosody in the background, registers its stop, waits for it, exports where it is.
start_prosody() {
    local base="$STATE_DIR/prosody" i pid users=(alice bob carol)
    make_test_ca
    for ((i = 0; i < XMPP_POOL_SIZE; i++)); do
        users+=("$(printf 't%02d' "$i")")
    done
    configure_prosody "$base" "$XMPP_PORT" "$XMPP_DIRECT_TLS_PORT" "$XMPP_HTTP_PORT" "${users[@]}"
    prosody --config "$base/prosody.cfg.lua" -F >"$base/stdout.log" 2>&1 &
    pid=$!
    # On failure, show the end of Prosody's log before the state directory goes (the caller's
    # cleanup has the exit status in $status).
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of prosody.log:' >&2; tail -n 40 '$base/prosody.log' >&2; }")
    CLEANUPS+=("stop_pid $pid")
    # mod_posix writes the same PID to the pidfile; wait for it so the stop is by its PID too.
    for ((i = 0; i < 100; i++)); do
        [[ -s $base/prosody.pid ]] && break
        kill -0 "$pid" 2>/dev/null || fail "prosody exited at start: $(tail -n 20 "$base/stdout.log" "$base/prosody.log" 2>/dev/null)"
        sleep 0.1
    done
    if [[ -s $base/prosody.pid && $(cat "$base/prosody.pid") != "$pid" ]]; then
        CLEANUPS+=("stop_pid $(cat "$base/prosody.pid")")
    fi
    wait_for_port "$XMPP_PORT" prosody
    wait_for_port "$XMPP_DIRECT_TLS_PORT" "prosody (direct TLS)"
    wait_for_port "$XMPP_HTTP_PORT" "prosody (HTTP file upload)"
    export CHATTY_TEST_XMPP_HOST=127.0.0.1
    export CHATTY_TEST_XMPP_PORT=$XMPP_PORT
    export CHATTY_TEST_XMPP_DIRECT_TLS_PORT=$XMPP_DIRECT_TLS_PORT
    export CHATTY_TEST_XMPP_DOMAIN=localhost
    export CHATTY_TEST_XMPP_POOL=$XMPP_POOL_SIZE
    export CHATTY_TEST_CA="$STATE_DIR/tls/ca.crt"
    export SSL_CERT_FILE="$STATE_DIR/tls/bundle.crt"
    echo "prosody (pid $pid) on 127.0.0.1:$XMPP_PORT (STARTTLS) and :$XMPP_DIRECT_TLS_PORT (direct TLS); log: $base/prosody.log"
}

# A second Prosody, only for the tests that restart the server mid-conversation (restarting the
# shared one would break the tests running beside them): users r00…r03, controlled by its `ctl`.
start_restartable_prosody() {
    local base="$STATE_DIR/prosody-r"
    configure_prosody "$base" "$XMPP_RESTART_PORT" "$XMPP_RESTART_DIRECT_TLS_PORT" \
        "$XMPP_RESTART_HTTP_PORT" r00 r01 r02 r03
    write_prosody_ctl "$base" "$XMPP_RESTART_PORT"
    CLEANUPS+=("'$base/ctl' stop")
    "$base/ctl" start || fail "the restartable prosody did not start: $(tail -n 20 "$base/prosody.log" 2>/dev/null)"
    export CHATTY_TEST_XMPP_RESTART_PORT=$XMPP_RESTART_PORT
    export CHATTY_TEST_XMPP_RESTART_CTL="$base/ctl"
    echo "restartable prosody on 127.0.0.1:$XMPP_RESTART_PORT; control: $base/ctl"
}

# ---- Every server ------------------------------------------------------------------------------
# Each further server (or test tool) has a file of its own in scripts/lib/servers.d/, sourced
# below. Such a file defines its functions and appends them here: an installer (installs what is
# missing, starts nothing), a starter (starts it on loopback with state under "$STATE_DIR",
# registers its stop in CLEANUPS, waits for it and exports where it is), and the names of the
# variables it exports for the tests.
SERVER_INSTALLERS=(install_server_packages)
SERVER_STARTERS=(make_test_ca start_prosody start_restartable_prosody)
SERVER_ENV=(CHATTY_TEST_XMPP_HOST CHATTY_TEST_XMPP_PORT CHATTY_TEST_XMPP_DIRECT_TLS_PORT
    CHATTY_TEST_XMPP_DOMAIN CHATTY_TEST_XMPP_POOL CHATTY_TEST_CA SSL_CERT_FILE
    CHATTY_TEST_XMPP_RESTART_PORT CHATTY_TEST_XMPP_RESTART_CTL)

for server_file in "$(dirname "${BASH_SOURCE[0]}")"/servers.d/*.sh; do
    [[ -e $server_file ]] || continue
    # shellcheck source=/dev/null
    source "$server_file"
done
unset server_file

# Installs what every server needs.
install_all_servers() {
    local step
    for step in "${SERVER_INSTALLERS[@]}"; do
        "$step"
    done
}

# Starts every server.
start_all_servers() {
    local step
    for step in "${SERVER_STARTERS[@]}"; do
        "$step"
    done
}

# Prints the exports of the running servers as shell commands.
print_server_env() {
    local name
    for name in "${SERVER_ENV[@]}"; do
        printf 'export %s=%q\n' "$name" "${!name}"
    done
}
