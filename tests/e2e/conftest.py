"""Fixtures of the end-to-end tests of `capsim serve` (run by .ci/e2e.sh).

The server: CAPSIM_E2E_URL (e.g. http://127.0.0.1:8765/) with CAPSIM_E2E_OUT (its --out folder) when
one is already running, as .ci/e2e.sh starts it; otherwise these fixtures start
`target/release/capsim serve scenarios/lease-ban-2026.toml scenarios/baseline.toml scenarios/h200-opens.toml --port 0 --out TMP`
themselves and stop it at the end.

The browser: Debian's Chromium (CAPSIM_E2E_CHROMIUM, default /usr/bin/chromium) driven by Playwright,
never a browser downloaded by Playwright.

Outputs: screenshots into CAPSIM_E2E_SHOTS (default docs/serve/), timings and logs into
CAPSIM_E2E_ARTIFACTS (default target/e2e/).
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _wait_up(url, timeout=60.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "api/scenarios", timeout=5) as r:
                if r.status == 200:
                    return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.2)
    raise RuntimeError(f"capsim serve did not answer at {url} within {timeout}s: {last}")


@pytest.fixture(scope="session")
def server():
    """(base URL ending in '/', --out folder of the server)."""
    url = os.environ.get("CAPSIM_E2E_URL")
    if url:
        url = url if url.endswith("/") else url + "/"
        out = os.environ.get("CAPSIM_E2E_OUT")
        _wait_up(url)
        yield url, pathlib.Path(out) if out else None
        return
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = pathlib.Path(os.environ.get("CAPSIM_BIN", target / "release/capsim"))
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: run `cargo build --release` first, or set CAPSIM_E2E_URL")
    out = pathlib.Path(tempfile.mkdtemp(prefix="capsim-e2e-out-"))
    log = open(out.parent / (out.name + ".log"), "w")
    proc = subprocess.Popen(
        [str(binary), "serve", "scenarios/lease-ban-2026.toml", "scenarios/baseline.toml",
         "scenarios/h200-opens.toml",
         "--port", "0", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"capsim serve printed {line!r}, not its address (log: {log.name})")
        url = line if line.endswith("/") else line + "/"
        _wait_up(url)
        yield url, out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url(server):
    return server[0]


@pytest.fixture(scope="session")
def out_dir(server):
    return server[1]


@pytest.fixture(scope="session")
def artifacts():
    d = pathlib.Path(os.environ.get("CAPSIM_E2E_ARTIFACTS", ROOT / "target/e2e"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def shots():
    d = pathlib.Path(os.environ.get("CAPSIM_E2E_SHOTS", ROOT / "docs/serve"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("CAPSIM_E2E_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, base_url, artifacts):
    """One page for a module's tests, which run in order and build on each other."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True,
                              device_scale_factor=1)
    pg = ctx.new_page()
    log = []
    pg.on("console", lambda m: log.append(f"console.{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: log.append(f"pageerror: {e}"))
    # Nothing may be fetched from anywhere but the server itself.
    outside = []

    def route(r):
        if r.request.url.startswith(base_url) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    pg.capsim_log = log
    pg.capsim_outside = outside
    yield pg
    (artifacts / "browser-console.log").write_text("\n".join(log) + "\n")
    ctx.close()
    assert not outside, f"the page fetched from outside the server: {outside}"
    errors = [l for l in log if l.startswith("pageerror")]
    assert not errors, f"JavaScript errors on the page: {errors}"


def write_json(path, data):
    path.write_text(json.dumps(data, indent=2) + "\n")
