#!/usr/bin/env bash
# DisTorch and Restate on the order saga, alternately in the same hour (the only fair comparison
# on a shared, noisy machine): for each round, A and B at CONC in flight for each of our workers,
# then Restate's, then 1 in flight for each; prints the figures and the ratios ours/Restate.
#
# env: N (1000) CONC (50) WARMUP (50) LAT_N (300) ROUNDS (1) QUIET_WAIT (120)
#      WORKERS ("distorch python") RESTATE (/tmp/peers/restate: a copy of shared/peers, installed
#      with its install.sh) OUT (a new folder under $BENCH_TMP) and bench/run.sh's knobs
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N=${N:-1000}; CONC=${CONC:-50}; WARMUP=${WARMUP:-50}; LAT_N=${LAT_N:-300}; ROUNDS=${ROUNDS:-1}
WORKERS=${WORKERS:-distorch python}
RESTATE=${RESTATE:-/tmp/peers/restate}
export QUIET_WAIT=${QUIET_WAIT:-120}
export BENCH_TMP=${BENCH_TMP:-/tmp/distorch-bench}
OUT=${OUT:-$BENCH_TMP/side-by-side-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
[[ -x $RESTATE/run.sh ]] || { echo "no Restate peer at $RESTATE (copy shared/peers to /tmp/peers, run restate/install.sh)" >&2; exit 1; }
log() { echo "[side-by-side $(date +%H:%M:%S)] $*" >&2; }

ours() { # WORKER KIND ROUND N CONC VARIANTS WARMUP
  log "distorch worker=$1 $2 (N=$4, $5 in flight)"
  WORKER=$1 N=$4 CONC=$5 RUNS=1 VARIANTS=$6 WARMUP=$7 "$HERE/run.sh" > "$OUT/distorch-$1-$2-$3.json" \
    2> "$OUT/distorch-$1-$2-$3.log" || log "FAILED: see $OUT/distorch-$1-$2-$3.log"
}
restate() { # KIND ROUND N CONC VARIANTS WARMUP
  log "restate $1 (N=$3, $4 in flight)"
  # its own scratch folder: the peer's default (/tmp/peerbench) may be in use by others
  BENCH_TMP=$OUT/restate-tmp N=$3 CONC=$4 RUNS=1 VARIANTS=$5 WARMUP=$6 "$RESTATE/run.sh" \
    > "$OUT/restate-$1-$2.json" 2> "$OUT/restate-$1-$2.log" || log "FAILED: see $OUT/restate-$1-$2.log"
}

for round in $(seq 1 "$ROUNDS"); do
  for worker in $WORKERS; do ours "$worker" load "$round" "$N" "$CONC" A,B "$WARMUP"; done
  restate load "$round" "$N" "$CONC" A,B "$WARMUP"
  for worker in $WORKERS; do ours "$worker" latency "$round" "$LAT_N" 1 A 20; done
  restate latency "$round" "$LAT_N" 1 A 20
done
log "results in $OUT"
python3 "$HERE/ratios.py" "$OUT"/*.json
