# shellcheck shell=bash
# Mail test servers for chatty-email, sourced by scripts/lib/servers.sh (see README.md here).
#
# - Dovecot 2.3 (IMAP, POP3, LMTP, SASL for Postfix) on 127.0.0.1: IMAP 10143 (STARTTLS offered,
#   plaintext login allowed), IMAPS 10993 (implicit TLS), POP3 10110 (STLS offered), POP3S 10995.
# - Postfix 3.7 delivering into Dovecot over LMTP: 10587 submission (STARTTLS offered, AUTH
#   through Dovecot), 10465 submissions (implicit TLS, AUTH), 10025 plain SMTP without AUTH (for
#   the plaintext opt-in test; it also takes mail while Dovecot, and so AUTH, is down).
# - Mail domain `localhost`; a pool of accounts m00…m39 (password secret-m00, …) for tests that
#   run in parallel (see chatty-email/tests/common). `nobody@localhost` is refused at RCPT
#   (550 5.1.1); any address at `bounce.localhost` is accepted and then bounced by Postfix, which
#   sends a real DSN (RFC 3464) back to the sender's mailbox.
# - A second Dovecot ("restartable": IMAP 10144, POP3 10111, STARTTLS/STLS offered) serves the
#   same mailboxes; its control script, exported as CHATTY_TEST_MAIL_DOVECOT_CTL, stops and
#   starts it (`stop`, `start`, `restart`) for the test that restarts the server mid-stream,
#   without disturbing the tests that run at the same time on the main instance.
# All state lives under "$STATE_DIR/mail"; TLS uses the shared test CA (make_test_ca).

# CHATTY_TEST_MAIL_PORT_OFFSET (default 0) moves every port, so that a second set of servers (one
# developer's next to another's) can run on the same machine.
MAIL_PORT_OFFSET=${CHATTY_TEST_MAIL_PORT_OFFSET:-0}
MAIL_IMAP_PORT=$((10143 + MAIL_PORT_OFFSET))
MAIL_IMAPS_PORT=$((10993 + MAIL_PORT_OFFSET))
MAIL_POP3_PORT=$((10110 + MAIL_PORT_OFFSET))
MAIL_POP3S_PORT=$((10995 + MAIL_PORT_OFFSET))
MAIL_SUBMISSION_PORT=$((10587 + MAIL_PORT_OFFSET))
MAIL_SUBMISSIONS_PORT=$((10465 + MAIL_PORT_OFFSET))
MAIL_SMTP_PLAIN_PORT=$((10025 + MAIL_PORT_OFFSET))
MAIL_RESTART_IMAP_PORT=$((10144 + MAIL_PORT_OFFSET))
MAIL_RESTART_POP3_PORT=$((10111 + MAIL_PORT_OFFSET))
MAIL_POOL_SIZE=40

