#!/usr/bin/env bash
# Renders report.html of a fresh run (the built-in baseline) and of a comparison (baseline vs the
# lease-ban what-if) in headless Chromium with the network off, as a screenshot and as a PDF, so a
# person can look at what a reader gets. Fails if the page asks for anything over the network, if
# Chromium exits non-zero, or if the screenshot or the PDF is missing or empty.
#
# usage: scripts/check-report-in-chromium.sh [--install] [OUT_DIR]
#   --install   apt-get install chromium (and poppler-utils, for PNGs of the PDF's pages) if missing
#   OUT_DIR     where the run folders, screenshots and PDFs go (default: a new temporary folder)
# env: CHROMIUM=/path/to/chromium to pick the browser binary.
set -euo pipefail

install=0
out=""
for a in "$@"; do
    case "$a" in
        --install) install=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        -*) echo "unknown option $a (see --help)" >&2; exit 2 ;;
        *) out="$a" ;;
    esac
done

find_chromium() {
    if [ -n "${CHROMIUM:-}" ]; then echo "$CHROMIUM"; return; fi
    for c in chromium chromium-browser google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
    done
}

browser="$(find_chromium || true)"
if [ -z "$browser" ] && [ "$install" = 1 ]; then
    apt-get install -y chromium poppler-utils
    browser="$(find_chromium || true)"
fi
if [ -z "$browser" ]; then
    echo "error: chromium not found" >&2
    echo "  help: apt-get install -y chromium   (or run this script with --install, or set CHROMIUM=...)" >&2
    exit 1
fi

cd "$(dirname "$0")/.."
out="${out:-$(mktemp -d -t capsim-report-XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

cargo run --quiet --release -- run --out "$out" --replications 3
cargo run --quiet --release -- run scenarios/lease-ban-2026.toml --out "$out" --replications 3
cargo run --quiet --release -- compare "$out/baseline" "$out/lease-ban-2026" --out "$out/compare"

status=0
check_page() { # page.html name
    local page="$1" name="$2"
    # Nothing may be fetched: no src/href attributes, no CSS url(). (xmlns in SVG is a name, not a fetch.)
    if grep -Eqo '(src|href|srcset|action)=|url\(' "$page"; then
        echo "FAIL $name: the page refers to outside resources:" >&2
        grep -Eo '.{0,40}((src|href|srcset|action)=|url\().{0,60}' "$page" | head -5 >&2
        status=1
    fi
    local profile
    profile="$(mktemp -d -t capsim-chromium-XXXXXX)"
    # --proxy-server points at a closed port, so any request fails instead of leaving the machine.
    local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --user-data-dir="$profile" --proxy-server=127.0.0.1:9 --hide-scrollbars)
    if ! "$browser" "${flags[@]}" --screenshot="$out/$name.png" --window-size=1400,3000 \
        "file://$page" >"$out/$name.screenshot.log" 2>&1; then
        echo "FAIL $name: chromium exited non-zero taking the screenshot (see $out/$name.screenshot.log)" >&2
        status=1
    fi
    if ! "$browser" "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$out/$name.pdf" \
        "file://$page" >"$out/$name.pdf.log" 2>&1; then
        echo "FAIL $name: chromium exited non-zero printing to PDF (see $out/$name.pdf.log)" >&2
        status=1
    fi
    rm -rf "$profile"
    for f in "$out/$name.png" "$out/$name.pdf"; do
        if [ ! -s "$f" ]; then
            echo "FAIL $name: $f is missing or empty" >&2
            status=1
        fi
    done
    if [ -s "$out/$name.pdf" ] && command -v pdftoppm >/dev/null 2>&1; then
        pdftoppm -png -r 60 -f 1 -l 3 "$out/$name.pdf" "$out/$name-page"
    fi
    echo "$name: $out/$name.png, $out/$name.pdf"
}

check_page "$out/baseline/report.html" run-report
check_page "$out/compare/report.html" compare-report

if [ "$status" = 0 ]; then
    echo "ok: the reports render in Chromium offline; look at the screenshots and PDFs above"
fi
exit "$status"
