// Shared by the browser tests: opens the parley demo page in Debian's headless chromium with a fake
// microphone playing a WAV file, clicks Start and waits for the peer connection to reach `connected`, runs
// `body(page, result)`, clicks Stop, and prints one JSON line on stdout: whether it connected, how long that
// took, the loudest level of the received audio (WebAudio on the page), the events seen, page errors and
// whatever `body` added.
import { chromium } from 'playwright-core';

export async function runDemoPage(url, wav, body) {
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
    await body(page, result);
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
}
