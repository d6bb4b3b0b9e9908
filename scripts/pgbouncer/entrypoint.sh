#!/bin/sh
# Writes PgBouncer's configuration from the environment and runs it in the foreground.
#   DB_HOST, DB_PORT (5432), DB_NAME (omnico), DB_USER, DB_PASSWORD   the PostgreSQL server
#   PGBOUNCER_POOL_SIZE (80)       server connections, at most (default_pool_size and
#                                  max_db_connections): keep it under max_connections - 3
#   PGBOUNCER_MAX_CLIENT_CONN (500) client connections: Omnico's pools, all of them
# Transaction pooling: Omnico runs with OMNICO_DB_PGBOUNCER=1 (no prepared statements or
# server-side cursors across transactions; README, "Connection budget").
set -eu
: "${DB_HOST:?}" "${DB_USER:?}" "${DB_PASSWORD:?}"
dir="${PGBOUNCER_DIR:-/tmp/pgbouncer}"
mkdir -p "$dir"
umask 077
# SCRAM both ways: clients give PgBouncer this password, PgBouncer gives it to PostgreSQL.
printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" >"$dir/userlist.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
${DB_NAME:-omnico} = host=$DB_HOST port=${DB_PORT:-5432} dbname=${DB_NAME:-omnico}
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = ${PGBOUNCER_POOL_SIZE:-80}
max_db_connections = ${PGBOUNCER_POOL_SIZE:-80}
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-500}
ignore_startup_parameters = extra_float_digits,options
tcp_keepalive = 1
logfile =
pidfile =
INI
exec pgbouncer "$dir/pgbouncer.ini"
