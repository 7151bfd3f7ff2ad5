"""Every table of a run folder, read by pandas, polars and duckdb, CSV and Parquet, has the types
its schema.json documents (issue 13).

The run folder is given by CAPSIM_RUN (written by `.ci/python.sh`: `capsim run --replications 20
--period day --format both`). A column every row of which is empty has no type to infer from a CSV
and is accepted as any type; in Parquet every column must have its documented type exactly.
"""

import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

RUN = Path(os.environ.get("CAPSIM_RUN", "output/python-check"))
SCHEMA = json.loads((RUN / "schema.json").read_text()) if (RUN / "schema.json").exists() else None

ARROW = {
    "text": (pa.string(), pa.large_string()),
    "int": (pa.int64(),),
    "float": (pa.float64(),),
    "date": (pa.date32(),),
    # Parquet keeps time to the millisecond at coarsest; a CSV reader may infer seconds.
    "timestamp": (pa.timestamp("s"), pa.timestamp("ms")),
    "bool": (pa.bool_(),),
}
POLARS = {
    "text": (pl.String,),
    "int": (pl.Int64,),
    "float": (pl.Float64,),
    "date": (pl.Date,),
    "timestamp": (pl.Datetime,),
    "bool": (pl.Boolean,),
}
POLARS_CSV = dict(POLARS, date=(pl.Date, pl.String), timestamp=(pl.Datetime, pl.String))
DUCKDB = {
    "text": ("VARCHAR",),
    "int": ("BIGINT",),
    "float": ("DOUBLE",),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS"),
    "bool": ("BOOLEAN",),
}


def files(kind):
    if SCHEMA is None:
        return []
    return [
        pytest.param(t, f, id=f)
        for t in SCHEMA["tables"]
        for f in t["files"]
        if f.endswith(kind)
    ]


def documented(table):
    return [(c["name"], c["type"]) for c in table["columns"]]


def empty_columns(path):
    """Columns with no value in any row (nothing to infer a type from)."""
    df = pl.read_csv(path, infer_schema_length=0)
    return {c for c in df.columns if df[c].null_count() == df.height}


def check(got, table, allowed, csv=None):
    """`got`: (name, type read) per column. For a CSV (`csv` its path), a column with no value in
    any row may be read as any type."""
    want = documented(table)
    assert [n for n, _ in got] == [n for n, _ in want], "columns differ from schema.json"
    bad = [
        (n, t, g)
        for (n, g), (_, t) in zip(got, want)
        if not any(g == a or str(g) == str(a) for a in allowed[t])
    ]
    if bad and csv is not None:
        empty = empty_columns(csv)
        bad = [b for b in bad if b[0] not in empty]
    assert not bad, f"columns typed otherwise than documented (name, documented, read): {bad}"


def polars_type(dtype, want):
    # Datetime carries its unit; the documented type is the kind.
    return pl.Datetime if isinstance(dtype, pl.Datetime) else dtype


@pytest.mark.parametrize("table,name", files(".parquet"))
def test_parquet_pyarrow(table, name):
    schema = pq.read_schema(RUN / name)
    got = [(f.name, f.type) for f in schema]
    check(got, table, ARROW)
    # The unit and meaning travel as field metadata.
    for f, c in zip(schema, table["columns"]):
        assert f.metadata[b"unit"].decode() == c["unit"]


@pytest.mark.parametrize("table,name", files(".parquet"))
def test_parquet_polars(table, name):
    df = pl.read_parquet(RUN / name)
    check([(n, polars_type(t, None)) for n, t in df.schema.items()], table, POLARS)


@pytest.mark.parametrize("table,name", files(".parquet"))
def test_parquet_pandas(table, name):
    df = pd.read_parquet(RUN / name, dtype_backend="pyarrow")
    check([(n, t.pyarrow_dtype) for n, t in df.dtypes.items()], table, ARROW)


@pytest.mark.parametrize("table,name", files(".parquet"))
def test_parquet_duckdb(table, name):
    rows = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{RUN / name}')").fetchall()
    check([(r[0], r[1]) for r in rows], table, DUCKDB)


@pytest.mark.parametrize("table,name", files(".csv"))
def test_csv_polars(table, name):
    # Types inferred from every row (polars' default looks at the first 100 only, and a float
    # column whose first 100 cells are empty would be read as text); dates stay text unless
    # try_parse_dates is given, which is slow on large files (the Parquet file has them typed).
    df = pl.read_csv(RUN / name, infer_schema_length=None)
    check([(n, polars_type(t, None)) for n, t in df.schema.items()], table, POLARS_CSV, RUN / name)


@pytest.mark.parametrize("table,name", files(".csv"))
def test_csv_pandas(table, name):
    df = pd.read_csv(RUN / name, engine="pyarrow", dtype_backend="pyarrow")
    check([(n, t.pyarrow_dtype) for n, t in df.dtypes.items()], table, ARROW, RUN / name)


@pytest.mark.parametrize("table,name", files(".csv"))
def test_csv_duckdb(table, name):
    rows = duckdb.sql(
        f"DESCRIBE SELECT * FROM read_csv('{RUN / name}', sample_size = -1)"
    ).fetchall()
    check([(r[0], r[1]) for r in rows], table, DUCKDB, RUN / name)


@pytest.mark.parametrize("table,name", files(".parquet"))
def test_parquet_holds_the_csv(table, name):
    """The Parquet file holds the CSV's rows and values (read by polars, both typed)."""
    csv = RUN / name.replace(".parquet", ".csv")
    if not csv.exists():
        pytest.skip("no CSV beside it")
    p = pl.read_parquet(RUN / name)
    c = pl.read_csv(csv, schema=p.schema)
    assert p.height == c.height
    assert p.equals(c, null_equal=True)


def test_the_run_has_every_table():
    assert SCHEMA is not None, f"no schema.json in {RUN}"
    names = {t["table"] for t in SCHEMA["tables"]}
    assert {"timeseries", "firms", "summary", "jobs", "decisions"} <= names
