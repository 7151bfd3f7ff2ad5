#!/usr/bin/env bash
# Thread scaling of capsim on a many-core machine (the README's "Replications and sweeps in
# parallel" table): one binary, interleaved rounds of 1, 2, 4, 8 and 16 threads; the machine's own
# ceiling (16 single-threaded processes at once); byte-identity of the outputs across thread
# counts; peak memory of a 4,000-pair headline-only sweep. Take medians of the rounds by hand.
#
#   cargo build --release
#   B=target/release/capsim OUT=/tmp/scaling bash scripts/measure-scaling.sh
#
# Needs python3 (for timing) and /usr/bin/time. Writes scratch folders under /tmp.
set -u
B=${B:-target/release/capsim}
OUT=${OUT:-/tmp/capsim-scaling}
mkdir -p "$OUT"
R=$OUT/scaling.txt
log() { echo "$@" | tee -a $R; }
log "== machine"; nproc | tee -a $R; lscpu | egrep "Model name|Thread|Core|Socket|MHz|L2|L3|NUMA node0" | tee -a $R
SW="sweep --vary chips.h100.training_mfu=0.4 --replications 128 --headline-only --quiet"
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo FAIL "$@" >> $R; python3 -c "import time;print(round(time.time()-$s,3))"; }
log "== sweep: 2 points x 128 replications = 256 pairs, headline only (seconds)"
for round in 1 2 3 4 5; do
  line="round $round:"
  for t in 1 2 4 8 16; do line="$line t$t=$(secs $B $SW --threads $t --out /tmp/sw$t)"; done
  log "$line"
done
for t in 2 4 8 16; do cmp -s /tmp/sw1/sweep-baseline/records.csv /tmp/sw$t/sweep-baseline/records.csv && log "records.csv identical t1 vs t$t" || log "records.csv DIFFERS t1 vs t$t"; done
log "== machine ceiling: N single-threaded processes at once, 16 pairs each (seconds for all)"
SMALL="sweep --vary chips.h100.training_mfu=0.4 --replications 8 --headline-only --quiet --threads 1"
for round in 1 2 3; do
  line="round $round:"
  for n in 1 16; do
    s=$(date +%s.%N)
    for i in $(seq 1 $n); do $B $SMALL --out /tmp/p$i >/dev/null 2>&1 & done; wait
    line="$line procs$n=$(python3 -c "import time;print(round(time.time()-$s,3))")"
  done
  log "$line"
done
log "== run: baseline, 64 replications, all files and charts (seconds)"
for round in 1 2 3; do
  line="round $round:"
  for t in 1 16; do line="$line t$t=$(secs $B run --replications 64 --quiet --threads $t --out /tmp/run$t)"; done
  log "$line"
done
log "== sweep with point folders: 4 points x 32 replications (seconds)"
for t in 1 16; do log "t$t=$(secs $B sweep --vary chips.h100.training_mfu=0.3,0.4,0.5 --replications 32 --quiet --threads $t --out /tmp/pf$t)"; done
diff -r -x manifest.json /tmp/pf1 /tmp/pf16 >/dev/null && log "point folders identical t1 vs t16 (manifests aside: wall time)" || log "point folders DIFFER"
/usr/bin/time -v $B sweep --vary chips.h100.training_mfu=0.4 --replications 2000 --headline-only --quiet --threads 16 --out /tmp/big 2>&1 | egrep "Maximum resident|Elapsed" | tee -a $R
