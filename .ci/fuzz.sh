#!/usr/bin/env bash
# Fuzz the scenario loader (fuzz/fuzz_targets/load_scenario.rs) for a bounded time, seeded with the
# shipped scenarios and fuzz/seeds/. Exits 1 on a crash (a panic, a located-error or finite-output
# property broken, a timeout, out of memory) and prints the reproducer.
#
#   .ci/fuzz.sh              # 60 s
#   FUZZ_SECONDS=600 .ci/fuzz.sh
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. The
# sanitizer is off (capsim has no unsafe code; the target checks panics and properties), debug
# assertions and overflow checks are on. The corpus grows in fuzz/corpus/load_scenario (ignored
# by git); a crash's input lands in fuzz/artifacts/load_scenario/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== building the fuzz target"
(cd fuzz && cargo fuzz build load_scenario -s "$sanitizer" -a)

corpus=fuzz/corpus/load_scenario
mkdir -p "$corpus" fuzz/artifacts/load_scenario
# The target writes the shipped scenarios into a folder of its own under TMPDIR (for `extends`).
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "== fuzzing the scenario loader for ${seconds} s"
before="$(ls fuzz/artifacts/load_scenario | wc -l)"
set +e
(cd fuzz && TMPDIR="$scratch" cargo fuzz run load_scenario -s "$sanitizer" -a \
  corpus/load_scenario seeds ../scenarios -- \
  -dict=scenario.dict -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -max_len=131072 -print_final_stats=1) >"$scratch/fuzz.log" 2>&1
status=$?
set -e
# libFuzzer's progress lines start with '#'; show the rest (a crash's message and stack).
grep -v -e '^#' -e '^stat::' "$scratch/fuzz.log" | tail -n 80 || true
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$scratch/fuzz.log" || true
echo "corpus: $(ls "$corpus" | wc -l) inputs"
after="$(ls fuzz/artifacts/load_scenario | wc -l)"
if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
  echo "== the fuzzer failed (exit $status)" >&2
  if [ "$after" -gt "$before" ]; then
    for f in $(ls -t fuzz/artifacts/load_scenario | head -n $((after - before))); do
      path="fuzz/artifacts/load_scenario/$f"
      echo "--- reproducer $path (first 60 lines):" >&2
      head -n 60 "$path" >&2 || true
      echo "--- run it again: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run load_scenario -s $sanitizer -a artifacts/load_scenario/$f)" >&2
    done
  fi
  exit 1
fi
echo "== fuzzing: no crash"
