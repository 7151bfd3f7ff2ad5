#!/usr/bin/env bash
# CI: examples/slurm/sweep.sbatch on a real Slurm cluster of one node (this machine).
#
# Installs Debian's slurm-wlm and munge when missing, starts munged, slurmctld and slurmd with a
# throwaway configuration in a temporary folder (all stopped and removed on any exit), then:
#   1. submits the example as a user would (`bash examples/slurm/sweep.sbatch`, small SHARDS and
#      REPLICATIONS), waits for the array and its dependent merge job, and checks that the merged
#      folder equals the unsharded `capsim sweep --headline-only` byte for byte;
#   2. submits it again with one shard's capsim killed (SIGKILL) mid-run: the merge job must never
#      run, and `bash examples/slurm/sweep.sbatch --merge` by hand must refuse (exit code 2, saying
#      what is missing) and write nothing; then resubmits that one shard with plain `sbatch
#      --array=I` and checks that the merge by hand now equals the unsharded sweep.
# Exit 0 only if every check passes. Needs root (the daemons run as root, the install uses apt-get).
#
# usage: .ci/slurm.sh
# env: SLURM_CI_SHARDS (4), SLURM_CI_REPLICATIONS (3), SLURM_CI_TIMEOUT (600: seconds to wait for
#      each submission's jobs), SLURM_CI_KEEP=1 to keep the temporary folder (daemons still stop).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Nothing from a surrounding Slurm job or from the caller may steer the example or sbatch.
for v in $(compgen -e); do
  case "$v" in SLURM_CI_*) ;; SLURM_* | SBATCH_* | SALLOC_* | SRUN_*) unset "$v" ;; esac
done
unset SHARDS CPUS SCENARIO OUT CAPSIM REPLICATIONS

SHARDS=${SLURM_CI_SHARDS:-4}
REPLICATIONS=${SLURM_CI_REPLICATIONS:-3}
TIMEOUT=${SLURM_CI_TIMEOUT:-600}
KEEP=${SLURM_CI_KEEP:-0}
KILL_TASK=2
EXAMPLE=examples/slurm/sweep.sbatch
BIN=target/release/capsim
[[ $SHARDS =~ ^[0-9]+$ && $SHARDS -ge $KILL_TASK ]] || {
  echo "slurm.sh: SLURM_CI_SHARDS must be a number >= $KILL_TASK" >&2
  exit 2
}

say() { printf '%s\n' "$*"; }
die() {
  printf 'slurm.sh: error: %s\n' "$*" >&2
  exit 1
}

# ---- results and timings, for the summary ----------------------------------------------------
RESULTS=()
FAILED=0
pass() {
  RESULTS+=("PASS  $*")
  say "   ok: $*"
}
fail() {
  RESULTS+=("FAIL  $*")
  FAILED=1
  say "   FAILED: $*" >&2
}
TIMES=()
phase_name=""
phase_start=0
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t / 1000)); }
phase() {
  phase_end
  phase_name=$1
  phase_start=$(now_ms)
  say "== $1"
}
phase_end() {
  local ms
  if [[ -n "$phase_name" ]]; then
    ms=$(($(now_ms) - phase_start))
    TIMES+=("$(printf '%4d.%d s  %s' $((ms / 1000)) $((ms % 1000 / 100)) "$phase_name")")
  fi
  phase_name=""
}

# ---- 1. install -----------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || die "run as root: the Slurm daemons of this throwaway cluster run as root"
phase "install slurm-wlm and munge (if missing)"
missing=0
for c in slurmctld slurmd sbatch squeue sinfo scontrol scancel munged munge; do
  command -v "$c" >/dev/null 2>&1 || missing=1
done
if [[ $missing == 1 ]]; then
  command -v apt-get >/dev/null || die "slurm or munge is missing and there is no apt-get"
  say "   apt-get install slurm-wlm munge"
  aptlog=$(mktemp)
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends slurm-wlm munge; } >"$aptlog" 2>&1; then
    tail -n 30 "$aptlog" >&2
    rm -f "$aptlog"
    die "apt-get install slurm-wlm munge failed"
  fi
  rm -f "$aptlog"
else
  say "   already installed: $(slurmd -V)"
fi

# ---- the throwaway cluster ------------------------------------------------------------------
T=$(mktemp -d /tmp/capsim-slurm.XXXXXX)
chmod 755 "$T" # munged wants its socket's folders searchable by all
export SLURM_CONF=$T/slurm.conf
PIDS=()        # our daemons, stopped in reverse order
CLUSTER_UP=0

