# Throwaway Dovecot 2.3 IMAP server for tests. Source this file, then:
#   start_dovecot   # exports OMNICO_TEST_IMAP_HOST/PORT/USER/PASSWORD and OMNICO_TEST_DOVECOT_DIR
#   stop_dovecot
# Plain IMAP on a free loopback port, no TLS, one passwd-file user, Maildir in a temp dir.
# Works as root (mail owned by "nobody") and as an ordinary user (mail owned by that user).

_dovecot_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_dovecot() {
    local bin="${DOVECOT_BIN:-$(command -v dovecot || echo /usr/sbin/dovecot)}"
    if [ ! -x "$bin" ]; then
        echo "dovecot not found (install dovecot-imapd)" >&2
        return 1
    fi
    local dir port user password mail_user uid gid internal_user login_user
    dir="$(mktemp -d "${TMPDIR:-/tmp}/omnico-dovecot.XXXXXX")"
    port="$(_dovecot_free_port)"
    user="omnico"
    password="omnico-test-$(date +%s)-$$"
    if [ "$(id -u)" = "0" ]; then
        mail_user="nobody"
        internal_user="dovecot"
        login_user="dovenull"
        id dovecot >/dev/null 2>&1 || internal_user="nobody"
        id dovenull >/dev/null 2>&1 || login_user="nobody"
    else
        mail_user="$(id -un)"
        internal_user="$mail_user"
        login_user="$mail_user"
    fi
    uid="$(id -u "$mail_user")"
    gid="$(id -g "$mail_user")"
    chmod 755 "$dir"
    mkdir -p "$dir/run" "$dir/state" "$dir/mail"
    chown "$uid:$gid" "$dir/mail"
    printf '%s:{PLAIN}%s::::::\n' "$user" "$password" >"$dir/passwd"
    chmod 644 "$dir/passwd"
    cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
instance_name = omnico-test-$port
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $internal_user
default_login_user = $login_user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
mail_location = maildir:$dir/mail/%n
mail_fsync = never
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
CONF
    # Its own stdio goes to a file: a daemon holding a caller's pipe would make it wait forever.
    if ! "$bin" -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.out" 2>&1; then
        echo "dovecot failed to start; log: $dir/dovecot.log" >&2
        cat "$dir/dovecot.log" >&2 2>/dev/null
        return 1
    fi
    local i
    for i in $(seq 1 50); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    export OMNICO_TEST_DOVECOT_DIR="$dir"
    export OMNICO_TEST_IMAP_HOST="127.0.0.1"
    export OMNICO_TEST_IMAP_PORT="$port"
    export OMNICO_TEST_IMAP_USER="$user"
    export OMNICO_TEST_IMAP_PASSWORD="$password"
}

stop_dovecot() {
    local dir="${1:-${OMNICO_TEST_DOVECOT_DIR:-}}"
    [ -n "$dir" ] && [ -f "$dir/dovecot.conf" ] || return 0
    doveadm -c "$dir/dovecot.conf" stop >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
        [ -e "$dir/run/master.pid" ] || break
        sleep 0.1
    done
    rm -rf "$dir"
    unset OMNICO_TEST_DOVECOT_DIR OMNICO_TEST_IMAP_HOST OMNICO_TEST_IMAP_PORT \
        OMNICO_TEST_IMAP_USER OMNICO_TEST_IMAP_PASSWORD
}
