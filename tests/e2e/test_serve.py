"""End-to-end: `capsim serve` in headless Chromium, as an analyst uses it (issue 14).

Open the page; run the baseline (8 replications); choose lease-ban-2026 and move the lease ban to
2027-01-01; run 8 replications and watch the charts update as they stream in, and the ban's marker
move; hover a point and read its value; compare with the baseline run (paired differences); download
the report; enter a bad value and see the loader's located error beside the field; a new run cancels
or queues behind the one in progress, as chosen.

Timings (from the click on Run to the first chart drawn, and to all 8 replications drawn) are printed
and written to CAPSIM_E2E_ARTIFACTS/e2e-timings.json; screenshots go to docs/serve/.

The tests of this module share one page and run in order.
"""

import json
import re
import time
import urllib.request

import pytest

from conftest import write_json

STAMP = time.strftime("%Y%m%d-%H%M%S")
BASELINE_RUN = f"e2e-baseline-{STAMP}"
BAN_RUN = f"e2e-lease-ban-2027-{STAMP}"
BAN = "us-offshore-lease-ban-cn"
NEW_DATE = "2027-01-01"
REPS = 8
TIMINGS = {}
RUN_TIMEOUT_MS = 180_000


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def choose_scenario(page, sid):
    page.select_option("#scenario", sid)
    page.wait_for_function("(id) => window.capsim.state.scenario && window.capsim.state.scenario.id === id", arg=sid)


def run_timed(page, name, label):
    """Click Run (8 replications, named `name`), and measure until the first chart update and until
    all replications are drawn."""
    page.fill("#replications", str(REPS))
    page.fill("#run-name", name)
    page.select_option("#when-busy", "cancel")
    before = page.eval_on_selector("#charts", "c => c.dataset.run || ''")
    t0 = time.perf_counter()
    page.click("#run")
    page.wait_for_function(
        "(old) => { const c = document.querySelector('#charts');"
        " return c.dataset.run && c.dataset.run !== old && Number(c.dataset.done) >= 1; }",
        arg=before, polling="raf", timeout=RUN_TIMEOUT_MS)
    t_first = time.perf_counter()
    page.wait_for_function(
        "([old, n]) => { const c = document.querySelector('#charts');"
        " return c.dataset.run && c.dataset.run !== old && Number(c.dataset.done) === n; }",
        arg=[before, REPS], polling="raf", timeout=RUN_TIMEOUT_MS)
    t_all = time.perf_counter()
    page.wait_for_selector("#progress[data-state=done]", timeout=RUN_TIMEOUT_MS)
    page.wait_for_function("() => window.capsim.timings && window.capsim.timings.server_wall_time_s != null")
    in_page = page.evaluate("() => window.capsim.timings")
    updates = int(page.eval_on_selector("#charts", "c => c.dataset.updates"))
    t = {
        "run": name,
        "replications": REPS,
        "first_chart_ms": round((t_first - t0) * 1000),
        "all_charts_ms": round((t_all - t0) * 1000),
        "page_accepted_ms": in_page["accepted_ms"],
        "page_first_chart_ms": in_page["first_chart_ms"],
        "page_first_chart_replications": in_page["first_chart_replications"],
        "page_all_charts_ms": in_page["all_charts_ms"],
        "server_first_chart_ms": in_page["server_first_chart_ms"],
        "server_all_charts_ms": in_page["server_all_charts_ms"],
        "server_wall_time_s": in_page["server_wall_time_s"],
        "chart_updates_so_far": updates,
    }
    TIMINGS[label] = t
    print(f"\n{label}: Run -> first chart {t['first_chart_ms']} ms ({in_page['first_chart_replications']} of {REPS} replications), "
          f"-> all {REPS} drawn {t['all_charts_ms']} ms (in page: {t['page_first_chart_ms']} / "
          f"{t['page_all_charts_ms']} ms; server: {t['server_wall_time_s']} s)")
    assert page.inner_text("#progress-text").startswith("Done"), page.inner_text("#progress-text")
    assert page.eval_on_selector("#progress", "p => p.dataset.done") == str(REPS)
    return t


def marks_of(page, chart="throughput-compute"):
    sec = page.locator(f'#charts [data-chart="{chart}"]')
    marks = json.loads(sec.get_attribute("data-marks"))
    keys = sec.locator(".key li").all_inner_texts()
    return marks, keys


