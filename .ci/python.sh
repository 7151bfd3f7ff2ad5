#!/usr/bin/env bash
# CI: the run folder's tables as analysts read them. Writes a daily 20-replication run of the
# national baseline as CSV and Parquet, then checks every table in pandas, polars and duckdb
# against its schema.json (tests/python/test_tables.py).
#
# Installs into a virtual environment (.ci/.venv, ignored by git) from the Python package index:
# pandas, polars, duckdb, pyarrow, pytest. Installs Debian's python3 and python3-venv when there is
# no Python 3 with venv. Needs network access to the package indexes on the first run.
#
# usage: .ci/python.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  echo "python.sh: installing python3 and python3-venv (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv >/dev/null
fi
VENV=.ci/.venv
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "pandas>=2.2" "polars>=1.0" "duckdb>=1.1" "pyarrow>=15" "pytest>=8"

cargo build --release --locked -q
RUN=$(mktemp -d)
trap 'rm -rf "$RUN"' EXIT
target/release/capsim run -q --replications 20 --period day --format both --name python-check \
  --out "$RUN" >/dev/null
CAPSIM_RUN="$RUN/python-check" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  tests/python/test_tables.py
