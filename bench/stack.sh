# Start a full Omnico stack for benchmarks: throwaway PostgreSQL, Redis and Dovecot, migrated
# and seeded, the web server as deployed (uvicorn, OMNICO_BENCH_WEB_WORKERS processes) and one
# Celery worker. Source it from bench/run; it defines start_stack/stop_stack.
# shellcheck shell=bash

# scripts/lib/services.sh starts PostgreSQL for tests (fsync, synchronous_commit and
# full_page_writes off). The benchmark restarts it durable, as in production: every commit is
# flushed to disk. OMNICO_BENCH_PG_DURABLE=0 keeps the test settings.
_postgres_production_like() {
    local work="$1"
    [ "${OMNICO_BENCH_PG_DURABLE:-1}" = 1 ] || return 0
    _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$work/pg/server.log" -w -t 60 -m fast restart \
        -o "-k $work/pg -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200 \
-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=256MB \
-c effective_cache_size=1GB -c work_mem=8MB -c random_page_cost=1.1" >/dev/null ||
        die "PostgreSQL did not restart"
    log "PostgreSQL restarted durable (fsync, synchronous_commit, full_page_writes on)"
}

# Cluster mode (OMNICO_BENCH_CLUSTER="web=3,workers=2", or `bench/run NAME --cluster`): Omnico as
# it runs on several hosts, as separate process groups on loopback: N uvicorn processes of one
# worker each, every one on its own port (BENCH_URLS lists them; the benches spread their
# clients over them round robin, no balancer in between), M Celery workers, one beat (the
# Redis lock of omnico/beat.py), PostgreSQL through PgBouncer in transaction pooling
# (OMNICO_DB_PGBOUNCER=1), one Redis.
_cluster_value() {  # _cluster_value KEY DEFAULT: from OMNICO_BENCH_CLUSTER "web=3,workers=2"
    local item
    for item in ${OMNICO_BENCH_CLUSTER//,/ }; do
        [ "${item%%=*}" = "$1" ] && { echo "${item#*=}"; return 0; }
    done
    echo "$2"
}

# PgBouncer (Debian package pgbouncer) in front of the bench's PostgreSQL: transaction pooling,
# OMNICO_BENCH_PGBOUNCER_POOL server connections (40), clients' user ignored (auth_type any:
# loopback only, like the throwaway server's trust). Exports PGBOUNCER_DIR and PGBOUNCER_URL.
start_pgbouncer() {
    local work="$1" binary port i
    binary="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
    [ -x "$binary" ] || die "pgbouncer not found: apt-get install pgbouncer"
    port="$(free_port)"
    PGBOUNCER_DIR="$work/pgbouncer"
    mkdir -p "$PGBOUNCER_DIR"
    cat >"$PGBOUNCER_DIR/pgbouncer.ini" <<INI
[databases]
omnico = host=127.0.0.1 port=$PG_PORT dbname=omnico user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = ${OMNICO_BENCH_PGBOUNCER_POOL:-40}
max_db_connections = ${OMNICO_BENCH_PGBOUNCER_POOL:-40}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
logfile = $PGBOUNCER_DIR/pgbouncer.log
pidfile = $PGBOUNCER_DIR/pgbouncer.pid
INI
    # PgBouncer will not run as root.
    [ "$(id -u)" = 0 ] && chown -R postgres: "$PGBOUNCER_DIR"
    _pg_as "$binary" -d "$PGBOUNCER_DIR/pgbouncer.ini" || die "pgbouncer did not start"
    for i in $(seq 1 50); do
        "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -d omnico && break
        [ "$i" = 50 ] && { cat "$PGBOUNCER_DIR/pgbouncer.log" >&2; die "pgbouncer does not answer"; }
        sleep 0.1
    done
    export PGBOUNCER_URL="postgres://postgres@127.0.0.1:$port/omnico"
    log "PgBouncer $("$binary" --version | head -1 | awk '{print $NF}') on 127.0.0.1:$port (transaction pooling)"
}

stop_pgbouncer() {
    [ -n "${PGBOUNCER_DIR:-}" ] && [ -f "$PGBOUNCER_DIR/pgbouncer.pid" ] || return 0
    kill "$(cat "$PGBOUNCER_DIR/pgbouncer.pid")" 2>/dev/null || true
    PGBOUNCER_DIR=""
}

_wait_healthy() {
    local url="$1" log_file="$2" i
    for i in $(seq 1 150); do
        curl -fs "$url/healthz" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cat "$log_file" >&2
    die "web server $url did not start"
}

start_cluster() {
    local work="$1" webs workers n port
    webs="$(_cluster_value web 3)"
    workers="$(_cluster_value workers 2)"
    start_pgbouncer "$work"
    # Everything but migrate/seed goes through PgBouncer, the bench client too.
    export DATABASE_URL="$PGBOUNCER_URL" OMNICO_DB_PGBOUNCER=1
    # Every worker's children may work the ingest backlog (settings.OMNICO_INGEST_SLOTS).
    export OMNICO_INGEST_SLOTS="${OMNICO_INGEST_SLOTS:-$((workers * ${OMNICO_BENCH_CELERY_CONCURRENCY:-4}))}"
    BENCH_URLS="" WEB_PIDS="" WORKER_PIDS=""
    for n in $(seq 1 "$webs"); do
        port="$(free_port)"
        setsid uv run --frozen python manage.py serve --no-collectstatic --host 127.0.0.1 \
            --port "$port" --workers 1 --log-level warning >"$work/web$n.log" 2>&1 &
        WEB_PIDS="$WEB_PIDS${WEB_PIDS:+ }$!"
        BENCH_URLS="$BENCH_URLS${BENCH_URLS:+,}http://127.0.0.1:$port"
    done
    for n in $(seq 1 "$workers"); do
        setsid uv run --frozen celery -A omnico worker --loglevel WARNING -n "bench$n@%h" \
            --concurrency "${OMNICO_BENCH_CELERY_CONCURRENCY:-4}" \
            --pool "${OMNICO_BENCH_POOL:-prefork}" >"$work/worker$n.log" 2>&1 &
        WORKER_PIDS="$WORKER_PIDS${WORKER_PIDS:+ }$!"
    done
    setsid uv run --frozen celery -A omnico beat --loglevel WARNING \
        --schedule "$work/celerybeat-schedule" >"$work/beat.log" 2>&1 &
    BEAT_PID=$!
    WEB_PID="${WEB_PIDS%% *}" WORKER_PID="${WORKER_PIDS%% *}"
    BENCH_URL="${BENCH_URLS%%,*}"
    export BENCH_URL BENCH_URLS WEB_PIDS WORKER_PIDS BEAT_PID
    for url in ${BENCH_URLS//,/ }; do _wait_healthy "$url" "$work/web1.log"; done
    log "cluster up: $webs web ($BENCH_URLS), $workers workers, 1 beat, PgBouncer, Redis"
}

start_stack() {
    local work="$1"
    start_postgres "$work"
    _postgres_production_like "$work"
    start_redis "$work"
    # shellcheck source=/dev/null
    . scripts/lib/dovecot.sh
    start_dovecot
    export OMNICO_VAR_DIR="$work/var" DEBUG=0 LOG_LEVEL=WARNING
    export OMNICO_DEMO_PASSWORD="bench-password-1" OMNICO_DEMO_SECRET="bench-secret-1"
    mkdir -p "$OMNICO_VAR_DIR"
    uv run --frozen python manage.py migrate -v0
    uv run --frozen python manage.py seed_demo >/dev/null
    uv run --frozen python manage.py collectstatic --noinput -v0
    if [ -n "${OMNICO_BENCH_CLUSTER:-}" ]; then
        start_cluster "$work"
        return 0
    fi
    BENCH_PORT="$(free_port)"
    export BENCH_URL="http://127.0.0.1:$BENCH_PORT"
    # Each server in its own process group (setsid), so stop_stack ends it with its children.
    # The production command (Procfile, docker-compose.yml): uvicorn with Omnico's websocket
    # protocol (omnico/ws_protocol.py), which the uvicorn command line cannot name.
    setsid uv run --frozen python manage.py serve --no-collectstatic --host 127.0.0.1 \
        --port "$BENCH_PORT" --workers "${OMNICO_BENCH_WEB_WORKERS:-2}" --log-level warning \
        >"$work/web.log" 2>&1 &
    WEB_PID=$!
    # bench/faults.py starts (and kills) its own worker and beat: OMNICO_BENCH_NO_WORKER=1.
    if [ "${OMNICO_BENCH_NO_WORKER:-0}" != 1 ]; then
        setsid uv run --frozen celery -A omnico worker --loglevel WARNING \
            --concurrency "${OMNICO_BENCH_CELERY_CONCURRENCY:-4}" \
            --pool "${OMNICO_BENCH_POOL:-prefork}" >"$work/worker.log" 2>&1 &
        WORKER_PID=$!
    fi
    local i
    # 60 s: serve loads Django before its workers do, and a busy machine doubles that.
    for i in $(seq 1 300); do
        curl -fs "$BENCH_URL/healthz" >/dev/null 2>&1 && break
        [ "$i" = 300 ] && { cat "$work/web.log" >&2; die "web server did not start"; }
        sleep 0.2
    done
    log "stack up: $BENCH_URL (web pid $WEB_PID, worker pid ${WORKER_PID:-none})"
}

_stop_group() {
    local pid="$1" i
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null
}

stop_stack() {
    local pid
    for pid in ${WEB_PIDS:-${WEB_PID:-}} ${WORKER_PIDS:-${WORKER_PID:-}} ${BEAT_PID:-}; do
        _stop_group "$pid"
    done
    WEB_PID="" WORKER_PID="" WEB_PIDS="" WORKER_PIDS="" BEAT_PID=""
    stop_pgbouncer
    [ "$(type -t stop_dovecot)" = function ] && stop_dovecot
    stop_redis
    stop_postgres
}
