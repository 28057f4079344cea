# shellcheck shell=bash
# Matrix test servers for the Matrix tests, sourced by scripts/lib/servers.sh (see README.md here).
#
# - Synapse (PyPI `matrix-synapse`, pinned below; not packaged in Debian 12) in a venv under the
#   cache (${CHATTY_CACHE:-$HOME/.cache/chatty}/synapse-venv, about 240 MB, created once and
#   reused). Server name `localhost`, client API over plain HTTP on 127.0.0.1:18008 only (no
#   federation listener, no TLS), SQLite, presence on, every rate limit raised far past what a
#   test's burst reaches, bcrypt at 4 rounds (logins cost no CPU), log at WARNING. A pool of users
#   m00…m23 (password secret-m00, …) registered through the shared-secret admin API; tests may
#   register more the same way (POST /_synapse/admin/v1/register, nonce + HMAC-SHA1 with
#   CHATTY_TEST_MATRIX_SHARED_SECRET).
# - A second Synapse ("restartable", 127.0.0.1:18009, same config, server name `localhost` too,
#   users mr00…mr03) that the tests that restart the server mid-conversation stop and start
#   through its `ctl` script (restarting the shared one would break the tests running beside it).
# All state (config, signing key, database, media, logs) lives under "$STATE_DIR/matrix"; nothing
# but the venv goes to $HOME. A boot costs 1.3-1.4 s of CPU (Python importing Synapse), so both
# are launched before every other server, boot and get their users in a background job while the
# others start, and are waited for in this file's place (measured: see README.md here).
#
# CHATTY_TEST_MATRIX_PORT_OFFSET (default 0) moves both ports, so that a second set of servers can
# run on the same machine.

SYNAPSE_VERSION=1.163.2
SYNAPSE_VENV="${CHATTY_CACHE:-$HOME/.cache/chatty}/synapse-venv"
MATRIX_PORT_OFFSET=${CHATTY_TEST_MATRIX_PORT_OFFSET:-0}
MATRIX_PORT=$((18008 + MATRIX_PORT_OFFSET))
MATRIX_RESTART_PORT=$((18009 + MATRIX_PORT_OFFSET))
MATRIX_SERVER_NAME=localhost
MATRIX_POOL_SIZE=24
MATRIX_RESTART_POOL_SIZE=4
# Test-only secrets, on loopback, in the temp dir.
MATRIX_SHARED_SECRET=chatty-test-matrix-shared-secret

# Creates the venv (python3-venv from apt if missing) and installs the pinned Synapse into it.
install_synapse() {
    local python="$SYNAPSE_VENV/bin/python"
    if [[ -x $python ]] && "$python" -c "import sys; from importlib.metadata import version; sys.exit(version('matrix-synapse') != '$SYNAPSE_VERSION')" 2>/dev/null; then
        echo "nothing to install: matrix-synapse $SYNAPSE_VERSION is in $SYNAPSE_VENV"
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
    rm -rf "$SYNAPSE_VENV"
    mkdir -p "$(dirname "$SYNAPSE_VENV")"
    run python3 -m venv "$SYNAPSE_VENV" || fail "cannot create a venv in $SYNAPSE_VENV"
    run "$SYNAPSE_VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" ||
        fail "cannot install matrix-synapse $SYNAPSE_VERSION from PyPI"
}

# Writes a Synapse config in BASE for PORT: homeserver.yaml, its log config and a signing key
# (written here rather than by `--generate-config`, which costs a Python start of 1.4 s).
write_synapse_config() {
    local base=$1 port=$2 limit
    mkdir -p "$base/media_store"
    # An ed25519 key is its 32-byte seed, in unpadded base64.
    printf 'ed25519 a_test %s\n' "$(head -c 32 /dev/urandom | base64 | tr -d '=\n')" \
        >"$base/signing.key"
    cat >"$base/log.config" <<YAML
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $base/homeserver.log
    encoding: utf8
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
YAML
    # Far past anything a test sends (bursts of 1 000+ messages, many logins, rooms and joins).
    limit='{per_second: 100000, burst_count: 1000000}'
    cat >"$base/homeserver.yaml" <<YAML
server_name: "$MATRIX_SERVER_NAME"
public_baseurl: "http://127.0.0.1:$port/"
listeners:
  - port: $port
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: $base/homeserver.db
log_config: "$base/log.config"
media_store_path: "$base/media_store"
signing_key_path: "$base/signing.key"
report_stats: false
enable_metrics: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
registration_shared_secret: "$MATRIX_SHARED_SECRET"
macaroon_secret_key: "chatty-test-matrix-macaroon-$port"
form_secret: "chatty-test-matrix-form-$port"
enable_registration: false
# Each password hash at Synapse's default 12 rounds costs a quarter of a second of CPU here.
bcrypt_rounds: 4
presence:
  enabled: true
user_directory:
  enabled: true
  search_all_users: true
room_list_publication_rules:
  - action: allow
rc_message: $limit
rc_registration: $limit
rc_registration_token_validity: $limit
rc_login:
  address: $limit
  account: $limit
  failed_attempts: $limit
rc_admin_redaction: $limit
rc_joins:
  local: $limit
  remote: $limit
rc_joins_per_room: $limit
rc_3pid_validation: $limit
rc_invites:
  per_room: $limit
  per_user: $limit
  per_issuer: $limit
rc_third_party_invite: $limit
rc_media_create: $limit
rc_presence:
  per_user: $limit
rc_delayed_event_mgmt: $limit
rc_room_creation: $limit
rc_reports: $limit
rc_user_directory: $limit
rc_profile: $limit
rc_key_requests: $limit
YAML
}

