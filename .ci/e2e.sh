#!/usr/bin/env bash
# CI: `capsim serve` end to end in a real browser (issue 14).
#   1. tests/e2e/test_serve.py: headless Chromium (Debian's, driven by Playwright) opens the page,
#      runs the baseline, moves the lease ban of lease-ban-2026 to 2027-01-01 and runs 8 replications
#      (charts update as they stream in; the ban's marker moves), hovers a point and reads its value,
#      compares with the baseline (paired differences), downloads the report, sees a bad value's
#      located error beside its field, and cancels or queues a run behind another. It measures the
#      time from Run to the first chart and to all 8 replications drawn, and takes the README's
#      screenshots (docs/serve/).
#   2. tests/e2e/test_load.py: 100 concurrent good and bad requests on loopback: all answered, no 5xx,
#      the server alive after, no run lost.
#   3. tests/e2e/firefox/smoke.mjs: the page in Firefox (Debian's firefox-esr over WebDriver BiDi,
#      puppeteer-core from the npm registry): loads, runs, draws, shows a value on hover.
#      CAPSIM_E2E_FIREFOX=0 skips it.
#
# Installs what it needs: Debian's chromium and firefox-esr (apt-get, when missing; never a browser
# downloaded by Playwright or puppeteer), python3 and python3-venv when missing, playwright + pytest
# from the Python package index into .ci/.venv (ignored by git; shared with .ci/python.sh), and
# nodejs + npm (apt-get, when missing) with puppeteer-core (npm ci) for the Firefox smoke test only:
# the page itself needs no Node.js to build or run.
#
# Writes: docs/serve/*.png (screenshots), target/e2e/e2e-timings.json and load-test.json (timings),
# target/e2e/serve.log (the server's log).
#
# usage: .ci/e2e.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
CHROMIUM=${CAPSIM_E2E_CHROMIUM:-/usr/bin/chromium}
FIREFOX_SMOKE=${CAPSIM_E2E_FIREFOX:-1}
FIREFOX=/usr/bin/firefox-esr
if [[ $FIREFOX_SMOKE == 0 ]]; then FIREFOX=; fi
APT=()
[[ -x $CHROMIUM ]] || APT+=(chromium)
if [[ -n $FIREFOX ]]; then
  [[ -x $FIREFOX ]] || APT+=(firefox-esr)
  command -v node >/dev/null || APT+=(nodejs)
  command -v npm >/dev/null || APT+=(npm)
fi
if ((${#APT[@]})); then
  echo "e2e.sh: installing ${APT[*]} (apt-get)"
  apt-get update -qq
  apt-get install -y -qq "${APT[@]}" >/dev/null
fi
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  echo "e2e.sh: installing python3 and python3-venv (apt-get)"
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv >/dev/null
fi
VENV=.ci/.venv
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
# Playwright's Python package only: its browsers are never downloaded (Debian's chromium is used).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "playwright>=1.45" "pytest>=8"
if [[ -n $FIREFOX ]]; then
  # puppeteer-core downloads no browser.
  npm ci --prefix tests/e2e/firefox --no-audit --no-fund --loglevel=error >/dev/null
fi

cargo build --release --locked -q

ART=target/e2e
mkdir -p "$ART"
RUN=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT

# Any free port (--port 0); the server prints its address as its first line.
"${CARGO_TARGET_DIR:-target}/release/capsim" serve scenarios/lease-ban-2026.toml scenarios/baseline.toml scenarios/h200-opens.toml \
  --port 0 --out "$RUN/out" >"$RUN/address" 2>"$ART/serve.log" &
SERVER_PID=$!
URL=
for _ in $(seq 300); do
  URL=$(head -n1 "$RUN/address" 2>/dev/null || true)
  if [[ $URL == http://* ]] && python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "${URL}api/scenarios" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "e2e.sh: capsim serve exited:" >&2
    cat "$ART/serve.log" >&2
    exit 1
  fi
  URL=
  sleep 0.2
done
if [[ -z $URL ]]; then
  echo "e2e.sh: capsim serve did not answer within 60 s" >&2
  cat "$ART/serve.log" >&2
  exit 1
fi
echo "== capsim serve at $URL (out: $RUN/out)"

CAPSIM_E2E_URL=$URL CAPSIM_E2E_OUT="$RUN/out" CAPSIM_E2E_CHROMIUM=$CHROMIUM CAPSIM_E2E_ARTIFACTS=$ART \
  "$VENV/bin/python" -m pytest -q -s -p no:cacheprovider tests/e2e/test_serve.py tests/e2e/test_load.py "$@"

if [[ -n $FIREFOX ]]; then
  echo "== the page in Firefox"
  CAPSIM_E2E_FIREFOX=$FIREFOX node tests/e2e/firefox/smoke.mjs "$URL" "$ART/firefox.png"
fi

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "e2e.sh: capsim serve did not survive the tests" >&2
  cat "$ART/serve.log" >&2
  exit 1
fi
echo "== timings (target/e2e/e2e-timings.json)"
cat "$ART/e2e-timings.json"
