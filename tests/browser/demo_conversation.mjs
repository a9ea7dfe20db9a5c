// The demo page against the conversation pipeline: the fake microphone asks a question (the WAV is the
// question then a long silence, as Chromium loops the file); waits until a reply has been played to the end
// (`response.done`), then also reports the page's transcript panel (what the user reads), the level of the
// received audio while the reply played, and the latency waterfall rows.
//
//   node tests/browser/demo_conversation.mjs URL FILE.wav [TIMEOUT_SECONDS]
import { runDemoPage } from './demo_page.mjs';

const [url, wav, timeout = '60'] = process.argv.slice(2);
if (!url || !wav) {
  console.error('usage: node demo_conversation.mjs URL FILE.wav [TIMEOUT_SECONDS]');
  process.exit(2);
}
await runDemoPage(url, wav, async (page, result) => {
  await page.waitForFunction(
    () => window.parley.events.some((e) => e.type === 'response.done'),
    null,
    { timeout: Number(timeout) * 1000, polling: 100 },
  );
  Object.assign(result, await page.evaluate(() => ({
    transcript: [...document.querySelectorAll('#transcript li')].map((li) => ({
      who: li.className, text: li.textContent,
    })),
    waterfallRows: document.querySelectorAll('#waterfall .turn').length,
    userText: window.parley.events
      .filter((e) => e.type === 'conversation.item.input_audio_transcription.completed')
      .map((e) => e.transcript),
    replyText: window.parley.events.filter((e) => e.type === 'response.done').map((e) => e.played_text),
  })));
});
