#!/usr/bin/env bash
# A private PostgreSQL 15 and RabbitMQ for one benchmark run: fresh data folders under
# $BENCH_TMP, loopback only, their own ports, so runs are comparable and the machine's shared
# servers are left alone. The same settings as the peer harness (shared/peers/common):
# fsync and synchronous_commit on, shared_buffers 512 MB, RabbitMQ with no plugins.
#
#   services.sh pg-start | pg-stop | pg-pid | pg-url [DB] | pg-createdb DB | psql ARGS...
#   services.sh rabbit-start | rabbit-stop | rabbit-pid | amqp-url
#
# env: BENCH_TMP (/tmp/distorch-bench), PG_PORT (55433), RABBIT_PORT (15674),
#      PG_STAT_STATEMENTS=1 loads pg_stat_statements (for profiling; off by default)
set -euo pipefail
BENCH_TMP=${BENCH_TMP:-/tmp/distorch-bench}
PG_PORT=${PG_PORT:-55433}
RABBIT_PORT=${RABBIT_PORT:-15674}
PGBIN=${PGBIN:-$(dirname "$(readlink -f "$(command -v postgres || echo /usr/lib/postgresql/15/bin/postgres)")")}
PG_OS_USER=${PG_OS_USER:-postgres}
PG_BASE=$BENCH_TMP/pg
RABBIT_BASE=$BENCH_TMP/rabbitmq

log() { echo "[services $(date +%H:%M:%S)] $*" >&2; }
as_pg() { su -s /bin/bash "$PG_OS_USER" -c "$*"; }

wait_port() { # HOST PORT SECONDS
  local i=0
  while (( i < $3 * 4 )); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.25; i=$((i + 1))
  done
  log "nothing listens on $1:$2 after $3 s"; return 1
}

pg_start() {
  as_pg "test -x $PGBIN/pg_ctl" || { log "PostgreSQL server not installed ($PGBIN)"; exit 1; }
  rm -rf "$PG_BASE"; mkdir -p "$PG_BASE/sock"; chown -R "$PG_OS_USER" "$PG_BASE"
  as_pg "$PGBIN/initdb -D $PG_BASE/data -U postgres --auth=trust -E UTF8 >$PG_BASE/initdb.log 2>&1"
  local preload=""
  [[ ${PG_STAT_STATEMENTS:-0} == 1 ]] && preload="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all"
  cat > "$PG_BASE/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_BASE/sock'
max_connections = 300
shared_buffers = '512MB'
fsync = on
synchronous_commit = on
logging_collector = off
$preload
CONF
  chown "$PG_OS_USER" "$PG_BASE/data/postgresql.auto.conf"
  as_pg "$PGBIN/pg_ctl -D $PG_BASE/data -l $PG_BASE/server.log -w -t 60 start" >&2
}

pg_stop() {
  [[ -f $PG_BASE/data/postmaster.pid ]] || return 0
  as_pg "$PGBIN/pg_ctl -D $PG_BASE/data -m fast -w -t 60 stop" >&2 || true
}

rabbit_env() {
  export RABBITMQ_NODENAME=distorch-bench@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$RABBIT_PORT
  export RABBITMQ_DIST_PORT=$((RABBIT_PORT + 10000))
  export ERL_EPMD_PORT=$((RABBIT_PORT - 1300))
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CONFIG_FILE=$RABBIT_BASE/rabbitmq.conf
  export RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_BASE/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$RABBIT_BASE/mnesia
  export RABBITMQ_LOG_BASE=$RABBIT_BASE/log
  export RABBITMQ_PID_FILE=$RABBIT_BASE/rabbit.pid
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export HOME=$RABBIT_BASE/home
}
RABBIT_BIN=/usr/lib/rabbitmq/bin

rabbit_start() {
  [[ -x $RABBIT_BIN/rabbitmq-server ]] || { log "rabbitmq-server not installed"; exit 1; }
  rabbit_env
  rm -rf "$RABBIT_BASE"; mkdir -p "$RABBIT_BASE/home" "$RABBIT_BASE/log"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\nlog.console = false\nlog.file.level = warning\n' \
    "$RABBIT_PORT" > "$RABBITMQ_CONFIG_FILE"
  echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  "$RABBIT_BIN/rabbitmq-server" > "$RABBIT_BASE/server.out" 2>&1 &
  echo $! > "$RABBIT_BASE/launcher.pid"
  local i
  for i in $(seq 1 120); do
    "$RABBIT_BIN/rabbitmqctl" -q await_startup --timeout 1 >/dev/null 2>&1 && break
    sleep 0.5
  done
  wait_port 127.0.0.1 "$RABBIT_PORT" 30
}

rabbit_stop() {
  rabbit_env
  local pid
  pid=$(cat "$RABBIT_BASE/launcher.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    timeout 60 "$RABBIT_BIN/rabbitmqctl" -q stop >/dev/null 2>&1 || true
    local i=0
    while (( i < 120 )) && kill -0 "$pid" 2>/dev/null; do sleep 0.25; i=$((i + 1)); done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$RABBIT_BASE/launcher.pid"
  timeout 10 epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
}

psql_() { psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

case ${1:-} in
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  pg-pid) head -1 "$PG_BASE/data/postmaster.pid" ;;
  pg-url) echo "postgres://postgres@127.0.0.1:$PG_PORT/${2:-postgres}" ;;
  pg-createdb) psql_ -d postgres -q -c "drop database if exists ${2:?db} with (force)" -c "create database $2" ;;
  psql) shift; psql_ "$@" ;;
  rabbit-start) rabbit_start ;;
  rabbit-stop) rabbit_stop ;;
  rabbit-pid) cat "$RABBIT_BASE/launcher.pid" ;;
  amqp-url) echo "amqp://guest:guest@127.0.0.1:$RABBIT_PORT/%2f" ;;
  *) echo "usage: $0 pg-start|pg-stop|pg-pid|pg-url [DB]|pg-createdb DB|psql ARGS|rabbit-start|rabbit-stop|rabbit-pid|amqp-url" >&2; exit 2 ;;
esac
