# shellcheck shell=bash
# IRC test servers for chatty-irc, sourced by scripts/lib/servers.sh (see README.md here).
#
# - InspIRCd 3.15 (Debian `inspircd`) on 127.0.0.1: plain 16667, TLS 16697 (the shared test CA,
#   make_test_ca). IRCv3: message-tags (+typing and other client tags), server-time, msgid,
#   echo-message, batch, labeled-response, and sasl (PLAIN, through the services below). Every new
#   channel gets `+H 5000:1d` (chanhistory): a join replays its last 5 000 lines of the last day in
#   a `BATCH chathistory` (enough for the SIGKILL test's burst of 1 000 messages and answers). No DNS or ident look-ups, no flood kills, fakelag or clone limits: every
#   client is on 127.0.0.1.
# - Atheme 7.2 services (Debian `atheme-services`) linked to it on 127.0.0.1:16900 (server link
#   only): NickServ and SaslServ, with a pool of registered accounts i00…i15 (password
#   secret-i00, …), written straight into Atheme's database before it starts.
# - A second InspIRCd ("restartable", plain 16668, same IRCv3 modules, no services: no SASL) that
#   the tests that restart the server mid-conversation stop and start through its `ctl` script.
# - ngircd 26 (Debian `ngircd`) on 127.0.0.1:16669: a plain RFC 2812 server (its one IRCv3
#   capability is multi-prefix), to check that nothing depends on IRCv3.
# All state lives under "$STATE_DIR/irc". Everything is ready in about 0.15 s (measured: see
# README.md here). InspIRCd 3 completes a client's registration in its once-a-second loop: `001`
# comes about 1 s after `USER`, whatever the config (ngircd answers at once).
#
# CHATTY_TEST_IRC_PORT_OFFSET (default 0; a multiple of 1000) moves every port, so that a second set of servers can
# run on the same machine.

IRC_PORT_OFFSET=${CHATTY_TEST_IRC_PORT_OFFSET:-0}
IRC_PORT=$((16667 + IRC_PORT_OFFSET))
IRC_TLS_PORT=$((16697 + IRC_PORT_OFFSET))
IRC_LINK_PORT=$((16900 + IRC_PORT_OFFSET))
IRC_RESTART_PORT=$((16668 + IRC_PORT_OFFSET))
NGIRCD_PORT=$((16669 + IRC_PORT_OFFSET))
IRC_POOL_SIZE=16
# Test-only: the password between InspIRCd and Atheme, on loopback, in the temp dir.
IRC_LINK_PASSWORD=chatty-test-link

install_irc_servers() {
    local missing=()
    command -v inspircd >/dev/null || missing+=(inspircd)
    command -v ngircd >/dev/null || missing+=(ngircd)
    command -v atheme-services >/dev/null || missing+=(atheme-services)
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    else
        echo "nothing to install: inspircd, ngircd and atheme-services are there"
    fi
}

