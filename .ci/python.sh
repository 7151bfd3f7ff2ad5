#!/usr/bin/env bash
# CI: capsim from Python, as analysts use it.
#   1. the run folder's tables: a daily 20-replication run of the national baseline as CSV and
#      Parquet, every table checked in pandas, polars and duckdb against its schema.json
#      (tests/python/test_tables.py);
#   2. the Python package (python/, PyO3 + maturin), installed with the README's one command
#      (`pip install ./python`): its calls, types and errors (tests/python/test_package.py);
#   3. the example notebook (examples/notebooks/lease-ban.ipynb) executed (pytest --nbmake), and
#      its comparison checked byte for byte against `capsim compare` of its runs
#      (tests/python/test_notebook.py).
#
# Installs into a virtual environment (.ci/.venv, ignored by git) from the Python package index:
# pandas, polars, duckdb, pyarrow, pytest, nbmake, ipykernel (and maturin, which pip fetches to
# build the package). Installs Debian's python3 and python3-venv when there is no Python 3 with
# venv. Needs network access to the package indexes on the first run.
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
  "pandas>=2.2" "polars>=1.0" "duckdb>=1.1" "pyarrow>=15" "pytest>=8" "nbmake>=1.5" ipykernel
echo "== pip install ./python (the package, built from this tree)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check ./python

cargo build --release --locked -q
RUN=$(mktemp -d)
trap 'rm -rf "$RUN"' EXIT
target/release/capsim run -q --replications 20 --period day --format both --name python-check \
  --out "$RUN" >/dev/null
CAPSIM_RUN="$RUN/python-check" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  tests/python/test_tables.py

echo "== the package, and the notebook against capsim compare"
export CAPSIM_NOTEBOOK_OUT="$RUN/notebook" CAPSIM_BIN="$PWD/target/release/capsim"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --nbmake examples/notebooks/
"$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  tests/python/test_package.py tests/python/test_notebook.py
