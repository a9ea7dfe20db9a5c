// Opens the parley demo page in Debian's headless chromium with a fake microphone playing a WAV file, clicks
// Start, and reports (one JSON line on stdout) whether the peer connection reached `connected`, the events
// seen, and the loudest level of the received (echoed) audio measured with WebAudio on the page.
//
//   node tests/browser/demo_echo.mjs URL FILE.wav [SECONDS]
import { chromium } from 'playwright-core';

const [url, wav, seconds = '8'] = process.argv.slice(2);
if (!url || !wav) {
  console.error('usage: node demo_echo.mjs URL FILE.wav [SECONDS]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`, '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const result = { connected: false, connectMs: null, maxRemoteLevel: 0, events: [], error: null, console: [] };
try {
  const page = await browser.newPage();
  page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));
  await page.goto(url);
  const clicked = Date.now();
  await page.click('#start');
  await page.waitForFunction(() => window.parley && window.parley.pcState === 'connected', null, { timeout: 15000 });
  result.connected = true;
  result.connectMs = Date.now() - clicked;
  // Let the fake microphone's speech go round the echo for a while.
  await page.waitForTimeout(Number(seconds) * 1000);
  const status = await page.evaluate(() => ({
    maxRemoteLevel: window.parley.maxRemoteLevel,
    events: window.parley.events.map((e) => e.type),
    error: window.parley.error,
  }));
  Object.assign(result, status);
  await page.click('#stop');
  await page.waitForTimeout(300);
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
