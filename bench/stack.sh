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
    BENCH_PORT="$(free_port)"
    export BENCH_URL="http://127.0.0.1:$BENCH_PORT"
    # Each server in its own process group (setsid), so stop_stack ends it with its children.
    setsid uv run --frozen uvicorn omnico.asgi:application --host 127.0.0.1 --port "$BENCH_PORT" \
        --workers "${OMNICO_BENCH_WEB_WORKERS:-2}" --no-access-log --log-level warning \
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
    for i in $(seq 1 150); do
        curl -fs "$BENCH_URL/healthz" >/dev/null 2>&1 && break
        [ "$i" = 150 ] && { cat "$work/web.log" >&2; die "web server did not start"; }
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
    _stop_group "${WEB_PID:-}"
    _stop_group "${WORKER_PID:-}"
    WEB_PID="" WORKER_PID=""
    [ "$(type -t stop_dovecot)" = function ] && stop_dovecot
    stop_redis
    stop_postgres
}
