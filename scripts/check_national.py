#!/usr/bin/env python3
"""Check the national baseline (issue 11) with a capsim binary that predates its new fields.

The baseline is split into fragments (`include = [...]` in scenarios/baseline.toml) and uses site and
chip fields that an older binary refuses: `owner`, `pricing = "contract"` with `tenant` and
`term_years`, `lease_prices`, `on_demand_premium`, `idle_power_fraction`. This script

  1. concatenates scenarios/baseline.toml and the files it includes into ONE TOML document,
  2. strips or translates the new fields (owner/tenant/term_years/on_demand_premium/
     idle_power_fraction/lease_prices and their `source` entries removed; contract -> lease; the
     lease sites then charge the chip's `lease_usd_per_chip_hour`), in a temporary folder, with
     observed.csv beside it, and does the same to every what-if (they `extends = "baseline.toml"`),
  3. runs `capsim validate` on all of them and `capsim run` on the baseline, and prints events and
     wall time, national tokens served against demanded by year, utilisation by site and year, and the
     score against the observations (observations.csv), with every scored row.

With --no-strip (a binary that knows every new field but not yet `include`), step 2 only removes the
`include` key: the concatenated document keeps owner/contract/lease_prices/idle power as written.

Usage:
  python3 scripts/check_national.py --no-strip           # concatenate only (the current binary)
  python3 scripts/check_national.py                      # validate all, run the baseline (2 reps)
  python3 scripts/check_national.py --replications 8 --period week
  python3 scripts/check_national.py --whatifs            # also run each what-if and compare
  python3 scripts/check_national.py --capsim path/to/capsim --keep /tmp/national

The stripped copy is for checking only: costs of owned sites are charged the old way (busy hours),
contract sites are paid per busy hour at the chip's price, and idle power is not drawn.
"""

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCEN = ROOT / "scenarios"

# Keys the current binary does not know: dropped wherever they appear (in a table or its `source`).
DROP_KEYS = ("owner", "tenant", "term_years", "on_demand_premium", "idle_power_fraction", "lease_prices")
KEY_RE = re.compile(r"^\s*(" + "|".join(DROP_KEYS) + r")\s*=")


def bracket_balance(line: str) -> int:
    """Net [ minus ] outside strings (enough for this file format)."""
    depth, in_str, esc = 0, False, False
    for ch in line:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#":
            break
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    return depth


def strip_text(text: str) -> str:
    """Removes the new keys (multi-line arrays included), `include`, and translates contract pricing."""
    out, skipping, depth = [], False, 0
    for line in text.splitlines():
        if skipping:
            depth += bracket_balance(line)
            if depth <= 0:
                skipping = False
            continue
        if KEY_RE.match(line) or re.match(r"^\s*include\s*=", line):
            depth = bracket_balance(line.split("=", 1)[1])
            skipping = depth > 0
            continue
        line = re.sub(r'^(\s*pricing\s*=\s*)"contract"', r'\1"lease"', line)
        out.append(line)
    return "\n".join(out) + "\n"


def drop_include(text: str) -> str:
    """Removes only the `include = [...]` key (multi-line array included); every other field is kept."""
    out, skipping, depth = [], False, 0
    for line in text.splitlines():
        if skipping:
            depth += bracket_balance(line)
            if depth <= 0:
                skipping = False
            continue
        if re.match(r"^\s*include\s*=", line):
            depth = bracket_balance(line.split("=", 1)[1])
            skipping = depth > 0
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def concatenated_baseline() -> str:
    base = SCEN / "baseline.toml"
    text = base.read_text()
    doc = tomllib.loads(text)
    parts = [text]
    for inc in doc.get("include", []):
        parts.append(f"\n# ---- included from {inc} ----\n")
        parts.append((base.parent / inc).read_text())
    return "\n".join(parts)


