//! The demo page in a real browser: Debian's headless chromium (driven by playwright-core, never a downloaded
//! browser) with a fake microphone playing a speech fixture opens the page served by the real server, clicks
//! Start, reaches `connected` over WebRTC on 127.0.0.1, and hears its own speech come back from the echo
//! pipeline (the page measures the received track's level with WebAudio). Set-up (`scripts/setup.sh` in the
//! test profile) installs chromium and playwright-core; without them the test is skipped with the reason,
//! except under CI, where it fails.

use parley_tests::{browser, fixtures, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_connects_in_chromium_and_plays_the_echo() {
    if !browser::can_run() {
        return;
    }
    let base = server::start(server::test_config()).await.unwrap();
    // The fake microphone: a speech fixture at 48 kHz (Chromium loops the file).
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("mic.wav");
    let speech = parley_media::read_wav_at(&fixtures::fixture("two_utterances.wav").path(), 48_000).unwrap();
    parley_media::write_wav(&wav, 48_000, &speech.samples).unwrap();

    let result =
        browser::run_script("demo_echo.mjs", vec![format!("{base}/"), wav.display().to_string(), "8".into()]).await;
    eprintln!("browser: {result}");
    assert!(result["error"].is_null(), "the page failed: {result}");
    assert_eq!(result["connected"], true, "{result}");
    let events: Vec<&str> = result["events"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(events.contains(&"session.created"), "{events:?}");
    assert!(events.contains(&"input_audio_buffer.speech_started"), "{events:?}");
    let level = result["maxRemoteLevel"].as_f64().unwrap();
    assert!(level > 0.02, "no echoed audio reached the page (peak RMS {level})");
}
