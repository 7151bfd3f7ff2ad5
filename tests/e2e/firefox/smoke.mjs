// capsim serve in Firefox: Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core (no
// browser is downloaded). The page loads its scenarios, runs the baseline (2 replications), draws
// its charts as they stream in, and shows a value when the pointer is over a chart; no script error.
//
// usage: node smoke.mjs URL [SCREENSHOT]   (.ci/e2e.sh runs it against the server it started)
import puppeteer from 'puppeteer-core';

const [url, shot] = process.argv.slice(2);
const firefox = process.env.CAPSIM_E2E_FIREFOX || '/usr/bin/firefox-esr';
const fail = (msg) => { console.error(`firefox smoke: FAILED: ${msg}`); process.exitCode = 1; };

const browser = await puppeteer.launch({
  browser: 'firefox', executablePath: firefox, headless: true, defaultViewport: null,
  args: ['--width=1400', '--height=1000'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('#scenario option[value="baseline"]', { timeout: 30000 });
  await page.select('#scenario', 'baseline');
  await page.waitForFunction(() => window.capsim?.state?.scenario?.id === 'baseline', { timeout: 30000 });
  await page.$eval('#replications', (e) => { e.value = '2'; e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true })); });
  await page.$eval('#run-name', (e, n) => { e.value = n; e.dispatchEvent(new Event('input', { bubbles: true })); }, `firefox-smoke-${Date.now()}`);
  const t0 = Date.now();
  await page.click('#run');
  await page.waitForFunction(() => Number(document.querySelector('#charts')?.dataset.done) >= 1, { timeout: 120000 });
  const first = Date.now() - t0;
  await page.waitForFunction(() => Number(document.querySelector('#charts')?.dataset.done) >= 2, { timeout: 120000 });
  const all = Date.now() - t0;
  const canvases = await page.$$eval('#charts canvas', (c) => c.length);
  if (canvases < 5) fail(`only ${canvases} chart canvases drawn`);
  // Hover the middle of the first chart's plot area and read the legend.
  const over = await page.$('#charts .u-over');
  if (!over) {
    fail('no uPlot plot area');
  } else {
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
    await new Promise((r) => setTimeout(r, 300));
    const values = await page.$$eval('#charts .u-legend .u-value', (v) => v.map((x) => x.textContent.trim()));
    if (!values.some((v) => v && v !== '--' && v !== '-' && /\d/.test(v))) fail(`no value on hover: ${JSON.stringify(values.slice(0, 6))}`);
    else console.log(`firefox smoke: hover reads ${JSON.stringify(values.slice(0, 3))}`);
  }
  if (shot) await page.screenshot({ path: shot });
  if (errors.length) fail(`script errors: ${JSON.stringify(errors)}`);
  const version = await browser.version();
  console.log(`firefox smoke: ${version}: ${canvases} chart canvases; first chart ${first} ms, both replications ${all} ms after Run`);
} finally {
  await browser.close();
}