# Writes BASE/ctl: `ctl start|stop|restart` for the Synapse configured in BASE, waiting until
# `GET /_matrix/client/versions` on PORT answers 200 (start) or for its exit (stop).
write_synapse_ctl() {
    local base=$1 port=$2
    cat >"$base/ctl" <<SH
#!/usr/bin/env bash
# Starts, stops or restarts the test Synapse in $base (for tests that restart the server).
set -euo pipefail
stop() {
    local pid i
    [[ -s "$base/synapse.pid" ]] || return 0
    pid=\$(cat "$base/synapse.pid")
    kill -TERM "\$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "\$pid" 2>/dev/null || [[ \$(ps -o stat= -p "\$pid" 2>/dev/null) == Z* ]]; then
            rm -f "$base/synapse.pid"
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "\$pid" 2>/dev/null || true
    rm -f "$base/synapse.pid"
}
# Whether the client API answers (HTTP/1.0 over bash's /dev/tcp: no curl needed).
ready() (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /_matrix/client/versions HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3 || exit 1
    [[ \$line == "HTTP/1."?" 200 "* ]]
)
# Starts Synapse in the background without waiting for it.
launch() {
    if [[ -s "$base/synapse.pid" ]] && kill -0 "\$(cat "$base/synapse.pid")" 2>/dev/null; then
        echo "synapse in $base runs already" >&2
        exit 1
    fi
    "$SYNAPSE_VENV/bin/python" -m synapse.app.homeserver -c "$base/homeserver.yaml" \\
        </dev/null >>"$base/stdout.log" 2>&1 &
    echo "\$!" >"$base/synapse.pid"
}
# Waits until the launched Synapse answers, or fails with the end of its logs.
wait_ready() {
    local pid i
    pid=\$(cat "$base/synapse.pid" 2>/dev/null) || { echo "synapse in $base was not started" >&2; exit 1; }
    for ((i = 0; i < 1200; i++)); do
        ready 2>/dev/null && return 0
        # (An orphan that exited may stay a zombie for a while: PID 1 here reaps slowly.)
        if ! kill -0 "\$pid" 2>/dev/null || [[ \$(ps -o stat= -p "\$pid" 2>/dev/null) == Z* ]]; then
            echo "synapse in $base exited at start:" >&2
            tail -n 30 "$base/stdout.log" "$base/homeserver.log" >&2 2>/dev/null || true
            rm -f "$base/synapse.pid"
            exit 1
        fi
        sleep 0.05
    done
    echo "synapse in $base did not answer on 127.0.0.1:$port within 60 s:" >&2
    tail -n 30 "$base/stdout.log" "$base/homeserver.log" >&2 2>/dev/null || true
    exit 1
}
case "\${1:-}" in
    start) launch; wait_ready ;;
    stop) stop ;;
    restart) stop; launch; wait_ready ;;
    launch) launch ;;
    wait) wait_ready ;;
    *) echo "usage: \$0 start|stop|restart (or launch, then wait)" >&2; exit 2 ;;
esac
SH
    chmod +x "$base/ctl"
}

