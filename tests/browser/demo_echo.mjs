// The demo page against the echo pipeline: lets the fake microphone's speech go round the echo for a while
// (see demo_page.mjs for what is reported).
//
//   node tests/browser/demo_echo.mjs URL FILE.wav [SECONDS]
import { runDemoPage } from './demo_page.mjs';

const [url, wav, seconds = '8'] = process.argv.slice(2);
if (!url || !wav) {
  console.error('usage: node demo_echo.mjs URL FILE.wav [SECONDS]');
  process.exit(2);
}
await runDemoPage(url, wav, async (page) => {
  await page.waitForTimeout(Number(seconds) * 1000);
});
