# Throwaway PostgreSQL and Redis for the test suite. Source common.sh first, then:
#   start_postgres WORKDIR   # exports DATABASE_URL
#   start_redis WORKDIR      # exports REDIS_URL
#   stop_redis; stop_postgres
# Both listen on a free loopback port and keep all their files under WORKDIR.
# shellcheck shell=bash

# The directory holding initdb/pg_ctl/postgres: OMNICO_PG_BIN, Debian's PostgreSQL 15, the newest
# other Debian PostgreSQL, or whatever pg_ctl is on PATH.
pg_bindir() {
    local dir
    for dir in ${OMNICO_PG_BIN:-} /usr/lib/postgresql/15/bin \
        $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if have pg_ctl && have initdb; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

dovecot_binary() {
    command -v dovecot 2>/dev/null || { [ -x /usr/sbin/dovecot ] && echo /usr/sbin/dovecot; }
}

chromium_binary() {
    command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null ||
        { [ -x /usr/bin/chromium ] && echo /usr/bin/chromium; }
}

# Debian packages whose binaries the full test suite needs and this machine lacks.
missing_test_packages() {
    local missing=()
    pg_bindir >/dev/null || missing+=(postgresql)
    { have redis-server && have redis-cli; } || missing+=(redis-server)
    dovecot_binary >/dev/null || missing+=(dovecot-imapd)
    chromium_binary >/dev/null || missing+=(chromium)
    # tests/omnico/pgbouncer.py: the poll lock behind a real PgBouncer (transaction pooling)
    { have pgbouncer || [ -x /usr/sbin/pgbouncer ]; } || missing+=(pgbouncer)
    echo "${missing[*]}"
}

# Run a PostgreSQL binary as a user it accepts: `postgres` when we are root, else ourselves.
_pg_as() {
    if [ "$(id -u)" = 0 ]; then
        local runuser
        runuser="$(command -v runuser || echo /usr/sbin/runuser)"
        (cd / && "$runuser" -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

start_postgres() {
    local work="$1" bindir
    bindir="$(pg_bindir)" || die "PostgreSQL not found: apt-get install postgresql"
    PG_BINDIR="$bindir"
    PG_DATA="$work/pg/data"
    PG_PORT="$(free_port)"
    mkdir -p "$work/pg"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' system user: apt-get install postgresql"
        chmod 755 "$work"
        chown postgres: "$work/pg"
    fi
    if ! _pg_as "$bindir/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=trust >"$work/pg/initdb.log" 2>&1; then
        cat "$work/pg/initdb.log" >&2
        die "initdb failed"
    fi
    if ! _pg_as "$bindir/pg_ctl" -D "$PG_DATA" -l "$work/pg/server.log" -w -t 60 \
        -o "-k $work/pg -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        cat "$work/pg/server.log" >&2
        die "PostgreSQL did not start"
    fi
    _pg_as "$bindir/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres omnico
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/omnico"
    log "PostgreSQL $("$bindir/postgres" --version | awk '{print $NF}') on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
    [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ] || return 0
    _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    PG_DATA=""
}

start_redis() {
    local work="$1" i
    have redis-server || die "redis-server not found: apt-get install redis-server"
    REDIS_DIR="$work/redis"
    REDIS_PORT="$(free_port)"
    mkdir -p "$REDIS_DIR"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" \
        --logfile "$REDIS_DIR/redis.log" || die "redis-server did not start"
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
        [ "$i" = 100 ] && { cat "$REDIS_DIR/redis.log" >&2; die "Redis does not answer"; }
        sleep 0.1
    done
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    log "Redis on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
    [ -n "${REDIS_PORT:-}" ] || return 0
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 ||
        { [ -f "$REDIS_DIR/redis.pid" ] && kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; }
    REDIS_PORT=""
}