alive() { # PID: running (not gone, not a zombie)
  local state=""
  [[ -r /proc/$1/stat ]] || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

LOGS_SHOWN=0
dump_logs() { # the jobs' logs, then the daemons' (their stderr where they did not get to a log)
  local f
  LOGS_SHOWN=1
  say "---- logs, under $T" >&2
  for f in "$T"/jobs/*.log "$T"/log/*.log "$T"/log/*.out; do
    [[ -f "$f" ]] || continue
    [[ $f == *.out && -s ${f%.out}.log ]] && continue
    say "---- ${f#"$T"/} (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
  if [[ $CLUSTER_UP == 1 ]]; then
    say "---- squeue" >&2
    timeout 20 squeue 2>&1 | head -n 40 >&2
  fi
}

cleanup() {
  local rc=$? p i i2
  set +e
  phase_end
  if [[ $rc != 0 && $LOGS_SHOWN == 0 && -d "$T" ]]; then dump_logs; fi
  if [[ $CLUSTER_UP == 1 ]] && alive "${PIDS[1]}"; then
    # Jobs first, so that no slurmstepd outlives slurmd.
    timeout 20 scancel --quiet --user="$(id -un)" 2>/dev/null
    for ((i = 0; i < 30; i++)); do
      [[ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]] && break
      sleep 1
    done
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p=${PIDS[i]}
    kill -TERM "$p" 2>/dev/null
    for ((i2 = 0; i2 < 100; i2++)); do
      alive "$p" || break
      sleep 0.1
    done
    alive "$p" && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  # Anything still carrying this cluster's SLURM_CONF (a job's process, a slurmstepd) is ours.
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    if { tr '\0' '\n' <"/proc/$p/environ" | grep -qxF "SLURM_CONF=$SLURM_CONF"; } 2>/dev/null; then
      say "slurm.sh: killing leftover process $p: $(tr '\0' ' ' <"/proc/$p/cmdline")" >&2
      kill -KILL "$p" 2>/dev/null
    fi
  done
  if [[ $KEEP == 1 ]]; then
    say "slurm.sh: kept $T" >&2
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
trap cleanup EXIT
# A signal that races with a fork may run its trap in the subshell: pass it on to the script.
on_signal() {
  [[ $BASHPID == "$$" ]] || kill "-$1" "$$"
  exit "$2"
}
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

phase "start a one-node cluster (munged, slurmctld, slurmd)"
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log" "$T/jobs"
chmod 755 "$T/munge"
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$T/munge/munge.key"
else
  dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$T/munge/munge.key"
munged -F --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
  --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" \
  --log-file="$T/log/munged.log" >>"$T/log/munged.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
  munge -S "$T/munge/munge.socket" -n </dev/null 2>/dev/null |
    unmunge -S "$T/munge/munge.socket" >/dev/null 2>&1 && break
  alive "${PIDS[0]}" || die "munged exited (see $T/log/munged.log)"
  sleep 0.1
done
((i < 100)) || die "munged does not answer on $T/munge/munge.socket"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=16817
while ! { port_free "$port" && port_free $((port + 1)); }; do
  port=$((port + 2))
  ((port < 17000)) || die "no free pair of ports in 16817-17000"
done
host=$(hostname -s)
cpus=$(nproc)
# slurmd -C prints this machine's node line; take its memory (MB), so the node is not drained.
mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
mem=${mem:-1000}
: >"$T/plugstack.conf"
cat >"$SLURM_CONF" <<EOF
# A throwaway one-node cluster for .ci/slurm.sh: everything under $T.
ClusterName=capsimci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
PlugStackConfig=$T/plugstack.conf
# No systemd and no cgroup delegation in containers: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
# The node as configured here wins over what slurmd finds (no draining over a mismatch).
SlurmdParameters=config_overrides
# Keep finished jobs visible to scontrol for the checks (no accounting database here).
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" >>"$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
CLUSTER_UP=1
slurmd -D -f "$SLURM_CONF" -N "$host" >>"$T/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for ((i = 0; i < 120; i++)); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [[ "$state" == idle ]] && break
  for p in "${PIDS[@]}"; do alive "$p" || die "a daemon exited (see the logs above)"; done
  sleep 0.5
done
[[ "$state" == idle ]] || die "node $host is not idle after 60 s (sinfo says '${state:-nothing}')"
say "   node $host idle: $cpus CPUs, ${mem} MB, ports $port-$((port + 1)), in $T"

# ---- the binary, the example's scenario and axes ---------------------------------------------
phase "build capsim (cargo build --release --locked)"
if command -v cargo >/dev/null; then
  cargo build --release --locked --quiet
fi
[[ -x "$BIN" ]] || die "$BIN is missing (cargo build --release)"
# The same scenario and axes as the example, read from it rather than copied.
# shellcheck disable=SC2016 # a literal ${ in the pattern
scenario=$(sed -n 's/^SCENARIO=\${SCENARIO:-\(.*\)}$/\1/p' "$EXAMPLE")
axes_block=$(sed -n '/^AXES=(/,/^)/p' "$EXAMPLE")
AXES=()
eval "$axes_block"
[[ -f "$scenario" && ${#AXES[@]} -gt 0 ]] || die "cannot read SCENARIO and AXES from $EXAMPLE"
say "   scenario $scenario, axes: ${AXES[*]}"

# ---- helpers for jobs ------------------------------------------------------------------------
# job_lines ID: one line "TASK STATE EXIT REASON" per job of ID (each array task separately).
job_lines() {
  timeout 20 scontrol show job -o "$1" 2>/dev/null | while read -r line; do
    local task state exitc reason
    task=$(sed -n 's/.* ArrayTaskId=\([^ ]*\).*/\1/p' <<<"$line")
    state=$(sed -n 's/.* JobState=\([^ ]*\).*/\1/p' <<<"$line")
    exitc=$(sed -n 's/.* ExitCode=\([^ ]*\).*/\1/p' <<<"$line")
    reason=$(sed -n 's/.* Reason=\([^ ]*\).*/\1/p' <<<"$line")
    printf '%s %s %s %s\n' "${task:--}" "${state:-?}" "${exitc:-?}" "${reason:-?}"
  done | sort -n
}
terminal() {
  case "$1" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | \
      DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}
# wait_terminal ID: waits until every job of ID has ended (1 after $TIMEOUT s)
wait_terminal() {
  local id=$1 deadline=$((SECONDS + TIMEOUT)) ended state
  while ((SECONDS < deadline)); do
    ended=1
    while read -r _ state _ _; do terminal "$state" || ended=0; done < <(job_lines "$id")
    [[ -n "$(job_lines "$id")" && $ended == 1 ]] && return 0
    sleep 1
  done
  say "slurm.sh: job $id has not ended after $TIMEOUT s:" >&2
  job_lines "$id" >&2
  return 1
}
# names DIR GLOB...: the names in DIR that match the globs, on one line
names() {
  local dir=$1 g f found=()
  shift
  for g in "$@"; do
    for f in "$dir"/$g; do [[ -e "$f" ]] && found+=("${f##*/}"); done
  done
  echo "${found[*]}"
}
# same_dirs A B: whether folders A and B are equal byte for byte; if not, prints what differs
same_dirs() {
  local files
  if files=$(diff -rq "$1" "$2" 2>&1); then return 0; fi
  say "   what differs ($(wc -l <<<"$files") files or folders):" >&2
  head -n 20 <<<"$files" | sed 's/^/   | /' >&2
  say "   the first lines of diff -r:" >&2
  diff -r "$1" "$2" 2>&1 | grep -v '^Binary files' | head -n 30 | cut -c1-200 | sed 's/^/   | /' >&2
  return 1
}
# submit ENV...: submits the example as a user would, with ENV (NAME=VALUE...) set; sets ARRAY and
# MERGE from what it prints.
submit() {
  local out
  ARRAY="" MERGE=""
  if ! out=$(env "$@" bash "$EXAMPLE" 2>&1); then
    say "$out" >&2
    return 1
  fi
  say "   \$ $* bash $EXAMPLE"
  say "$out" | sed 's/^/   /'
  ARRAY=$(sed -n 's/^Submitted array job \([0-9]*\).*/\1/p' <<<"$out")
  MERGE=$(sed -n 's/^Submitted merge job \([0-9]*\).*/\1/p' <<<"$out")
  [[ -n "$ARRAY" && -n "$MERGE" ]]
}
# The job logs go to the temporary folder, not to the working directory (env beats #SBATCH).
export SBATCH_OUTPUT=$T/jobs/%x-%j.log

# ---- 2. the sweep, sharded on Slurm, and merged by the dependent job --------------------------
phase "sharded sweep on Slurm: $SHARDS shards x $REPLICATIONS replications, then the merge job"
OUT1=$T/out-ok
ok1=0
if submit SHARDS="$SHARDS" CPUS=1 REPLICATIONS="$REPLICATIONS" OUT="$OUT1"; then
  if wait_terminal "$ARRAY"; then
    bad=$(job_lines "$ARRAY" | awk '$2 != "COMPLETED" || $3 != "0:0"')
    ntasks=$(job_lines "$ARRAY" | wc -l)
    if [[ -z "$bad" && $ntasks == "$SHARDS" ]]; then
      pass "array job $ARRAY: all $SHARDS tasks COMPLETED, exit 0"
      if wait_terminal "$MERGE"; then
        m=$(job_lines "$MERGE")
        if [[ $(cut -d' ' -f2,3 <<<"$m") == "COMPLETED 0:0" ]]; then
          pass "merge job $MERGE (afterok:$ARRAY) COMPLETED, exit 0"
          ok1=1
        else
          fail "merge job $MERGE ended as: $m"
        fi
      else
        fail "merge job $MERGE did not end within $TIMEOUT s"
      fi
    else
      fail "array job $ARRAY: $ntasks tasks, not all COMPLETED with exit 0:"$'\n'"$bad"
    fi
  else
    fail "array job $ARRAY did not end within $TIMEOUT s"
  fi
else
  fail "submitting the example failed"
fi

phase "unsharded sweep on this machine (--headline-only), compared byte for byte"
UNSHARDED=$T/unsharded
if ! "$BIN" sweep "$scenario" "${AXES[@]}" --replications "$REPLICATIONS" --headline-only --quiet \
  --out "$UNSHARDED" >"$T/unsharded.log" 2>&1; then
  cat "$T/unsharded.log" >&2
  die "the unsharded sweep failed"
fi
name=$(basename "$(ls -d "$UNSHARDED"/sweep-*)")
if [[ $ok1 == 1 ]]; then
  if [[ -d "$OUT1/$name" ]]; then
    if same_dirs "$OUT1/$name" "$UNSHARDED/$name"; then
      pass "merged $OUT1/$name equals the unsharded sweep byte for byte ($(find "$OUT1/$name" \
        -type f | wc -l) files)"
    else
      fail "the merged folder $OUT1/$name differs from the unsharded sweep (see above)"
    fi
  else
    fail "the merge job wrote no $OUT1/$name (have: $(names "$OUT1" '*' '.[!.]*'))"
  fi
fi

# ---- 3. a shard killed mid-run ----------------------------------------------------------------
phase "sharded sweep with shard $KILL_TASK killed mid-run (SIGKILL), then merge by hand"
OUT2=$T/out-killed
KILLER=$T/capsim-kill-shard
cat >"$KILLER" <<'EOF'
#!/usr/bin/env bash
# CAPSIM for the killed-shard check: array task KILL_TASK's capsim gets SIGKILL as soon as its
# temporary folder exists (it has started, and has not finished); other tasks run capsim as is.
set -euo pipefail
if [[ "${SLURM_ARRAY_TASK_ID:-}" != "$KILL_TASK" ]]; then exec "$REAL_CAPSIM" "$@"; fi
"$REAL_CAPSIM" "$@" &
pid=$!
for ((i = 0; i < 12000; i++)); do
  if compgen -G "$OUT/.sweep-*.shard-$KILL_TASK-of-*.tmp-$pid" >/dev/null; then
    kill -KILL "$pid"
    echo "capsim-kill-shard: sent SIGKILL to capsim (pid $pid) mid-run" >&2
    break
  fi
  read -r _ _ state _ <"/proc/$pid/stat" || break
  [[ "$state" != Z ]] || break
  sleep 0.01
done
wait "$pid"
echo "capsim-kill-shard: capsim finished before it could be killed" >&2
EOF
chmod 755 "$KILLER"
ok2=0
if submit SHARDS="$SHARDS" CPUS=1 REPLICATIONS="$REPLICATIONS" OUT="$OUT2" CAPSIM="$KILLER" \
  KILL_TASK="$KILL_TASK" REAL_CAPSIM="$ROOT/$BIN"; then
  if wait_terminal "$ARRAY"; then
    lines=$(job_lines "$ARRAY")
    others=$(awk -v k="$KILL_TASK" '$1 != k && ($2 != "COMPLETED" || $3 != "0:0")' <<<"$lines")
    killed=$(awk -v k="$KILL_TASK" '$1 == k' <<<"$lines")
    if [[ $(cut -d' ' -f2,3 <<<"$killed") == "FAILED 137:0" && -z "$others" ]] &&
      grep -q "sent SIGKILL to capsim" "$T"/jobs/capsim-sweep-*.log; then
      pass "array job $ARRAY: task $KILL_TASK FAILED with exit 137 (capsim SIGKILLed mid-run)," \
        "the other tasks COMPLETED"
      ok2=1
    else
      fail "array job $ARRAY did not end as planned (task $KILL_TASK killed, others fine):" \
        $'\n'"$lines"
    fi
  else
    fail "array job $ARRAY did not end within $TIMEOUT s"
  fi
  # The dependent merge must never run: it waits with DependencyNeverSatisfied.
  reason=""
  for ((i = 0; i < 30; i++)); do
    m=$(job_lines "$MERGE")
    reason=$(cut -d' ' -f2,4 <<<"$m")
    [[ "$reason" == "PENDING DependencyNeverSatisfied" ]] && break
    sleep 1
  done
  if [[ "$reason" == "PENDING DependencyNeverSatisfied" ]]; then
    pass "merge job $MERGE never runs (PENDING, DependencyNeverSatisfied); cancelled"
  else
    fail "merge job $MERGE is '$m', not PENDING on DependencyNeverSatisfied"
  fi
  scancel "$MERGE" 2>/dev/null || true
else
  fail "submitting the example failed"
fi
if [[ $ok2 == 1 ]]; then
  shard_dirs=$(names "$OUT2" 'sweep-*.shard-*')
  stale=$(names "$OUT2" ".sweep-*.shard-$KILL_TASK-of-*.tmp-*")
  say "   shard folders: ${shard_dirs:-none}; left by the killed capsim: ${stale:-nothing}"
  # The merge by hand, as the example's header says.
  set +e
  SHARDS=$SHARDS OUT=$OUT2 bash "$EXAMPLE" --merge >"$T/merge2.out" 2>"$T/merge2.err"
  rc=$?
  set -e
  say "   \`bash $EXAMPLE --merge\` exit code $rc, stderr:"
  sed 's/^/   | /' "$T/merge2.err"
  if [[ $rc == 2 ]] && grep -q "missing" "$T/merge2.err"; then
    pass "merge over shards without $KILL_TASK/$SHARDS refused: exit 2, names what is missing"
  else
    fail "merge over an incomplete set: exit $rc (expected 2 and a message naming what is missing)"
  fi
  written=$(names "$OUT2" "$name" ".$name.tmp-*")
  if [[ -z "$written" ]]; then
    pass "the refused merge wrote nothing ($OUT2 holds no $name)"
  else
    fail "the refused merge left: $written"
  fi

  phase "resubmit shard $KILL_TASK alone (plain sbatch --array=$KILL_TASK), then merge by hand"
  redo=$(SHARDS=$SHARDS REPLICATIONS=$REPLICATIONS OUT=$OUT2 sbatch --parsable \
    --array="$KILL_TASK" --cpus-per-task=1 "$EXAMPLE")
  redo=${redo%%;*}
  say "   array job $redo"
  if wait_terminal "$redo" && [[ $(job_lines "$redo" | cut -d' ' -f2,3) == "COMPLETED 0:0" ]]; then
    set +e
    SHARDS=$SHARDS OUT=$OUT2 bash "$EXAMPLE" --merge >/dev/null 2>"$T/merge3.err"
    rc=$?
    set -e
    if [[ $rc != 0 ]]; then
      sed 's/^/   | /' "$T/merge3.err" >&2
      fail "after the rerun, the merge by hand failed (exit $rc, see above)"
    elif same_dirs "$OUT2/$name" "$UNSHARDED/$name"; then
      pass "after the rerun, the merge by hand equals the unsharded sweep byte for byte"
    else
      fail "after the rerun, the merged $OUT2/$name differs from the unsharded sweep (see above)"
    fi
    stale=$(names "$OUT2" '.sweep-*')
    if [[ -z "$stale" ]]; then
      pass "no temporary folder left in $OUT2 (the killed capsim's was removed by the rerun)"
    else
      fail "temporary folders left in $OUT2: $stale"
    fi
  else
    fail "the rerun of shard $KILL_TASK (job $redo) did not complete: $(job_lines "$redo")"
  fi
fi
phase_end

# ---- summary --------------------------------------------------------------------------------
if [[ $FAILED != 0 ]]; then dump_logs; fi
say ""
say "== summary: examples/slurm/sweep.sbatch on $(slurmd -V)," \
  "$SHARDS shards x $REPLICATIONS replications"
printf '%s\n' "${RESULTS[@]}"
say "-- time per phase"
printf '%s\n' "${TIMES[@]}"
if [[ $FAILED != 0 ]]; then
  say "slurm.sh: FAILED" >&2
  exit 1
fi
say "slurm.sh: all checks passed"
