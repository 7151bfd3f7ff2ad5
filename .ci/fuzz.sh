#!/usr/bin/env bash
# Fuzz the scenario loader for a bounded time (cargo-fuzz / libFuzzer, issue 10):
#
#   load_scenario  arbitrary text as a scenario file (fuzz/fuzz_targets/load_scenario.rs), seeded
#                  with the shipped scenarios and fuzz/seeds/;
#   set_field      arbitrary lines as `--set` / `--vary` on the baseline (fuzz/fuzz_targets/set_field.rs),
#                  seeded with fuzz/seeds-set/.
#
# Exits 1 on a crash (a panic, a broken property: unlocated refusal, non-finite metrics; a
# timeout; out of memory) and prints the reproducer.
#
#   .ci/fuzz.sh                                     # 45 s + 15 s
#   FUZZ_SECONDS=600 FUZZ_SET_SECONDS=120 .ci/fuzz.sh
#
# cargo-fuzz passes nightly flags to rustc; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# The sanitizer is off (capsim has no unsafe code; the targets check panics and properties, ~10x
# faster than under ASan); debug assertions and overflow checks are on. The corpora grow in
# fuzz/corpus/ (ignored by git); a crash's input lands in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"
# cargo-fuzz builds with one codegen unit, which leaves one of CI's two cores idle through the long
# compile of capsim itself; 16 builds it minutes sooner for slightly slower fuzzing.
cgu="${FUZZ_CODEGEN_UNITS:-16}"
# Optimised at level 1, not cargo-fuzz's 3: every crate is compiled again with coverage, the
# longest step of CI (9 minutes at level 3 on 2 cores); level 1 compiles it far sooner and still
# runs the targets at a useful rate. FUZZ_OPT_LEVEL=3 for a long campaign by hand.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${FUZZ_OPT_LEVEL:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== building the fuzz targets"
(cd fuzz && cargo fuzz build -s "$sanitizer" -a --codegen-units "$cgu")

# load_scenario writes the shipped scenarios into a folder of its own under TMPDIR (for extends).
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# fuzz TARGET SECONDS CORPUS...: runs one target; returns 1 on a crash, after printing it.
fuzz() {
  local target="$1" seconds="$2"
  shift 2
  local artifacts="fuzz/artifacts/$target"
  mkdir -p "fuzz/corpus/$target" "$artifacts"
  echo "== fuzzing $target for ${seconds} s"
  local before after status
  before="$(ls "$artifacts" | wc -l)"
  set +e
  (cd fuzz && TMPDIR="$scratch" cargo fuzz run "$target" -s "$sanitizer" -a --codegen-units "$cgu" \
    "corpus/$target" "$@" -- \
    -dict=scenario.dict -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=131072 -print_final_stats=1) >"$scratch/$target.log" 2>&1
  status=$?
  set -e
  # libFuzzer's progress lines start with '#'; show the rest (a crash's message and stack).
  grep -v -e '^#' -e '^stat::' -e '^"' -e 'NEW_FUNC' "$scratch/$target.log" | tail -n 60 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
    "$scratch/$target.log" || true
  echo "corpus: $(ls "fuzz/corpus/$target" | wc -l) inputs"
  after="$(ls "$artifacts" | wc -l)"
  if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
    echo "== $target failed (exit $status)" >&2
    if [ "$after" -gt "$before" ]; then
      for f in $(ls -t "$artifacts" | head -n $((after - before))); do
        echo "--- reproducer $artifacts/$f (first 60 lines):" >&2
        head -n 60 "$artifacts/$f" >&2 || true
        echo "--- run it again: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target -s $sanitizer -a artifacts/$target/$f)" >&2
      done
    fi
    return 1
  fi
}

failed=0
fuzz load_scenario "${FUZZ_SECONDS:-45}" seeds ../scenarios || failed=1
fuzz set_field "${FUZZ_SET_SECONDS:-15}" seeds-set || failed=1
if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "== fuzzing: no crash"