install_mail_servers() {
    local missing=()
    command -v dovecot >/dev/null || missing+=(dovecot-imapd dovecot-pop3d dovecot-lmtpd)
    [[ -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/pop3 && -x /usr/lib/dovecot/lmtp ]] ||
        missing+=(dovecot-imapd dovecot-pop3d dovecot-lmtpd)
    command -v postfix >/dev/null || missing+=(postfix)
    if [[ ${#missing[@]} -gt 0 ]]; then
        # Sorted and unique: dovecot packages may be listed twice.
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        apt_install "${missing[@]}"
    else
        echo "nothing to install: dovecot and postfix are there"
    fi
}

# Writes one Dovecot instance's config and its control script "$base/<instance>-ctl"
# (stop|start|restart). Arguments: base, run dir, instance name, protocols, IMAP, IMAPS, POP3 and
# POP3S ports (0: none). The main instance also serves LMTP (for Postfix) and SASL (for Postfix's
# AUTH); both instances share the users and the mailboxes.
write_dovecot_instance() {
    local base=$1 run=$2 name=$3 protocols=$4 imap=$5 imaps=$6 pop3=$7 pop3s=$8 extra='' sockets=''
    mkdir -p "$base/$name/state" "$run"
    if [[ $protocols == *lmtp* ]]; then
        extra='service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}'
        sockets="'$run/lmtp' '$run/auth-postfix'"
    fi
    cat >"$base/$name/dovecot.conf" <<CONF
base_dir = $run
state_dir = $base/$name/state
instance_name = chatty-$name
log_path = $base/$name/dovecot.log
listen = 127.0.0.1
protocols = $protocols
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = scheme=PLAIN $base/users.passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$base/home/%n
}
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <$STATE_DIR/tls/server.crt
ssl_key = <$STATE_DIR/tls/server.key
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = $pop3s
    ssl = yes
  }
}
# No growing penalty per IP after failed logins (Dovecot's anvil): tests log in with wrong
# passwords on purpose, all from 127.0.0.1, and the penalty (2, 4, 8 up to 15 s) held up every
# login after them, so a test run twice on one server timed out. A failed login still waits 2 s.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
$extra
CONF
    cat >"$base/$name-ctl" <<CTL
#!/usr/bin/env bash
# Stops and starts the test Dovecot "$name": $name-ctl stop|start|restart
set -euo pipefail
conf='$base/$name/dovecot.conf'
pidfile='$run/master.pid'
stop() {
    [[ -s \$pidfile ]] || return 0
    local pid i children
    pid=\$(cat "\$pidfile")
    # The master's children, taken before it goes: client processes (imap, pop3) outlive a
    # stopped master otherwise, and a restart would not drop their connections.
    children=\$(ps -o pid= --ppid "\$pid" 2>/dev/null || true)
    kill -TERM "\$pid" 2>/dev/null || { rm -f "\$pidfile"; return 0; }
    for child in \$children; do
        kill -TERM "\$child" 2>/dev/null || true
    done
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "\$pid" 2>/dev/null || [[ \$(ps -o stat= -p "\$pid" 2>/dev/null) == Z* ]]; then
            rm -f "\$pidfile"
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "\$pid" 2>/dev/null || true
    rm -f "\$pidfile"
}
start() {
    local port socket i
    # Detached from the caller's output: the daemon would otherwise hold its pipes open.
    dovecot -c "\$conf" </dev/null >/dev/null 2>&1
    for port in $imap $imaps $pop3 $pop3s; do
        [[ \$port -ne 0 ]] || continue
        for ((i = 0; i < 300; i++)); do
            (exec 3<>"/dev/tcp/127.0.0.1/\$port") 2>/dev/null && break
            sleep 0.05
        done
    done
    for socket in $sockets; do
        for ((i = 0; i < 300; i++)); do
            [[ -S \$socket ]] && break
            sleep 0.05
        done
        [[ -S \$socket ]] || { echo "$name-ctl: no \$socket; see $base/$name/dovecot.log" >&2; return 1; }
    done
}
case \${1:-} in
    stop) stop ;;
    start) start ;;
    restart) stop; start ;;
    *) echo "usage: \$0 stop|start|restart" >&2; exit 2 ;;
esac
CTL
    chmod 755 "$base/$name-ctl"
}

# Writes the users and both Dovecot instances.
configure_dovecot() {
    local base=$1 run=$2 user i
    mkdir -p "$base/home"
    chown nobody:nogroup "$base/home"
    : >"$base/users.passwd"
    : >"$base/postfix/etc/recipients"
    for ((i = 0; i < MAIL_POOL_SIZE; i++)); do
        user=$(printf 'm%02d' "$i")
        printf '%s:{PLAIN}secret-%s\n' "$user" "$user" >>"$base/users.passwd"
        printf '%s ok\n' "$user" >>"$base/postfix/etc/recipients"
    done
    write_dovecot_instance "$base" "$run" dovecot "imap pop3 lmtp" \
        "$MAIL_IMAP_PORT" "$MAIL_IMAPS_PORT" "$MAIL_POP3_PORT" "$MAIL_POP3S_PORT"
    write_dovecot_instance "$base" "$run/r" restartable "imap pop3" \
        "$MAIL_RESTART_IMAP_PORT" 0 "$MAIL_RESTART_POP3_PORT" 0
}