def check_no_duplicates(text: str):
    """tomllib refuses a key defined twice; this names the fragment when it happens."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        sys.exit(f"the concatenated baseline is not one valid TOML document: {e}")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def year_of(d: str) -> str:
    return d[:4]


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def report_run(outdir: Path, label: str):
    man = json.loads((outdir / "manifest.json").read_text())
    reps = man["replications"]
    print(f"\n== {label}: {reps} replication(s), period {man['period']}, events {man['events']:,} "
          f"(per replication {man['events'] / reps:,.0f}), wall {man['wall_time_s']:.2f} s; jobs {man['jobs']}")

    # tokens by year, national and per firm (means over replications)
    dem = defaultdict(float)
    srv = defaultdict(float)
    dom = defaultdict(float)
    firm_dem = defaultdict(float)
    firm_srv = defaultdict(float)
    abroad = defaultdict(float)
    home = defaultdict(float)
    cost = defaultdict(float)
    with open(outdir / "firms.csv") as f:
        for r in csv.DictReader(f):
            y = year_of(r["period_start"])
            d, s = float(r["tokens_demanded"] or 0), float(r["tokens_served"] or 0)
            dem[y] += d / reps
            srv[y] += s / reps
            dom[y] += float(r["tokens_served_domestic_chips"] or 0) / reps
            firm_dem[(r["firm"], y)] += d / reps
            firm_srv[(r["firm"], y)] += s / reps
            abroad[(r["firm"], y)] += float(r["compute_abroad_pflop_days"] or 0) / reps
            home[(r["firm"], y)] += float(r["compute_home_pflop_days"] or 0) / reps
            cost[(r["firm"], y)] += float(r["cost_usd"] or 0) / reps
    days = {"2024": 366, "2025": 365, "2026": 365, "2027": 365, "2028": 366}
    print("\nnational tokens per day (mean over the year): demanded, served, share served, share on domestic chips")
    for y in sorted(dem):
        print(f"  {y}: {dem[y] / days[y]:.3g} demanded, {srv[y] / days[y]:.3g} served, "
              f"{srv[y] / dem[y]:.3f} served, {dom[y] / max(srv[y], 1):.2f} domestic")
    firms = sorted({k[0] for k in firm_dem})
    print("\nshare of demand served by firm and year")
    print("  " + " ".join(f"{f:>10s}" for f in ["year"] + firms))
    for y in sorted(dem):
        print("  " + f"{y:>10s} " + " ".join(
            f"{firm_srv[(f, y)] / firm_dem[(f, y)]:10.3f}" if firm_dem[(f, y)] else f"{'-':>10s}" for f in firms))
    print("\noffshore share of training compute by firm and year")
    print("  " + " ".join(f"{f:>10s}" for f in ["year"] + firms))
    for y in sorted(dem):
        vals = []
        for f in firms:
            t = abroad[(f, y)] + home[(f, y)]
            vals.append(f"{abroad[(f, y)] / t:10.3f}" if t else f"{'-':>10s}")
        print("  " + f"{y:>10s} " + " ".join(vals))
    print("\nwhat firms paid by year (USD bn)")
    print("  " + " ".join(f"{f:>10s}" for f in ["year"] + firms))
    for y in sorted(dem):
        print("  " + f"{y:>10s} " + " ".join(f"{cost[(f, y)] / 1e9:10.2f}" for f in firms))

    # utilisation by site and year, and by jurisdiction
    busy = defaultdict(float)
    online = defaultdict(float)
    chips_end = defaultdict(float)
    juris = {}
    with open(outdir / "timeseries.csv") as f:
        for r in csv.DictReader(f):
            y = year_of(r["period_start"])
            s = r["site"]
            juris[s] = r["jurisdiction"]
            busy[(s, y)] += float(r["chip_hours_busy"] or 0)
            online[(s, y)] += float(r["chip_hours_online"] or 0)
            if r["period_start"][5:7] == "12" or r["period_start"] >= f"{y}-12":
                chips_end[(s, y)] = float(r["chips_online"] or 0)
    years = sorted(dem)
    sites = sorted(juris, key=lambda s: (juris[s] != "CN", s))
    print("\nutilisation (busy / online chip-hours) by site and year; chips online at the end of 2028")
    print(f"  {'site':30s} " + " ".join(f"{y:>6s}" for y in years) + f" {'chips':>10s}")
    for s in sites:
        cells = []
        for y in years:
            o = online[(s, y)]
            cells.append(f"{busy[(s, y)] / o:6.2f}" if o else f"{'-':>6s}")
        print(f"  {s:30s} " + " ".join(cells) + f" {chips_end.get((s, years[-1]), 0):10,.0f}")
    jb, jo = defaultdict(float), defaultdict(float)
    for (s, y), v in busy.items():
        jb[(juris[s], y)] += v
        jo[(juris[s], y)] += online[(s, y)]
    print("  " + "-" * 40)
    for j in sorted({juris[s] for s in sites}):
        cells = [f"{jb[(j, y)] / jo[(j, y)]:6.2f}" if jo[(j, y)] else f"{'-':>6s}" for y in years]
        print(f"  {'jurisdiction ' + j:30s} " + " ".join(cells))

    # observations
    obs = list(csv.DictReader(open(outdir / "observations.csv")))
    count = defaultdict(int)
    for r in obs:
        count[r["status"]] += 1
    scored = [r for r in obs if r["status"] in ("inside", "outside")]
    inside = sum(r["status"] == "inside" for r in scored)
    print(f"\nobservations: {dict(count)}")
    print(f"SCORE: {inside} of {len(scored)} scored observations inside their range")
    for r in scored:
        print(f"  [{r['status']:7s}] line {r['line']:>3s} {r['date']} {r['metric']:24s} {r['group']:28s} "
              f"sim {float(r['sim_mean']):.3g} vs {float(r['low']):.3g}..{float(r['high']):.3g} "
              f"(window {r['window_start']}..{r['window_end']})")
    inputs = [r for r in obs if r["status"] == "input"]
    print("input rows (shown, not scored):")
    for r in inputs:
        sm = f"{float(r['sim_mean']):.3g}" if r["sim_mean"] else "-"
        print(f"  [input  ] line {r['line']:>3s} {r['date']} {r['metric']:24s} {r['group']:28s} "
              f"sim {sm} vs {float(r['low']):.3g}..{float(r['high']):.3g}")
    return inside, len(scored)


def headline(outdir: Path):
    vals = defaultdict(list)
    with open(outdir / "headline.csv") as f:
        for r in csv.DictReader(f):
            vals[r["metric"]].append(float(r["value"]) if r["value"] else float("nan"))
    return {k: mean(v) for k, v in vals.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capsim", default=str(ROOT / "target" / "release" / "capsim"))
    ap.add_argument("--replications", type=int, default=2)
    ap.add_argument("--period", default="month", choices=["day", "week", "month"])
    ap.add_argument("--keep", help="write the stripped scenarios and outputs here instead of a temp folder")
    ap.add_argument("--no-strip", action="store_true",
                    help="for a binary that knows the new fields but not `include`: only concatenate the "
                         "fragments into one TOML (the `include` key removed), keep every other field")
    ap.add_argument("--whatifs", action="store_true",
                    help="also run each what-if (same replications and seed) and compare headline numbers")
    a = ap.parse_args()

    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="capsim-national-"))
    if tmp.exists() and a.keep:
        shutil.rmtree(tmp)
    (tmp / "baseline").mkdir(parents=True)

    text = concatenated_baseline()
    check_no_duplicates(text)
    stripped = drop_include(text) if a.no_strip else strip_text(text)
    try:
        tomllib.loads(stripped)
    except tomllib.TOMLDecodeError as e:
        sys.exit(f"stripping broke the TOML: {e}")
    (tmp / "baseline.toml").write_text(stripped)
    shutil.copy(SCEN / "baseline" / "observed.csv", tmp / "baseline" / "observed.csv")
    whatifs = []
    for p in sorted(SCEN.glob("*.toml")):
        if p.name == "baseline.toml":
            continue
        (tmp / p.name).write_text(p.read_text() if a.no_strip else strip_text(p.read_text()))
        whatifs.append(tmp / p.name)
    print(f"{'concatenated' if a.no_strip else 'stripped'} scenarios in {tmp}")

    ok = True
    for p in [tmp / "baseline.toml"] + whatifs:
        r = run([a.capsim, "validate", str(p)])
        status = "ok" if r.returncode == 0 else f"FAILED (exit {r.returncode})"
        print(f"validate {p.name}: {status}")
        if r.returncode != 0:
            ok = False
            print(r.stdout + r.stderr)
    if not ok:
        sys.exit(1)

    # One replication, one thread: the speed target (about a second for the whole horizon).
    out1 = tmp / "out-1rep"
    t0 = time.perf_counter()
    r = run([a.capsim, "run", str(tmp / "baseline.toml"), "--out", str(out1), "--quiet", "--threads", "1",
             "--period", a.period])
    t1 = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(r.stdout + r.stderr)
    man = json.loads((out1 / "baseline" / "manifest.json").read_text())
    print(f"\nONE REPLICATION, ONE THREAD: simulation {man['wall_time_s']:.3f} s (manifest wall_time_s), "
          f"whole command {t1:.2f} s incl. CSVs, charts and report; events {man['events']:,}; jobs {man['jobs']}")

    outn = tmp / "out"
    r = run([a.capsim, "run", str(tmp / "baseline.toml"), "--out", str(outn), "--quiet",
             "--replications", str(a.replications), "--period", a.period])
    if r.returncode != 0:
        sys.exit(r.stdout + r.stderr)
    report_run(outn / "baseline", "baseline")

    if a.whatifs:
        base = headline(outn / "baseline")
        keys = ["tokens_served_share", "compute_pflop_days", "compute_abroad_share", "cost_firms_usd",
                "training_jobs_completed", "completion_hours_p50_training", "blocked_jobs_end", "evictions"]
        print(f"\nwhat-ifs ({a.replications} replication(s) each, same seeds), means of the headline numbers:")
        print(f"  {'scenario':22s} " + " ".join(f"{k[:18]:>18s}" for k in keys))
        print(f"  {'baseline':22s} " + " ".join(f"{base.get(k, float('nan')):18.4g}" for k in keys))
        for p in whatifs:
            o = tmp / ("out-" + p.stem)
            r = run([a.capsim, "run", str(p), "--out", str(o), "--quiet", "--period", a.period,
                     "--replications", str(a.replications)])
            if r.returncode != 0:
                print(f"  {p.stem}: run FAILED\n{r.stdout}{r.stderr}")
                continue
            name = tomllib.loads(p.read_text()).get("name", p.stem)
            h = headline(o / name)
            print(f"  {p.stem:22s} " + " ".join(f"{h.get(k, float('nan')):18.4g}" for k in keys))


if __name__ == "__main__":
    main()
