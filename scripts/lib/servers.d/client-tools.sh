# shellcheck shell=bash
# Test tools for chatty-client: tmux (the terminal window's test drives the real binary in it) and
# headless Chromium driven through chromedriver (the web window's end-to-end test).
#
# Sourced by scripts/lib/servers.sh. Exports CHATTY_TEST_WEBDRIVER=http://127.0.0.1:PORT, the
# chromedriver the web test talks to (the test starts Chromium through it, headless).

# The first free port from here is taken (so that two runs of the servers do not clash).
CHROMEDRIVER_PORT=19515

# Installs tmux, chromium and chromium-driver where their binaries are missing.
install_client_tools() {
    local missing=()
    command -v tmux >/dev/null || missing+=(tmux)
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    else
        echo "nothing to install: tmux, chromium and chromedriver are there"
    fi
}

# Starts chromedriver on loopback (it starts a Chromium per WebDriver session; the test gives the
# flags for a headless, sandbox-less, offline Chromium with a fresh profile).
# Without --allowed-ips it listens on loopback only.
start_chromedriver() {
    local base="$STATE_DIR/chromedriver" pid port=$CHROMEDRIVER_PORT
    mkdir -p "$base"
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
        ((port < CHROMEDRIVER_PORT + 50)) || fail "no free port for chromedriver from $CHROMEDRIVER_PORT"
    done
    chromedriver --port="$port" --log-path="$base/chromedriver.log" >"$base/stdout.log" 2>&1 &
    pid=$!
    CLEANUPS+=("stop_pid $pid")
    wait_for_port "$port" chromedriver
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || fail "chromedriver exited at start: $(tail -n 20 "$base/stdout.log" "$base/chromedriver.log" 2>/dev/null)"
    export CHATTY_TEST_WEBDRIVER="http://127.0.0.1:$port"
    echo "chromedriver (pid $pid) on 127.0.0.1:$port; log: $base/chromedriver.log"
}

SERVER_INSTALLERS+=(install_client_tools)
SERVER_STARTERS+=(start_chromedriver)
SERVER_ENV+=(CHATTY_TEST_WEBDRIVER)
