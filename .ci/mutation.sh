#!/usr/bin/env bash
# The bounded mutation campaign (tools/mutation-campaign/): the shipped scenarios mutated in 18
# classes, each case run through the release binary (`capsim validate`, `capsim run`, then `capsim
# compare` against the shipped baseline and, for a file with a [sweep], `capsim sweep`), checked for
# no panic, hang (60 s) or memory over 4 GiB, exit 0 or a located exit 2 with help, nothing written on
# failure and finite CSVs on success. Deterministic: the same seed and case count give the same
# cases, on any machine and number of cores.
#
#   .ci/mutation.sh                                  # the CI count: 400 cases, ~2-4 min on 2 cores
#   MUTATION_CASES=3000 MUTATION_SEED=7 .ci/mutation.sh
#
# A failure's files, commands and output are saved under target/mutation-campaign/failures/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cases="${MUTATION_CASES:-400}"
seed="${MUTATION_SEED:-1}"

echo "== cargo build --release (capsim, then the campaign: a package of its own, which rebuilds nothing of capsim's)"
cargo build --release --locked --bin capsim
cargo build --release --locked -p mutation-campaign

echo "== mutation campaign: ${cases} cases, seed ${seed}"
target/release/mutation_campaign \
  --cases "$cases" --seed "$seed" \
  --bin target/release/capsim --scenarios scenarios --work target/mutation-campaign