# Writes an InspIRCd config in BASE: server NAME with id SID, plain PORT, TLS_PORT (0: none) and
# a server link for Atheme on LINK_PORT (0: no services, no SASL).
write_inspircd_config() {
    local base=$1 name=$2 sid=$3 port=$4 tls_port=$5 link_port=$6 tls='' link=''
    mkdir -p "$base/data" "$base/logs"
    printf 'Chatty test IRC server (%s)\n' "$name" >"$base/motd.txt"
    if [[ $tls_port -ne 0 ]]; then
        tls="<module name=\"ssl_gnutls\">
<sslprofile name=\"clients\" provider=\"gnutls\" certfile=\"$STATE_DIR/tls/server.crt\"
    keyfile=\"$STATE_DIR/tls/server.key\" dhfile=\"\" requestclientcert=\"no\">
<bind address=\"127.0.0.1\" port=\"$tls_port\" type=\"clients\" sslprofile=\"clients\">"
    fi
    if [[ $link_port -ne 0 ]]; then
        link="<module name=\"spanningtree\">
<module name=\"services_account\">
<module name=\"svshold\">
<module name=\"chghost\">
<module name=\"cban\">
<module name=\"sasl\">
<sasl target=\"services.localhost\" requiressl=\"no\">
<bind address=\"127.0.0.1\" port=\"$link_port\" type=\"servers\">
<link name=\"services.localhost\" ipaddr=\"127.0.0.1\" port=\"$link_port\" allowmask=\"127.0.0.1\"
    sendpass=\"$IRC_LINK_PASSWORD\" recvpass=\"$IRC_LINK_PASSWORD\" timeout=\"10\">
<uline server=\"services.localhost\" silent=\"yes\">"
    fi
    cat >"$base/inspircd.conf" <<CONF
<server name="$name" description="Chatty test IRC server" network="ChattyTest" id="$sid">
<admin name="Chatty tests" nick="chatty" email="chatty@localhost">
<path configdir="$base" datadir="$base/data" logdir="$base/logs" moduledir="/usr/lib/inspircd/modules">
<pid file="$base/inspircd.pid">
<bind address="127.0.0.1" port="$port" type="clients">
$tls
<connect name="loopback" allow="127.0.0.1" maxchans="500" timeout="20" pingfreq="2m"
    hardsendq="16M" softsendq="1M" recvq="64K" threshold="1000000" commandrate="100000000"
    fakelag="no" localmax="10000" globalmax="10000" maxconnwarn="no" resolvehostnames="no"
    useident="no" limit="10000" uniqueusername="no">
<cidr ipv4clone="32" ipv6clone="128">
<files motd="$base/motd.txt">
<dns timeout="1">
<options defaultmodes="ntH 5000:1d" syntaxhints="no" casemapping="ascii" hostintopic="no"
    pingwarning="15" serverpingfreq="1m" prefixquit="" prefixpart="" suffixpart="">
<performance netbuffersize="10240" somaxconn="128" softlimit="10000" clonesonconnect="no"
    quietbursts="yes">
<security hideulines="no" flatlinks="no" hidesplits="no" maxtargets="20" genericoper="no"
    announceinvites="dynamic" restrictbannedusers="yes">
<limits maxaway="200" maxchan="64" maxhost="64" maxident="10" maxkick="300" maxmodes="20"
    maxnick="30" maxquit="300" maxreal="130" maxtopic="330">
<whowas groupsize="10" maxgroups="1000" maxkeep="1h">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$base/logs/ircd.log">
<module name="cap">
<module name="ircv3">
<module name="ircv3_servertime">
<module name="ircv3_msgid">
<module name="ircv3_echomessage">
<module name="ircv3_batch">
<module name="ircv3_labeledresponse">
<module name="ircv3_ctctags">
<module name="ircv3_accounttag">
<module name="ircv3_capnotify">
<module name="chanhistory">
<chanhistory bots="yes" enableumode="no" maxlines="5000" prefixmsg="yes">
$link
CONF
}