# Writes the Postfix config (main.cf, master.cf, maps).
configure_postfix() {
    local base=$1 run=$2 etc="$1/postfix/etc" spool="$1/postfix/spool"
    mkdir -p "$spool" "$base/postfix/data"
    chown postfix "$base/postfix/data"
    # Accepted at RCPT (a relay domain without a recipient map), then handed to Dovecot's LMTP,
    # which has no such users and refuses them: Postfix bounces the mail with a DSN to the sender.
    printf 'bounce.localhost lmtp:unix:%s/lmtp\n' "$run" >"$etc/transport"
    cat >"$etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $spool
data_directory = $base/postfix/data
maillog_file = $base/postfix/maillog
maillog_file_prefixes = $base/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost
mydomain = localhost
myorigin = localhost
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
relay_domains = bounce.localhost
transport_maps = texthash:$etc/transport
default_transport = error:outbound mail is disabled in tests
smtp_dns_support_level = disabled
biff = no
notify_classes =
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
service_throttle_time = 1s
local_transport = lmtp:unix:$run/lmtp
# One delivery at a time into Dovecot: mails arrive in the order they were accepted.
lmtp_destination_concurrency_limit = 1
local_recipient_maps = texthash:$etc/recipients
alias_maps =
alias_database =
smtpd_tls_cert_file = $STATE_DIR/tls/server.crt
smtpd_tls_key_file = $STATE_DIR/tls/server.key
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = no
smtpd_sasl_type = dovecot
smtpd_sasl_path = $run/auth-postfix
smtpd_tls_auth_only = no
CONF
    cat >"$etc/master.cf" <<CONF
127.0.0.1:$MAIL_SMTP_PLAIN_PORT inet n - n - - smtpd
127.0.0.1:$MAIL_SUBMISSION_PORT inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes
127.0.0.1:$MAIL_SUBMISSIONS_PORT inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup             unix  n       -      n      60     1       pickup
cleanup            unix  n       -      n      -      0       cleanup
qmgr               unix  n       -      n      300    1       qmgr
tlsmgr             unix  -       -      n      1000?  1       tlsmgr
rewrite            unix  -       -      n      -      -       trivial-rewrite
bounce             unix  -       -      n      -      0       bounce
defer              unix  -       -      n      -      0       bounce
trace              unix  -       -      n      -      0       bounce
verify             unix  -       -      n      -      1       verify
flush              unix  n       -      n      1000?  0       flush
proxymap           unix  -       -      n      -      -       proxymap
showq              unix  n       -      n      -      -       showq
error              unix  -       -      n      -      -       error
retry              unix  -       -      n      -      -       error
discard            unix  -       -      n      -      -       discard
lmtp               unix  -       -      n      -      -       lmtp
anvil              unix  -       -      n      -      1       anvil
scache             unix  -       -      n      -      1       scache
postlog            unix-dgram n  -      n      -      1       postlogd
CONF
}

