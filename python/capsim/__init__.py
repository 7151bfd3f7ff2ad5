"""capsim from Python: the same simulator as the `capsim` command, built from the same Rust code
(PyO3), with the run folders' tables loaded as typed pandas or polars DataFrames.

    import capsim
    base = capsim.run(replications=20, period="quarter")          # the built-in baseline
    ban = capsim.run("scenarios/lease-ban-2026.toml", replications=20, period="quarter")
    c = capsim.compare(base, ban, period="quarter")
    c.periods.query("metric == 'offshore_share'")                  # per firm and quarter, paired

    r = capsim.load("output/baseline")                              # any run folder
    r.firms, r.summary, r.timeseries, r.jobs, r.decisions, ...      # pandas, typed by schema.json
    capsim.load("output/baseline", backend="polars").firms          # polars

Every call writes the folder the command would (`capsim run`, `compare`, `sweep`); a scenario,
setting or folder capsim refuses raises `capsim.InputError` (a ValueError) with the command's
message: file, line, column, field and how to fix it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import _capsim
from ._capsim import CapsimError, InputError

__all__ = [
    "run",
    "load",
    "compare",
    "sweep",
    "Run",
    "Comparison",
    "Sweep",
    "InputError",
    "CapsimError",
    "__version__",
]
__version__ = _capsim.version()

PathLike = Union[str, Path]

_ARROW = {
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "bool": pa.bool_(),
}


def _to_frame(table: pa.Table, backend: str):
    if backend == "arrow":
        return table
    if backend == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if backend == "pandas":
        import pandas as pd

        # Nullable integers, booleans and strings (an empty cell is <NA>, not a float NaN);
        # dates and times as datetime64.
        mapping = {
            pa.int64(): pd.Int64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
            pa.string(): pd.StringDtype(),
            pa.large_string(): pd.StringDtype(),
        }
        return table.to_pandas(types_mapper=mapping.get, date_as_object=False)
    raise InputError(f"backend '{backend}': give pandas, polars or arrow")


def _read_table(folder: Path, entry: dict) -> pa.Table:
    files = entry["files"]
    parquet = [f for f in files if f.endswith(".parquet")]
    if parquet:
        return pq.read_table(folder / parquet[0])
    csv = [f for f in files if f.endswith(".csv")][0]
    columns = entry["columns"]
    types = {c["name"]: _ARROW[c["type"]] for c in columns}
    return pacsv.read_csv(
        folder / csv,
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


class Run:
    """A run folder: each table (`firms`, `summary`, `timeseries`, `headline`, `jobs`,
    `decisions`, `inputs`, `provenance`, `draws`, `observations`) as an attribute, loaded on first
    use with the types its `schema.json` documents (from Parquet where the folder has it)."""

    def __init__(self, folder: PathLike, backend: str = "pandas"):
        self.folder = Path(folder)
        schema = self.folder / "schema.json"
        if not schema.exists():
            raise InputError(
                f"{self.folder}: not a run folder of this capsim (no schema.json)\n"
                "  help: give a folder `capsim run` (or capsim.run) wrote"
            )
        self.schema = json.loads(schema.read_text())
        self.manifest = json.loads((self.folder / "manifest.json").read_text())
        self.backend = backend
        self._tables = {t["table"]: t for t in self.schema["tables"]}
        self._loaded = {}

    @property
    def tables(self) -> list:
        """The names of the tables this run folder holds."""
        return list(self._tables)

    def table(self, name: str, backend: Optional[str] = None):
        """Table `name` as a DataFrame (`backend`: pandas, polars or arrow; default the run's)."""
        if name not in self._tables:
            raise InputError(
                f"{self.folder}: no table '{name}'\n  help: the tables are {', '.join(self._tables)}"
            )
        backend = backend or self.backend
        key = (name, backend)
        if key not in self._loaded:
            self._loaded[key] = _to_frame(_read_table(self.folder, self._tables[name]), backend)
        return self._loaded[key]

    def columns(self, name: str) -> list:
        """Table `name`'s documented columns: dicts of name, type, unit, meaning."""
        return self._tables[name]["columns"]

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in self.__dict__.get("_tables", {}):
            raise AttributeError(name)
        return self.table(name)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"<capsim.Run {self.folder}: scenario {m['scenario']}, {m['replications']} "
            f"replication(s) by {m['period']}, seed {m['seed']}; tables {', '.join(self._tables)}>"
        )

    def __fspath__(self) -> str:
        return str(self.folder)


