"""Bounded load test of `capsim serve` on loopback (issue 14): 100 concurrent requests, good and bad,
at once. Every request is answered, none with a 5xx, bad ones with a 4xx; the server is alive after;
no run is lost (every accepted run reaches a terminal state, done, and its run folder exists)."""

import collections
import concurrent.futures
import http.client
import json
import threading
import time
import urllib.parse

STAMP = time.strftime("%Y%m%d-%H%M%S")
N = 100


def request(base, method, path, body=None, raw=None, headers=None, timeout=120):
    """(status, parsed JSON or text or None); status 0 with the error when no answer came."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif raw is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading all of a large body
        r = conn.getresponse()
        text = r.read()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text[:200]
    except Exception as e:  # noqa: BLE001: any failure to get an answer is reported
        return 0, repr(e)
    finally:
        conn.close()


def plan():
    """The 100 requests: (kind, expect, method, path, kwargs); expect: 'ok' (2xx) or 'bad' (4xx)."""
    good_check = {"scenario": "lease-ban-2026", "set": ["chips.h100.training_mfu=0.35"], "add_policies": []}
    bad_check = {"scenario": "lease-ban-2026", "set": ["chips.h100.training_mfu=2"], "add_policies": []}
    reqs = []
    add = lambda n, *r: reqs.extend([r] * n)  # noqa: E731
    add(10, "scenarios", "ok", "GET", "/api/scenarios", {})
    add(6, "scenario", "ok", "GET", "/api/scenarios/lease-ban-2026", {})
    add(4, "scenario", "ok", "GET", "/api/scenarios/baseline", {})
    add(8, "check good", "ok", "POST", "/api/check", {"body": good_check})
    add(8, "check bad", "bad", "POST", "/api/check", {"body": bad_check})
    for p in ["/", "/assets/app.js", "/assets/app.css", "/assets/vendor/uplot/uPlot.iife.min.js",
              "/assets/vendor/uplot/uPlot.min.css"]:
        add(2, "static", "ok", "GET", p, {})
    add(5, "folders", "ok", "GET", "/api/folders", {})
    add(2, "charts of no folder", "bad", "GET", "/api/folders/no-such/charts?compare=other", {})
    for i in range(4):
        reqs.append(("run", "ok", "POST", "/api/runs", {"body": {
            "scenario": "baseline" if i % 2 else "lease-ban-2026", "set": [], "add_policies": [],
            "replications": 1, "period": "quarter", "name": f"load-{STAMP}-{i}", "when_busy": "queue"}}))
    add(6, "malformed JSON", "bad", "POST", "/api/check", {"raw": b'{"scenario": "baseline", "set": [,}'})
    add(2, "malformed JSON", "bad", "POST", "/api/runs", {"raw": b"not json at all"})
    add(2, "wrong JSON type", "bad", "POST", "/api/runs", {"body": ["a", "list"]})
    add(4, "unknown scenario", "bad", "POST", "/api/check", {"body": {"scenario": "no-such", "set": []}})
    add(2, "unknown scenario", "bad", "GET", "/api/scenarios/no-such", {})
    add(2, "unknown scenario", "bad", "POST", "/api/runs", {"body": {"scenario": "no-such", "replications": 1}})
    for p in ["/nope", "/api/nope", "/assets/nope.js", "/api/runs/r999999", "/api/runs/r999999/events",
              "/api/folders/no-such/charts", "/api/folders/no-such/files/report.html",
              "/api/folders/..%2F..%2Fetc/files/passwd"]:
        add(1, "unknown route", "bad", "GET", p, {})
    big = json.dumps({"scenario": "baseline", "set": ["x=" + "9" * (1 << 20)]}).encode()
    add(4, "oversized body", "bad", "POST", "/api/check", {"raw": big})
    for body in [
        {"scenario": "baseline", "set": ["chips.h100.training_mfu=abc"]},
        {"scenario": "baseline", "set": ["no.such.field=1"]},
        {"scenario": "baseline", "set": ["policy.no-such-rule.from=2027-01-01"]},
        {"scenario": "baseline", "set": ["=="]},
        {"scenario": "baseline", "set": [], "add_policies": ["rule = "]},
    ]:
        add(1, "bad field", "bad", "POST", "/api/check", {"body": body})
    for body in [
        {"scenario": "baseline", "replications": 0},
        {"scenario": "baseline", "replications": 100000},
        {"scenario": "baseline", "replications": 1, "period": "decade"},
        {"scenario": "baseline", "replications": 1, "when_busy": "maybe"},
        {"scenario": "baseline", "replications": 1, "name": "../escape"},
        {"scenario": "baseline", "replications": 1, "set": ["chips.h100.training_mfu=-1"]},
    ]:
        add(1, "bad run", "bad", "POST", "/api/runs", {"body": body})
    add(1, "bad method", "bad", "DELETE", "/api/scenarios", {})
    add(1, "bad method", "bad", "PUT", "/api/check", {"body": good_check})
    assert len(reqs) == N, len(reqs)
    return reqs


def test_100_concurrent_requests(base_url, out_dir, artifacts):
    reqs = plan()
    gate = threading.Barrier(N)

    def one(r):
        kind, expect, method, path, kw = r
        gate.wait(timeout=60)
        t = time.perf_counter()
        status, data = request(base_url, method, path, body=kw.get("body"), raw=kw.get("raw"))
        return kind, expect, method, path, status, data, time.perf_counter() - t

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(one, reqs))
    wall = time.perf_counter() - t0

    unanswered = [(k, m, p, d) for k, _, m, p, s, d, _ in results if s == 0]
    server_errors = [(k, m, p, s, d) for k, _, m, p, s, d, _ in results if s >= 500]
    wrong = [(k, m, p, s, d) for k, e, m, p, s, d, _ in results
             if s and s < 500 and ((e == "ok") != (200 <= s < 300))]
    by_kind = collections.defaultdict(collections.Counter)
    for k, _, _, _, s, _, _ in results:
        by_kind[k][s] += 1
    summary = {
        "requests": N,
        "wall_s": round(wall, 3),
        "slowest_s": round(max(r[6] for r in results), 3),
        "statuses": {k: dict(v) for k, v in sorted(by_kind.items())},
    }
    print("\n" + json.dumps(summary, indent=2))
    assert not unanswered, f"requests with no answer: {unanswered}"
    assert not server_errors, f"5xx answers: {server_errors}"
    assert not wrong, f"good requests refused or bad ones accepted: {wrong}"
    # A bad request says what is wrong, as JSON (axum's own 405 has no body: not required here).
    for k, e, m, p, s, d, _ in results:
        if e == "bad" and s != 405:
            assert isinstance(d, dict) and (d.get("error") or d.get("errors")), (k, p, s, d)

    # The server is still alive and serving.
    status, data = request(base_url, "GET", "/api/scenarios")
    assert status == 200 and data["scenarios"], (status, data)

    # No run lost: each accepted run ends done and its folder exists and is listed.
    runs = [d for k, _, _, _, s, d, _ in results if k == "run" and s == 202]
    assert len(runs) == 4, runs
    deadline = time.monotonic() + 300
    states = {}
    for run in runs:
        while True:
            s, st = request(base_url, "GET", f"/api/runs/{run['id']}")
            assert s == 200, (s, st)
            if st["state"] in ("done", "failed", "cancelled"):
                states[run["name"]] = st["state"]
                break
            assert time.monotonic() < deadline, f"run {run} stuck in {st}"
            time.sleep(0.2)
    assert all(v == "done" for v in states.values()), states
    s, folders = request(base_url, "GET", "/api/folders")
    listed = {f["name"] for f in folders["folders"]}
    for run in runs:
        assert run["name"] in listed, f"{run['name']} not listed"
        if out_dir is not None:
            assert (out_dir / run["name"] / "manifest.json").is_file(), run["name"]
            assert (out_dir / run["name"] / "report.html").is_file(), run["name"]
    summary["runs"] = states
    (artifacts / "load-test.json").write_text(json.dumps(summary, indent=2) + "\n")