start_mail_servers() {
    local base="$STATE_DIR/mail" run port pid
    make_test_ca
    # Dovecot's sockets must stay under 108 bytes (base_dir + /token-login/imap-urlauth).
    run="$base/run"
    if [[ ${#run} -gt 70 ]]; then
        run=$(mktemp -d /tmp/cm.XXXXXX)
        CLEANUPS+=("rm -rf '$run'")
    fi
    # Stale servers from deleted dirs share ports through SO_REUSEPORT (Postfix): refuse to start
    # next to them rather than test against them.
    for port in $MAIL_IMAP_PORT $MAIL_IMAPS_PORT $MAIL_POP3_PORT $MAIL_POP3S_PORT \
        $MAIL_RESTART_IMAP_PORT $MAIL_RESTART_POP3_PORT $MAIL_SUBMISSION_PORT $MAIL_SUBMISSIONS_PORT $MAIL_SMTP_PLAIN_PORT; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "something listens on 127.0.0.1:$port already (a stale test mail server?)"
        fi
    done
    # Dovecot's auth process and Postfix's daemons run as their own users: they must be able to
    # pass through the state directory (mktemp makes it 0700) to their files.
    chmod go+x "$STATE_DIR"
    mkdir -p "$base/postfix/etc"
    chmod 755 "$base"
    configure_dovecot "$base" "$run"
    configure_postfix "$base" "$run"
    # Dovecot first: Postfix's AUTH needs its auth socket.
    CLEANUPS+=("[[ \${status:-0} -eq 0 ]] || { echo '--- end of dovecot.log:' >&2; tail -n 30 '$base/dovecot/dovecot.log' >&2; echo '--- end of postfix maillog:' >&2; tail -n 30 '$base/postfix/maillog' >&2; }")
    CLEANUPS+=("'$base/dovecot-ctl' stop")
    "$base/dovecot-ctl" start || fail "dovecot did not start: $(tail -n 20 "$base/dovecot/dovecot.log" 2>/dev/null)"
    CLEANUPS+=("'$base/restartable-ctl' stop")
    "$base/restartable-ctl" start ||
        fail "the restartable dovecot did not start: $(tail -n 20 "$base/restartable/dovecot.log" 2>/dev/null)"
    postfix -c "$base/postfix/etc" start >/dev/null 2>&1 ||
        fail "postfix did not start: $(tail -n 20 "$base/postfix/maillog" 2>/dev/null)"
    pid=$(tr -d ' ' <"$base/postfix/spool/pid/master.pid")
    CLEANUPS+=("stop_pid $pid")
    wait_for_port "$MAIL_SMTP_PLAIN_PORT" postfix
    wait_for_port "$MAIL_SUBMISSION_PORT" "postfix (submission)"
    wait_for_port "$MAIL_SUBMISSIONS_PORT" "postfix (submissions)"
    export CHATTY_TEST_MAIL_HOST=127.0.0.1
    export CHATTY_TEST_MAIL_DOMAIN=localhost
    export CHATTY_TEST_MAIL_POOL=$MAIL_POOL_SIZE
    export CHATTY_TEST_MAIL_IMAP_PORT=$MAIL_IMAP_PORT
    export CHATTY_TEST_MAIL_IMAPS_PORT=$MAIL_IMAPS_PORT
    export CHATTY_TEST_MAIL_POP3_PORT=$MAIL_POP3_PORT
    export CHATTY_TEST_MAIL_POP3S_PORT=$MAIL_POP3S_PORT
    export CHATTY_TEST_MAIL_SUBMISSION_PORT=$MAIL_SUBMISSION_PORT
    export CHATTY_TEST_MAIL_SUBMISSIONS_PORT=$MAIL_SUBMISSIONS_PORT
    export CHATTY_TEST_MAIL_SMTP_PLAIN_PORT=$MAIL_SMTP_PLAIN_PORT
    export CHATTY_TEST_MAIL_BOUNCE_DOMAIN=bounce.localhost
    export CHATTY_TEST_MAIL_RESTART_IMAP_PORT=$MAIL_RESTART_IMAP_PORT
    export CHATTY_TEST_MAIL_RESTART_POP3_PORT=$MAIL_RESTART_POP3_PORT
    export CHATTY_TEST_MAIL_DOVECOT_CTL="$base/restartable-ctl"
    echo "dovecot on 127.0.0.1:$MAIL_IMAP_PORT (IMAP), :$MAIL_IMAPS_PORT (IMAPS), :$MAIL_POP3_PORT (POP3), :$MAIL_POP3S_PORT (POP3S); log: $base/dovecot/dovecot.log"
    echo "restartable dovecot on 127.0.0.1:$MAIL_RESTART_IMAP_PORT (IMAP), :$MAIL_RESTART_POP3_PORT (POP3); control: $base/restartable-ctl"
    echo "postfix (pid $pid) on 127.0.0.1:$MAIL_SUBMISSION_PORT (submission), :$MAIL_SUBMISSIONS_PORT (implicit TLS), :$MAIL_SMTP_PLAIN_PORT (plain, no AUTH); log: $base/postfix/maillog"
}

SERVER_INSTALLERS+=(install_mail_servers)
SERVER_STARTERS+=(start_mail_servers)
SERVER_ENV+=(CHATTY_TEST_MAIL_HOST CHATTY_TEST_MAIL_DOMAIN CHATTY_TEST_MAIL_POOL
    CHATTY_TEST_MAIL_IMAP_PORT CHATTY_TEST_MAIL_IMAPS_PORT CHATTY_TEST_MAIL_POP3_PORT
    CHATTY_TEST_MAIL_POP3S_PORT CHATTY_TEST_MAIL_SUBMISSION_PORT CHATTY_TEST_MAIL_SUBMISSIONS_PORT
    CHATTY_TEST_MAIL_SMTP_PLAIN_PORT CHATTY_TEST_MAIL_BOUNCE_DOMAIN CHATTY_TEST_MAIL_RESTART_IMAP_PORT
    CHATTY_TEST_MAIL_RESTART_POP3_PORT CHATTY_TEST_MAIL_DOVECOT_CTL)