def ban_mark(page):
    marks, keys = marks_of(page)
    key = next((k for k in keys if BAN in k), None)
    assert key is not None, f"no key line for {BAN}: {keys}"
    label = key.split()[0]
    mark = next(m for m in marks if m["label"] == label and not m["end"])
    return mark, key


def test_01_page_loads(page, base_url):
    page.goto(base_url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    ids = page.eval_on_selector_all("#scenario option", "os => os.map(o => o.value)")
    assert "lease-ban-2026" in ids and "baseline" in ids, ids
    assert page.evaluate("() => typeof uPlot") == "function", "uPlot is served by the binary"
    assert page.locator("#fields [data-field]").count() > 50, "a form field for every field"
    assert page.locator("#policies [data-policy]").count() > 3
    # Every control has an accessible name (a label, aria-label or text).
    unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label') ||
                         e.getAttribute('aria-labelledby') || (e.tagName === 'BUTTON' && e.textContent.trim())))
        .map((e) => e.outerHTML.slice(0, 120))""")
    assert not unnamed, unnamed


def test_02_baseline_run(page):
    choose_scenario(page, "baseline")
    t = run_timed(page, BASELINE_RUN, "baseline")
    assert page.locator("#charts .chart").count() >= 5
    assert page.locator("#charts .chart .u-over").count() >= 5, "interactive uPlot panels"
    # The bands tighten as replications arrive: the charts were redrawn more than once.
    assert t["chart_updates_so_far"] >= 2


def test_02b_baseline_again(page):
    """The same baseline run again, now that the server and the page are warm (the figure a user
    sees for every run after the first)."""
    run_timed(page, f"e2e-baseline-warm-{STAMP}", "baseline-warm")


def test_03_move_ban_and_run(page, shots, base_url):
    choose_scenario(page, "lease-ban-2026")
    sc = get_json(base_url + "api/scenarios/lease-ban-2026")
    old_date = next(p for p in sc["policies"] if p["name"] == BAN)["from"][:10]
    assert old_date != NEW_DATE
    row = page.locator(f'#policies [data-policy="{BAN}"]')
    handle = page.locator(f'#timeline g[data-rule="{BAN}"] circle')
    cx_before = float(handle.get_attribute("cx"))
    row.locator("input[data-role=from]").fill(NEW_DATE)
    row.locator("input[data-role=from]").dispatch_event("change")
    page.wait_for_function(
        "(s) => document.querySelector('#edits').textContent.includes(s)",
        arg=f"policy.{BAN}.from={NEW_DATE}")
    cx_after = float(handle.get_attribute("cx"))
    assert cx_after > cx_before, "the rule's dot moved right on the timeline strip"
    assert "edited" in row.get_attribute("class")
    # The edit checks out with the loader.
    page.click("#check")
    page.wait_for_timeout(300)
    assert page.locator("#check-errors li").count() == 0, page.inner_text("#check-errors")

    run_timed(page, BAN_RUN, "lease-ban-2027")
    mark, key = ban_mark(page)
    assert mark["date"] == NEW_DATE, (mark, key)
    assert key.split()[1] == NEW_DATE or NEW_DATE in key, key
    assert old_date not in key
    # The command line shown reproduces the run with the moved date.
    cmd = page.inner_text("#run-command")
    assert f"policy.{BAN}.from={NEW_DATE}" in cmd.replace("'", "").replace('"', ""), cmd
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "run.png"))


def test_04_hover_reads_a_value(page):
    over = page.locator('#charts [data-chart="throughput-compute"] .panel .u-over').first
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.5)
    panel = page.locator('#charts [data-chart="throughput-compute"] .panel').first
    tip = panel.locator("[data-testid=tooltip]")
    tip.wait_for(state="visible", timeout=5000)
    tip_text = tip.inner_text()
    legend = panel.locator(".u-legend .u-series").nth(1).locator(".u-value").inner_text()
    assert re.search(r"\d", legend), f"legend value while hovering: {legend!r}"
    # The value shown is the mean the server sent for the point under the cursor.
    expect = page.evaluate("""() => {
        const e = window.capsim.state.plots.get('throughput-compute');
        const u = e.panels[0].u, i = u.cursor.idx, c = u._capsim;
        return {i, text: window.capsim.fmt(c.pd.raw[0].mean[i], c.panel.unit)};
    }""")
    period = panel.locator(".u-legend .u-series").nth(0).locator(".u-value").inner_text()
    assert legend.startswith(expect["text"]), (legend, expect)
    assert re.search(r"\d{4}", period), f"the period under the cursor: {period!r}"
    assert expect["text"] in tip_text and period in tip_text, (tip_text, expect, period)
    print(f"\nhover: {period}: {legend}")


def test_04b_zoom_on_dates_and_toggle_a_series(page):
    chart = page.locator('#charts [data-chart="throughput-compute"]')
    over = chart.locator(".panel .u-over").first
    box = over.bounding_box()
    y = box["y"] + box["height"] * 0.5
    scales = """() => window.capsim.state.plots.get('throughput-compute').panels
        .filter((p) => p.u).map((p) => [p.u.scales.x.min, p.u.scales.x.max])"""
    full = page.evaluate(scales)
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    zoomed = page.evaluate(scales)
    span = lambda r: r[1] - r[0]  # noqa: E731
    assert span(zoomed[0]) < 0.5 * span(full[0]), (full[0], zoomed[0])
    assert all(z == zoomed[0] for z in zoomed), f"the chart's panels zoom together: {zoomed}"
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, y)
    assert page.evaluate(scales)[0] == full[0], "double-click resets the zoom"
    # Clicking a legend entry hides its series (and its band).
    entry = chart.locator(".panel").first.locator(".u-legend .u-series").nth(1)
    entry.click()
    assert "u-off" in (entry.get_attribute("class") or "")
    assert page.evaluate("() => window.capsim.state.plots.get('throughput-compute').panels[0].u.series[1].show") is False
    entry.click()
    assert "u-off" not in (entry.get_attribute("class") or "")


def test_05_compare_with_baseline(page, shots):
    page.select_option("#compare-run", BAN_RUN)
    page.select_option("#compare", BASELINE_RUN)
    table = page.locator("[data-testid=comparison-table]")
    table.wait_for(timeout=60_000)
    assert table.locator("tbody tr").count() >= 1
    cap = page.inner_text("#comparison")
    assert BAN_RUN in cap and BASELINE_RUN in cap, cap
    # The moved ban changes where the firms train: some paired difference is not zero.
    diffs = table.locator("tbody td.diff").all_inner_texts()
    assert any(re.search(r"[1-9]", d) for d in diffs), diffs
    assert "compared with" in page.inner_text("#view-title")
    # Both runs are overlaid in the charts.
    labels = page.locator('#charts [data-chart="throughput-compute"] .panel').first.locator(
        ".u-legend .u-series").all_inner_texts()
    assert len(labels) >= 3, labels
    box = page.locator("section[aria-labelledby=charts-h]").bounding_box()
    first = page.locator("#charts .chart").first.bounding_box()
    page.screenshot(path=str(shots / "compare.png"), full_page=True,
                    clip={"x": box["x"], "y": box["y"], "width": box["width"],
                          "height": first["y"] + first["height"] - box["y"]})


def test_06_download_report(page):
    link = page.locator(f'#runs [data-folder="{BAN_RUN}"] [data-testid=download-report]')
    link.scroll_into_view_if_needed()
    with page.expect_download() as dl:
        link.click()
    d = dl.value
    assert d.suggested_filename.endswith(".html"), d.suggested_filename
    text = open(d.path(), encoding="utf-8").read()
    assert "<html" in text.lower() or "<!doctype html" in text.lower()
    # The report names the scenario run and the edit made (the moved ban).
    assert "lease-ban-2026" in text, "the report names its scenario"
    assert NEW_DATE in text, "the report lists the override"
    cmd = page.locator(f'#runs [data-folder="{BAN_RUN}"] code.command').inner_text()
    assert "capsim run" in cmd and BAN_RUN in cmd, cmd


def test_07_bad_value_shows_located_error(page, shots):
    field = "chips.h100.training_mfu"
    page.fill("#field-search", field)
    inp = page.locator(f'[data-field="{field}"]')
    inp.wait_for(state="visible")
    inp.fill("2")
    err = page.locator(f'[data-field-row="{field}"] .field-error')
    page.wait_for_function(
        "(f) => document.querySelector(`[data-field-row=\"${f}\"] .field-error`).textContent.length > 0",
        arg=field, timeout=10_000)
    text = err.inner_text()
    assert "training_mfu" in text, text
    assert re.search(r":\d+:\d+", text), f"the loader's file:line:col: {text}"
    assert inp.get_attribute("aria-invalid") == "true"
    # Run refuses it with the same located error (a 4xx, not a run).
    runs_before = len(page.evaluate("() => Array.from(window.capsim.state.runs.keys())"))
    page.click("#run")
    page.wait_for_selector("#message:not([hidden])")
    assert "Not run" in page.inner_text("#message")
    assert len(page.evaluate("() => Array.from(window.capsim.state.runs.keys())")) == runs_before
    assert err.inner_text(), "the error stays beside the field"
    # The field in view in the (scrolling) sidebar, the page itself at its top.
    inp.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "error.png"))
    page.click("#reset-edits")
    page.wait_for_function("() => !document.querySelector('.field-error:not(:empty)')")


def test_07b_every_field_and_an_end_date_cleared(page, base_url):
    """The form offers fields the file leaves to their defaults, and clearing a rule's end date puts
    it on the horizon's last day (a setting cannot take a key out of a file)."""
    choose_scenario(page, "baseline")
    sc = get_json(base_url + "api/scenarios/baseline")
    defaults = [f for f in sc["inputs"] if f["default"]]
    assert defaults, "optional fields left out are offered"
    assert len(sc["inputs"]) > 1000, "every field the baseline can set, not only those given a source"
    page.fill("#field-search", defaults[0]["field"])
    row = page.locator(f'[data-field-row="{defaults[0]["field"]}"]')
    row.wait_for(state="visible")
    assert "default applies" in row.inner_text(), row.inner_text()
    page.fill("#field-search", "")
    # The H200 opening ends the export ban on a date.
    choose_scenario(page, "h200-opens")
    sc = get_json(base_url + "api/scenarios/h200-opens")
    ended = next(p for p in sc["policies"] if p["until"] and p["enabled"])
    until = page.locator(f'#policies [data-policy="{ended["name"]}"] input[data-role=until]')
    until.fill("")
    until.dispatch_event("change")
    end = sc["end_date"][:10]
    page.wait_for_function(
        "(s) => document.querySelector('#edits').textContent.includes(s)",
        arg=f'policy.{ended["name"]}.until={end}')
    assert until.input_value() == end
    page.click("#check")
    page.wait_for_timeout(300)
    assert page.locator("#check-errors li").count() == 0, page.inner_text("#check-errors")
    page.click("#reset-edits")


