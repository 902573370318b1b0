#!/usr/bin/env bash
# The order saga on the path users run: a fresh private PostgreSQL (fsync and synchronous_commit
# on) and RabbitMQ, `distorch serve` in its default configuration (read models and feeds on) with
# bench/workflows deployed, one worker process speaking docs/worker-protocol.md, and the client
# (realpath.py) driving the node over REST + one SSE connection. Prints ONE JSON line (the peer
# harness's shape, plus PostgreSQL transactions per workflow); stops everything it started.
#
# env: N (2000) CONC (50) RUNS (3) VARIANTS (A,B) WARMUP (100) QUIET_WAIT (120 s)
#      WORKER=distorch|python   `distorch worker --echo bench`, or examples/workers/python/worker.py
#      DISTORCH (release binary; default $CARGO_TARGET_DIR/release/distorch)
#      PROFILE=1   load pg_stat_statements and write each run's statements to $BENCH_TMP
#      PERF=1      `perf record -a -g` (cpu-clock) over the client's whole run, to $BENCH_TMP
#      GROW_LOG=EVENTS  grow the log to EVENTS events first (GROW_SEED real workflows, copied)
#      BIN_LABEL (what the binary is, in the JSON) BENCH_TMP (/tmp/distorch-bench) BENCH_NETNS=0
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

# A private network namespace with only loopback, as the peer harness does: no port clashes
# with other runs or servers, nothing leaves the machine.
if [[ ${BENCH_IN_NETNS:-0} != 1 && ${BENCH_NETNS:-1} != 0 ]] && unshare --net true 2>/dev/null; then
  export BENCH_IN_NETNS=1
  exec unshare --net bash -c 'ip link set lo up; exec bash "$0" "$@"' "$0" "$@"
fi

N=${N:-2000}; CONC=${CONC:-50}; RUNS=${RUNS:-3}; VARIANTS=${VARIANTS:-A,B}; WARMUP=${WARMUP:-100}
WORKER=${WORKER:-distorch}
DISTORCH=${DISTORCH:-${CARGO_TARGET_DIR:-$REPO/target}/release/distorch}
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
export BENCH_TMP=${BENCH_TMP:-/tmp/distorch-bench}
W=$BENCH_TMP/run; mkdir -p "$W"
SERVICES=$HERE/services.sh
[[ -x $DISTORCH ]] || { echo "no binary at $DISTORCH (cargo build --release)" >&2; exit 1; }
[[ -x $PYTHON ]] || { echo "no $PYTHON: run bench/install.sh" >&2; exit 1; }
log() { echo "[run $(date +%H:%M:%S)] $*" >&2; }

SERVE_PID=""; WORKER_PID=""; PERF_PID=""
stop_pid() {
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  local i=0
  while (( i < 60 )) && kill -0 "$1" 2>/dev/null; do sleep 0.25; i=$((i + 1)); done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop_pid "$PERF_PID"; stop_pid "$WORKER_PID"; stop_pid "$SERVE_PID"
  "$SERVICES" rabbit-stop || true
  "$SERVICES" pg-stop || true
}
trap cleanup EXIT

[[ ${PROFILE:-0} == 1 ]] && export PG_STAT_STATEMENTS=1
"$SERVICES" pg-start
"$SERVICES" rabbit-start
"$SERVICES" pg-createdb distorch
[[ ${PROFILE:-0} == 1 ]] && "$SERVICES" psql -d distorch -qc "create extension pg_stat_statements"
DB_URL=$("$SERVICES" pg-url distorch)
AMQP=$("$SERVICES" amqp-url)
log "postgres: $("$SERVICES" psql -d distorch -Atc "select 'fsync=' || current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit')")"

start_engine() { # the node, ready, and its worker
  DATABASE_URL=$DB_URL AMQP_URL=$AMQP "$DISTORCH" serve --workflows "$HERE/workflows" >> "$W/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 1 240); do
    curl -sf http://127.0.0.1:8080/health/ready > /dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || { log "serve died"; tail -20 "$W/serve.log" >&2; exit 1; }
    sleep 0.25
  done
  curl -sf http://127.0.0.1:8080/health/ready > /dev/null || { log "serve not ready"; exit 1; }
  case $WORKER in
    distorch) AMQP_URL=$AMQP "$DISTORCH" worker --echo bench >> "$W/worker.log" 2>&1 & ;;
    python) AMQP_URL=$AMQP "$PYTHON" "$REPO/examples/workers/python/worker.py" bench >> "$W/worker.log" 2>&1 & ;;
    *) log "WORKER must be distorch or python"; exit 2 ;;
  esac
  WORKER_PID=$!
}
: > "$W/serve.log"; : > "$W/worker.log"
start_engine

# GROW_LOG=EVENTS: a real history first (GROW_SEED workflows), then copied by SQL until the log
# holds EVENTS events (bench/grow_log.sql), with the node stopped; then the node starts again.
if [[ ${GROW_LOG:-0} != 0 ]]; then
  "$PYTHON" "$HERE/realpath.py" --n "${GROW_SEED:-2000}" --concurrency 50 --runs 1 --variants A \
    --warmup 0 --quiet-wait 0 > /dev/null
  stop_pid "$WORKER_PID"; stop_pid "$SERVE_PID"
  "$SERVICES" psql -d distorch -v target="$GROW_LOG" -f "$HERE/grow_log.sql" >&2
  start_engine
fi

STATEMENTS=()
if [[ ${PROFILE:-0} == 1 ]]; then
  rm -f "$BENCH_TMP/statements.jsonl"; STATEMENTS=(--statements "$BENCH_TMP/statements.jsonl")
fi
if [[ ${PERF:-0} == 1 ]]; then
  perf record -e cpu-clock -F 499 -a -g -o "$BENCH_TMP/perf.data" > "$W/perf.log" 2>&1 &
  PERF_PID=$!
fi
VERS="${BIN_LABEL:-$("$DISTORCH" --version)} ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')); $(postgres --version); rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo '?'); worker=$WORKER"
timeout 3000 "$PYTHON" "$HERE/realpath.py" --url http://127.0.0.1:8080 \
  --n "$N" --concurrency "$CONC" --runs "$RUNS" --variants "$VARIANTS" --warmup "$WARMUP" \
  --quiet-wait "${QUIET_WAIT:-120}" --mode "serve pg+rabbitmq, worker=$WORKER" --extra "$VERS" \
  --pid engine="$SERVE_PID" --pid worker="$WORKER_PID" --pid postgres="$("$SERVICES" pg-pid)" \
  --pid rabbitmq="$("$SERVICES" rabbit-pid)" --pg-url "$DB_URL" "${STATEMENTS[@]}" \
  > "$W/result.json" 2> >(tee "$W/client.log" >&2)
if [[ -n $PERF_PID ]]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; PERF_PID=""; fi
tail -n1 "$W/result.json"
