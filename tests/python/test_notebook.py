"""The example notebook (examples/notebooks/lease-ban.ipynb), once executed (`pytest --nbmake`,
with CAPSIM_NOTEBOOK_OUT set), wrote what the `capsim` command writes for the same runs: its
comparison folder is byte for byte `capsim compare` of its run folders, and its run folders'
tables are byte for byte `capsim run`'s (same scenario, seed, replications and period).

CAPSIM_BIN: the command (default target/release/capsim).
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("CAPSIM_NOTEBOOK_OUT", ROOT / "output" / "notebook"))
BIN = Path(os.environ.get("CAPSIM_BIN", ROOT / "target" / "release" / "capsim"))

# Where the notebook was run for this test (CI sets CAPSIM_NOTEBOOK_OUT), it must have written
# its comparison; elsewhere the test is skipped unless the notebook has run.
pytestmark = pytest.mark.skipif(
    "CAPSIM_NOTEBOOK_OUT" not in os.environ and not (OUT / "compare").exists(),
    reason="the notebook has not run (pytest --nbmake examples/notebooks/)",
)


def capsim(*args):
    done = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_notebook_s_comparison_is_capsim_compare_to_the_last_digit(tmp_path):
    cli = tmp_path / "cli-compare"
    capsim("compare", OUT / "baseline", OUT / "lease-ban-2026", "--period", "quarter", "--out", cli)
    for name in ["comparison.csv", "periods.csv"]:
        assert (OUT / "compare" / name).read_bytes() == (cli / name).read_bytes(), name


def test_the_notebook_s_runs_are_capsim_run_s(tmp_path):
    capsim("run", "--replications", "20", "--period", "quarter", "-q", "--out", tmp_path)
    capsim(
        "run", ROOT / "scenarios" / "lease-ban-2026.toml",
        "--replications", "20", "--period", "quarter", "-q", "--out", tmp_path,
    )
    for run in ["baseline", "lease-ban-2026"]:
        for table in ["firms", "summary", "headline", "decisions", "jobs"]:
            a = (OUT / run / f"{table}.csv").read_bytes()
            b = (tmp_path / run / f"{table}.csv").read_bytes()
            assert a == b, f"{run}/{table}.csv"