# Writes BASE/ctl: `ctl start|stop|restart` for the InspIRCd configured in BASE, waiting for its
# PORT (start) or for its exit (stop).
write_inspircd_ctl() {
    local base=$1 port=$2
    cat >"$base/ctl" <<SH
#!/usr/bin/env bash
# Starts, stops or restarts the test InspIRCd in $base (for tests that restart the server).
set -euo pipefail
stop() {
    local pid i
    [[ -s "$base/inspircd.pid" ]] || return 0
    pid=\$(cat "$base/inspircd.pid")
    kill -TERM "\$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "\$pid" 2>/dev/null || [[ \$(ps -o stat= -p "\$pid" 2>/dev/null) == Z* ]]; then
            rm -f "$base/inspircd.pid"
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "\$pid" 2>/dev/null || true
    rm -f "$base/inspircd.pid"
}
start() {
    local i
    # In its own directory, without core dumps (see start_irc_servers).
    (cd "$base" && ulimit -c 0 && exec inspircd --nofork --runasroot --config "$base/inspircd.conf" \
        </dev/null >>"$base/stdout.log" 2>&1) &
    for ((i = 0; i < 300; i++)); do
        if [[ -s "$base/inspircd.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "inspircd in $base did not listen on $port within 15 s" >&2
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

# Writes Atheme's config and its database with the pool accounts (plain-text passwords: no
# crypto module is loaded, test accounts only).
write_atheme_config() {
    local base=$1 i user now
    mkdir -p "$base/data"
    now=$(date +%s)
    {
        echo 'DBV 12'
        echo 'CF +AFORaefhiorstv'
        for ((i = 0; i < IRC_POOL_SIZE; i++)); do
            user=$(printf 'i%02d' "$i")
            printf 'MU AAAAAA%03d %s secret-%s %s@localhost %s %s + default\n' \
                "$i" "$user" "$user" "$user" "$now" "$now"
            printf 'MN %s %s %s %s\n' "$user" "$user" "$now" "$now"
        done
    } >"$base/data/services.db"
    cp /etc/atheme/atheme.motd "$base/atheme.motd" 2>/dev/null || echo 'Chatty test services' >"$base/atheme.motd"
    cat >"$base/atheme.conf" <<CONF
loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/help";
loadmodule "modules/nickserv/identify";
loadmodule "modules/nickserv/info";
loadmodule "modules/nickserv/logout";
loadmodule "modules/nickserv/status";
loadmodule "modules/nickserv/ghost";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
serverinfo {
    name = "services.localhost";
    desc = "Chatty test services";
    numeric = "0SV";
    recontime = 1;
    netname = "ChattyTest";
    hidehostsuffix = "users.localhost";
    adminname = "Chatty tests";
    adminemail = "chatty@localhost";
    registeremail = "chatty@localhost";
    mta = "/bin/false";
    loglevel = { error; info; admin; network; };
    maxlogins = 100;
    maxusers = 100;
    mdlimit = 30;
    emaillimit = 10;
    emailtime = 300;
    auth = none;
    casemapping = ascii;
};
uplink "irc.localhost" {
    host = "127.0.0.1";
    port = $IRC_LINK_PORT;
    send_password = "$IRC_LINK_PASSWORD";
    receive_password = "$IRC_LINK_PASSWORD";
};
nickserv {
    nick = "NickServ";
    user = "NickServ";
    host = "services.localhost";
    real = "Nickname Services";
    maxnicks = 5;
    expire = 0;
};
saslserv {
    nick = "SaslServ";
    user = "SaslServ";
    host = "services.localhost";
    real = "SASL Authentication Agent";
};
general {
    chan = "#services";
    verbose_wallops;
    join_chans;
    leave_chans;
    uflags = { hidemail; };
    cflags = { verbose; };
    flood_msgs = 0;
    flood_time = 0;
    ratelimit_uses = 0;
    ratelimit_period = 0;
    kline_time = 1;
    commit_interval = 5;
    default_clone_allowed = 10000;
    default_clone_warn = 10000;
};
CONF
}

# Writes ngircd's config in BASE for PORT.
write_ngircd_config() {
    local base=$1 port=$2
    mkdir -p "$base"
    printf 'Chatty test IRC server (ngircd)\n' >"$base/motd.txt"
    cat >"$base/ngircd.conf" <<CONF
[Global]
    Name = ngircd.localhost
    Info = Chatty test IRC server (ngircd)
    Listen = 127.0.0.1
    Ports = $port
    MotdFile = $base/motd.txt
    AdminInfo1 = Chatty tests
    AdminInfo2 = loopback
    AdminEMail = chatty@localhost
[Limits]
    MaxConnectionsIP = 0
    MaxJoins = 0
    ConnectRetry = 60
    PingTimeout = 120
    PongTimeout = 20
[Options]
    DNS = no
    Ident = no
    PAM = no
    SyslogFacility = local5
CONF
}

start_irc_servers() {
    local base="$STATE_DIR/irc" port pid atheme_pid i
    make_test_ca
    for port in $IRC_PORT $IRC_TLS_PORT $IRC_LINK_PORT $IRC_RESTART_PORT $NGIRCD_PORT; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "something listens on 127.0.0.1:$port already (a stale test IRC server?)"
        fi
    done
    mkdir -p "$base"

    # InspIRCd, with its port for Atheme.
    write_inspircd_config "$base/inspircd" irc.localhost 1IR "$IRC_PORT" "$IRC_TLS_PORT" "$IRC_LINK_PORT"
    # InspIRCd 3.15 with ssl_gnutls crashes (SIGSEGV) as it exits on SIGTERM, after it has closed
    # every connection: it runs in its own directory without core dumps, and is disowned so that
    # the shell does not report the crash when the clean-up stops it.
    (cd "$base/inspircd" && ulimit -c 0 && exec inspircd --nofork --runasroot \
        --config "$base/inspircd/inspircd.conf" </dev/null >"$base/inspircd/stdout.log" 2>&1) &
    pid=$!
    disown "$pid"
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of inspircd log:' >&2; tail -n 30 '$base/inspircd/stdout.log' '$base/inspircd/logs/ircd.log' >&2; }")
    CLEANUPS+=("stop_pid $pid")

    # ngircd, meanwhile.
    write_ngircd_config "$base/ngircd" "$NGIRCD_PORT"
    ngircd --nodaemon --config "$base/ngircd/ngircd.conf" </dev/null >"$base/ngircd/stdout.log" 2>&1 &
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of ngircd log:' >&2; tail -n 30 '$base/ngircd/stdout.log' >&2; }")
    CLEANUPS+=("stop_pid $!")

    # The restartable InspIRCd (no services), meanwhile.
    write_inspircd_config "$base/inspircd-r" irc-r.localhost 2IR "$IRC_RESTART_PORT" 0 0
    write_inspircd_ctl "$base/inspircd-r" "$IRC_RESTART_PORT"
    CLEANUPS+=("'$base/inspircd-r/ctl' stop")
    "$base/inspircd-r/ctl" start ||
        fail "the restartable inspircd did not start: $(tail -n 20 "$base/inspircd-r/stdout.log" 2>/dev/null)"

    wait_for_port "$IRC_LINK_PORT" "inspircd (server link)"
    kill -0 "$pid" 2>/dev/null || fail "inspircd exited at start: $(tail -n 20 "$base/inspircd/stdout.log")"

    # Atheme links to InspIRCd; SASL is offered once it has.
    write_atheme_config "$base/atheme"
    atheme-services -n -c "$base/atheme/atheme.conf" -D "$base/atheme/data" \
        -l "$base/atheme/atheme.log" -p "$base/atheme/atheme.pid" </dev/null \
        >"$base/atheme/stdout.log" 2>&1 &
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of atheme log:' >&2; tail -n 30 '$base/atheme/atheme.log' >&2; }")
    atheme_pid=$!
    CLEANUPS+=("stop_pid $atheme_pid")
    for ((i = 0; i < 300; i++)); do
        grep -q 'finished synching' "$base/atheme/atheme.log" 2>/dev/null && break
        kill -0 "$atheme_pid" 2>/dev/null || fail "atheme exited at start: $(tail -n 20 "$base/atheme/atheme.log")"
        sleep 0.05
    done
    grep -q 'finished synching' "$base/atheme/atheme.log" ||
        fail "atheme did not link to inspircd within 15 s: $(tail -n 20 "$base/atheme/atheme.log")"
    wait_for_port "$IRC_PORT" inspircd
    wait_for_port "$IRC_TLS_PORT" "inspircd (TLS)"
    wait_for_port "$NGIRCD_PORT" ngircd

    export CHATTY_TEST_IRC_HOST=127.0.0.1
    export CHATTY_TEST_IRC_PORT=$IRC_PORT
    export CHATTY_TEST_IRC_TLS_PORT=$IRC_TLS_PORT
    export CHATTY_TEST_NGIRCD_PORT=$NGIRCD_PORT
    export CHATTY_TEST_IRC_RESTART_PORT=$IRC_RESTART_PORT
    export CHATTY_TEST_IRC_RESTART_CTL="$base/inspircd-r/ctl"
    CHATTY_TEST_IRC_ACCOUNTS=$(for ((i = 0; i < IRC_POOL_SIZE; i++)); do printf 'i%02d:secret-i%02d ' "$i" "$i"; done)
    export CHATTY_TEST_IRC_ACCOUNTS=${CHATTY_TEST_IRC_ACCOUNTS% }
    echo "inspircd (pid $pid) on 127.0.0.1:$IRC_PORT (plain), :$IRC_TLS_PORT (TLS), SASL through atheme; log: $base/inspircd/logs/ircd.log"
    echo "restartable inspircd on 127.0.0.1:$IRC_RESTART_PORT; control: $base/inspircd-r/ctl"
    echo "ngircd on 127.0.0.1:$NGIRCD_PORT"
}

SERVER_INSTALLERS+=(install_irc_servers)
SERVER_STARTERS+=(start_irc_servers)
SERVER_ENV+=(CHATTY_TEST_IRC_HOST CHATTY_TEST_IRC_PORT CHATTY_TEST_IRC_TLS_PORT
    CHATTY_TEST_NGIRCD_PORT CHATTY_TEST_IRC_ACCOUNTS CHATTY_TEST_IRC_RESTART_PORT
    CHATTY_TEST_IRC_RESTART_CTL)