class Comparison:
    """A comparison folder: `table` (comparison.csv, long form) and, with a period, `periods`
    (periods.csv: every firm figure per firm and period, with paired bands)."""

    def __init__(self, folder: PathLike, backend: str = "pandas"):
        self.folder = Path(folder)
        self.backend = backend

    def _csv(self, name: str, types: Mapping[str, pa.DataType]):
        path = self.folder / name
        if not path.exists():
            return None
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types=dict(types))
        )
        return _to_frame(table, self.backend)

    @property
    def table(self):
        text = {c: pa.string() for c in ("metric", "group_kind", "group", "scope", "how", "unit", "run", "statistic")}
        return self._csv("comparison.csv", {**text, "value": pa.float64()})

    @property
    def periods(self):
        text = {c: pa.string() for c in ("metric", "group_kind", "group", "unit", "run", "statistic")}
        dates = {"period_start": pa.date32(), "period_end": pa.date32()}
        return self._csv("periods.csv", {**text, **dates, "value": pa.float64()})

    def __repr__(self) -> str:
        return f"<capsim.Comparison {self.folder}>"

    def __fspath__(self) -> str:
        return str(self.folder)


class Sweep:
    """A sweep folder: `table` (sweep.csv: each point's statistics) and `records` (records.csv:
    each (point, replication)'s headline numbers)."""

    def __init__(self, folder: PathLike, backend: str = "pandas"):
        self.folder = Path(folder)
        self.backend = backend

    def _read(self, name: str):
        return _to_frame(pacsv.read_csv(self.folder / name), self.backend)

    @property
    def table(self):
        return self._read("sweep.csv")

    @property
    def records(self):
        return self._read("records.csv")

    def point(self, p: int) -> Run:
        """Point `p`'s run folder (written unless the sweep kept headline numbers only)."""
        width = max(3, len(str(len(list((self.folder / "points").iterdir())) - 1)))
        return Run(self.folder / "points" / f"{p:0{width}d}", self.backend)

    def __repr__(self) -> str:
        return f"<capsim.Sweep {self.folder}>"


def _settings(set: Union[None, Mapping[str, object], Iterable[str]]) -> list:
    if set is None:
        return []
    if isinstance(set, Mapping):
        out = []
        for k, v in set.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            out.append(f"{k}={v}")
        return out
    return [str(s) for s in set]


def run(
    scenario: Optional[PathLike] = None,
    *,
    replications: int = 1,
    set: Union[None, Mapping[str, object], Iterable[str]] = None,
    seed: Optional[int] = None,
    period: str = "month",
    format: str = "csv",
    out: PathLike = "output",
    name: Optional[str] = None,
    threads: Optional[int] = None,
    backend: str = "pandas",
) -> Run:
    """Runs a scenario file (None: the built-in baseline), as `capsim run` does, and returns its
    run folder. `set` maps field paths to values (`{"policy.lease-ban.from": "2026-10-01"}`), as
    `--set PATH=VALUE`."""
    folder = _capsim.run(
        None if scenario is None else str(scenario),
        set=_settings(set),
        seed=seed,
        replications=replications,
        period=period,
        format=format,
        threads=threads,
        out=str(out),
        name=name,
    )
    return Run(folder, backend)


def load(folder: PathLike, backend: str = "pandas") -> Run:
    """A run folder `capsim run` wrote, its tables loaded as typed DataFrames on use."""
    return Run(folder, backend)


def compare(
    *runs: Union[Run, PathLike],
    out: Optional[PathLike] = None,
    period: Optional[str] = None,
    backend: str = "pandas",
) -> Comparison:
    """Compares run folders (the first is the baseline), as `capsim compare` does; with `period`
    (the runs' own), every firm figure period by period too (`Comparison.periods`)."""
    if len(runs) == 1 and isinstance(runs[0], (list, tuple)):
        runs = tuple(runs[0])
    folder = _capsim.compare(
        [str(r) if not isinstance(r, Run) else str(r.folder) for r in runs],
        out=None if out is None else str(out),
        period=period,
    )
    return Comparison(folder, backend)


def sweep(
    scenario: Optional[PathLike] = None,
    *,
    vary: Union[None, Mapping[str, Iterable[object]], Iterable[str]] = None,
    design: Optional[str] = None,
    replications: Optional[int] = None,
    seed: Optional[int] = None,
    period: str = "month",
    headline_only: bool = False,
    out: PathLike = "output",
    threads: Optional[int] = None,
    backend: str = "pandas",
) -> Sweep:
    """Runs a sweep, as `capsim sweep` does. `vary` maps field paths to values
    (`{"policy.lease-ban.grace_days": [0, 30, 90]}`) or lists `PATH=VALUES` strings."""
    if vary is None:
        axes = []
    elif isinstance(vary, Mapping):
        axes = [f"{k}=" + ",".join(str(v) for v in vs) for k, vs in vary.items()]
    else:
        axes = [str(v) for v in vary]
    folder = _capsim.sweep(
        None if scenario is None else str(scenario),
        vary=axes,
        design=design,
        replications=replications,
        seed=seed,
        period=period,
        headline_only=headline_only,
        threads=threads,
        out=str(out),
    )
    return Sweep(folder, backend)
