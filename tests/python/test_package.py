"""The Python package (python/): runs, loads, compares and sweeps as the command does, with typed
tables, and raises InputError with the command's located message."""

import re

import pandas as pd
import pytest

import capsim


def test_a_run_loads_typed_tables(tmp_path):
    r = capsim.run(replications=2, period="year", out=tmp_path, format="both")
    f = r.firms
    assert str(f["replication"].dtype) == "Int64"
    assert str(f["period_start"].dtype).startswith("datetime64")
    assert str(f["firm"].dtype) == "string"
    assert f["offshore_share"].dtype == "float64"
    assert set(f.replication.unique()) == {0, 1}
    # The same folder through load(), in polars, from Parquet and from CSV alike.
    pl = pytest.importorskip("polars")
    p = capsim.load(r.folder, backend="polars").firms
    assert p.schema["period_start"] == pl.Date
    assert p.height == len(f)
    assert "summary" in r.tables and r.columns("summary")[0]["name"] == "run"


def test_settings_and_errors_are_the_command_s(tmp_path):
    r = capsim.run(
        set={"policy.us-h20-licence-cn.enabled": False}, period="year", out=tmp_path, name="no-h20-rule"
    )
    assert r.manifest["overrides"] == ["policy.us-h20-licence-cn.enabled = false"]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nstart_date = 2025-01-01\nend_date = 2024-01-01\n')
    with pytest.raises(capsim.InputError) as e:
        capsim.run(bad, out=tmp_path)
    assert str(bad) in str(e.value) and "help:" in str(e.value)
    with pytest.raises(capsim.InputError, match="not a period"):
        capsim.run(period="fortnight", out=tmp_path)
    with pytest.raises(ValueError):
        capsim.load(tmp_path)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"replications": 0}, "replications: 0 is not a whole number from 1 to 100000"),
        ({"replications": -1}, "replications: -1 is not a whole number"),
        ({"threads": 0}, "threads: 0 is not a whole number from 1 to 65535"),
        ({"seed": -1}, "seed: -1 is not a whole number from 0"),
        ({"name": "../x"}, "invalid folder name '../x'"),
    ],
)
def test_counts_and_names_are_refused_as_the_command_refuses_them(tmp_path, kwargs, words):
    out = tmp_path / "out"
    with pytest.raises(capsim.InputError, match=re.escape(words)) as e:
        capsim.run(out=out, **kwargs)
    assert "help:" in str(e.value)
    assert not (tmp_path / "x").exists()
    assert not out.exists() or not any(out.iterdir())


def test_sweep_and_compare(tmp_path):
    s = capsim.sweep(
        vary={"firms.bytedance.planning.switch_margin": [0.25, 1]},
        replications=2,
        headline_only=True,
        out=tmp_path,
    )
    t = s.table
    assert set(t["point"]) == {0, 1, 2} and "mean" in t.columns
    a = capsim.run(replications=2, out=tmp_path, name="a")
    b = capsim.run(replications=2, out=tmp_path, name="b", set={"seed": 7})
    c = capsim.compare(a, b, out=tmp_path / "cmp")
    assert isinstance(c.table, pd.DataFrame) and c.periods is None
    assert {"mean", "diff"} <= set(c.table.statistic)
