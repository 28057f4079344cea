# Slack's official Python SDK (slack_sdk from PyPI), for chatty-local-slack's fidelity tests: the
# same scenarios that chatty-slack's tests run are driven with Slack's own WebClient and
# SocketModeClient (the built-in, pure-Python one) pointed at the local Slack, so the local Slack
# stays faithful to Slack rather than to our adapter.
#
# Sourced by scripts/lib/servers.sh. Installs a venv under the cache (created once, reused, so
# reruns are fast) and exports CHATTY_TEST_SLACK_PYTHON, the venv's python. Nothing is started:
# each test starts its own local Slack on a free port.

SLACK_SDK_VERSION=3.48.0
SLACK_SDK_VENV="${CHATTY_CACHE:-$HOME/.cache/chatty}/slack-sdk-venv"

# Creates the venv (python3-venv from apt if missing) and installs the pinned slack_sdk into it.
install_slack_sdk() {
    local python="$SLACK_SDK_VENV/bin/python"
    if [[ -x $python ]] && "$python" -c "import slack_sdk, sys; sys.exit(slack_sdk.version.__version__ != '$SLACK_SDK_VERSION')" 2>/dev/null; then
        echo "nothing to install: slack_sdk $SLACK_SDK_VERSION is in $SLACK_SDK_VENV"
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
    rm -rf "$SLACK_SDK_VENV"
    mkdir -p "$(dirname "$SLACK_SDK_VENV")"
    run python3 -m venv "$SLACK_SDK_VENV" || fail "cannot create a venv in $SLACK_SDK_VENV"
    run "$SLACK_SDK_VENV/bin/pip" install --quiet --disable-pip-version-check "slack_sdk==$SLACK_SDK_VERSION" \
        || fail "cannot install slack_sdk $SLACK_SDK_VERSION from PyPI"
}

# Exports the venv's python for the tests (the SDK needs no server of its own).
start_slack_sdk() {
    local python="$SLACK_SDK_VENV/bin/python"
    [[ -x $python ]] || fail "$python is missing: the slack_sdk installer did not run"
    export CHATTY_TEST_SLACK_PYTHON="$python"
    echo "slack_sdk $SLACK_SDK_VERSION: CHATTY_TEST_SLACK_PYTHON=$python"
}

SERVER_INSTALLERS+=(install_slack_sdk)
SERVER_STARTERS+=(start_slack_sdk)
SERVER_ENV+=(CHATTY_TEST_SLACK_PYTHON)