# Registers users on Synapse servers through the shared-secret admin API, in one Python start
# (register_new_matrix_user costs one per user). Arguments: PORT:USER… (password secret-USER).
register_matrix_users() {
    "$SYNAPSE_VENV/bin/python" - "$MATRIX_SHARED_SECRET" "$@" <<'PY'
import hashlib, hmac, json, sys, urllib.request

secret = sys.argv[1].encode()
for arg in sys.argv[2:]:
    port, user = arg.split(":")
    url = f"http://127.0.0.1:{port}/_synapse/admin/v1/register"
    with urllib.request.urlopen(url) as r:
        nonce = json.load(r)["nonce"]
    password = f"secret-{user}"
    mac = hmac.new(secret, digestmod=hashlib.sha1)
    mac.update(b"\0".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
    body = json.dumps({"nonce": nonce, "username": user, "password": password,
                       "admin": False, "mac": mac.hexdigest()}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as e:
        sys.exit(f"registering {user} on port {port}: {e.code} {e.read().decode()}")
PY
}

# Launches both Synapses in the background, first of all the servers (see the end of this
# file), and a background job that waits for them and registers the pools: they boot while the
# other servers start, and start_matrix_servers waits for that job.
launch_matrix_servers() {
    local base="$STATE_DIR/matrix" port i users=()
    MATRIX_LAUNCHED=$EPOCHREALTIME
    for port in $MATRIX_PORT $MATRIX_RESTART_PORT; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "something listens on 127.0.0.1:$port already (a stale test Synapse?)"
        fi
    done
    [[ -x $SYNAPSE_VENV/bin/python ]] || fail "$SYNAPSE_VENV/bin/python is missing: the synapse installer did not run"
    for port in $MATRIX_PORT $MATRIX_RESTART_PORT; do
        write_synapse_config "$base/$port" "$port"
        write_synapse_ctl "$base/$port" "$port"
        CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of synapse log ($port):' >&2; tail -n 30 '$base/$port/stdout.log' '$base/$port/homeserver.log' >&2; }")
        CLEANUPS+=("'$base/$port/ctl' stop")
        "$base/$port/ctl" launch || fail "could not launch synapse on port $port"
    done
    for ((i = 0; i < MATRIX_POOL_SIZE; i++)); do
        users+=("$MATRIX_PORT:$(printf 'm%02d' "$i")")
    done
    for ((i = 0; i < MATRIX_RESTART_POOL_SIZE; i++)); do
        users+=("$MATRIX_RESTART_PORT:$(printf 'mr%02d' "$i")")
    done
    (
        "$base/$MATRIX_PORT/ctl" wait || exit 1
        "$base/$MATRIX_RESTART_PORT/ctl" wait || exit 1
        echo "$EPOCHREALTIME" >"$base/up"
        register_matrix_users "${users[@]}" || { echo "could not register the Matrix test users" >&2; exit 1; }
        echo "$EPOCHREALTIME" >"$base/registered"
    ) </dev/null >"$base/setup.log" 2>&1 &
    MATRIX_SETUP_PID=$!
    CLEANUPS+=("kill $MATRIX_SETUP_PID 2>/dev/null")
}

# Waits for the job of launch_matrix_servers (both Synapses up, pools registered) and exports
# where they are.
start_matrix_servers() {
    local base="$STATE_DIR/matrix" i accounts='' restart_accounts='' t0 t1
    t0=$EPOCHREALTIME
    wait "$MATRIX_SETUP_PID" || fail "the Matrix servers did not start: $(cat "$base/setup.log")"
    t1=$EPOCHREALTIME
    for ((i = 0; i < MATRIX_POOL_SIZE; i++)); do
        accounts+=$(printf 'm%02d:secret-m%02d ' "$i" "$i")
    done
    for ((i = 0; i < MATRIX_RESTART_POOL_SIZE; i++)); do
        restart_accounts+=$(printf 'mr%02d:secret-mr%02d ' "$i" "$i")
    done
    export CHATTY_TEST_MATRIX_URL="http://127.0.0.1:$MATRIX_PORT"
    export CHATTY_TEST_MATRIX_PORT=$MATRIX_PORT
    export CHATTY_TEST_MATRIX_SERVER_NAME=$MATRIX_SERVER_NAME
    export CHATTY_TEST_MATRIX_ACCOUNTS=${accounts% }
    export CHATTY_TEST_MATRIX_SHARED_SECRET=$MATRIX_SHARED_SECRET
    export CHATTY_TEST_MATRIX_RESTART_URL="http://127.0.0.1:$MATRIX_RESTART_PORT"
    export CHATTY_TEST_MATRIX_RESTART_PORT=$MATRIX_RESTART_PORT
    export CHATTY_TEST_MATRIX_RESTART_CTL="$base/$MATRIX_RESTART_PORT/ctl"
    export CHATTY_TEST_MATRIX_RESTART_ACCOUNTS=${restart_accounts% }
    printf 'synapse %s on http://127.0.0.1:%s (users m00…m%02d) and, restartable, :%s (users mr00…mr%02d; control: %s): both up %.2f s after launch, users %.2f s later, waited %.2f s for them here; logs: %s/*/homeserver.log\n' \
        "$SYNAPSE_VERSION" "$MATRIX_PORT" $((MATRIX_POOL_SIZE - 1)) "$MATRIX_RESTART_PORT" \
        $((MATRIX_RESTART_POOL_SIZE - 1)) "$CHATTY_TEST_MATRIX_RESTART_CTL" \
        "$(awk "BEGIN { print $(cat "$base/up") - $MATRIX_LAUNCHED }")" \
        "$(awk "BEGIN { print $(cat "$base/registered") - $(cat "$base/up") }")" \
        "$(awk "BEGIN { print $t1 - $t0 }")" "$base"
}

SERVER_INSTALLERS+=(install_synapse)
# Synapse takes seconds of CPU to boot (Python importing it): launched before every other server
# so that it boots while they start, and waited for here.
SERVER_STARTERS=(launch_matrix_servers "${SERVER_STARTERS[@]}" start_matrix_servers)
SERVER_ENV+=(CHATTY_TEST_MATRIX_URL CHATTY_TEST_MATRIX_PORT CHATTY_TEST_MATRIX_SERVER_NAME
    CHATTY_TEST_MATRIX_ACCOUNTS CHATTY_TEST_MATRIX_SHARED_SECRET CHATTY_TEST_MATRIX_RESTART_URL
    CHATTY_TEST_MATRIX_RESTART_PORT CHATTY_TEST_MATRIX_RESTART_CTL
    CHATTY_TEST_MATRIX_RESTART_ACCOUNTS)