def test_08_busy_cancel_or_queue(page, base_url):
    choose_scenario(page, "baseline")
    page.fill("#run-name", "")

    def submit(reps, busy):
        page.fill("#replications", str(reps))
        page.select_option("#when-busy", busy)
        n = page.evaluate("() => window.capsim.state.runSeq")
        page.click("#run")
        page.wait_for_function("(n) => window.capsim.state.runSeq > n", arg=n)
        return page.evaluate("() => { const r = [...window.capsim.state.runs.values()].sort((a,b) => b.seq-a.seq)[0]; return r.id; }")

    def state_of(rid):
        return get_json(base_url + f"api/runs/{rid}")["state"]

    def wait_state(rid, states, timeout=RUN_TIMEOUT_MS / 1000):
        t = time.monotonic() + timeout
        while time.monotonic() < t:
            s = state_of(rid)
            if s in states:
                return s
            time.sleep(0.1)
        raise AssertionError(f"run {rid} stuck in {state_of(rid)}")

    long = submit(400, "cancel")
    wait_state(long, {"running"})
    short = submit(1, "cancel")
    assert wait_state(long, {"cancelled", "done", "failed"}) == "cancelled"
    assert wait_state(short, {"done", "failed", "cancelled"}) == "done"

    first = submit(40, "cancel")
    wait_state(first, {"running"})
    queued = submit(1, "queue")
    assert state_of(queued) in ("queued", "running", "done")
    assert wait_state(first, {"done", "failed", "cancelled"}) == "done", "queueing does not cancel"
    assert wait_state(queued, {"done", "failed", "cancelled"}) == "done"
    page.wait_for_selector("#progress[data-state=done]", timeout=RUN_TIMEOUT_MS)


def test_99_write_timings(artifacts):
    assert TIMINGS, "no run was timed"
    write_json(artifacts / "e2e-timings.json", TIMINGS)
    print("\n" + json.dumps(TIMINGS, indent=2))
