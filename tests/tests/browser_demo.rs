//! The demo page in a real browser: Debian's headless chromium (driven by playwright-core, never a downloaded
//! browser) with a fake microphone playing a speech fixture opens the page served by the real server, clicks
//! Start, reaches `connected` over WebRTC on 127.0.0.1, and hears its own speech come back from the echo
//! pipeline (the page measures the received track's level with WebAudio). Set-up (`scripts/setup.sh` in the
//! test profile) installs chromium and playwright-core; without them the test is skipped with the reason,
//! except under CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use parley_tests::{fixtures, server};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn missing_tools() -> Option<String> {
    let chromium = std::env::var("PARLEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is not installed (apt install chromium, or run scripts/setup.sh)"));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "playwright-core is not installed (npm ci --prefix tests/browser, or run scripts/setup.sh)".into(),
        );
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_connects_in_chromium_and_plays_the_echo() {
    if let Some(reason) = missing_tools() {
        assert!(std::env::var_os("CI").is_none(), "browser test cannot run under CI: {reason}");
        eprintln!("skipping the browser test: {reason}");
        return;
    }
    let base = server::start(server::test_config()).await.unwrap();
    // The fake microphone: a speech fixture at 48 kHz (Chromium loops the file).
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("mic.wav");
    let speech = parley_media::read_wav_at(&fixtures::fixture("two_utterances.wav").path(), 48_000).unwrap();
    parley_media::write_wav(&wav, 48_000, &speech.samples).unwrap();

    let script = browser_dir().join("demo_echo.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(script).arg(format!("{base}/")).arg(&wav).arg("8").output().expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().last().unwrap_or_else(|| panic!("no result from the browser script: {stderr}"));
    let result: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{stderr}"));
    eprintln!("browser: {result}");
    assert!(result["error"].is_null(), "the page failed: {result}");
    assert_eq!(result["connected"], true, "{result}");
    let events: Vec<&str> = result["events"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(events.contains(&"session.created"), "{events:?}");
    assert!(events.contains(&"input_audio_buffer.speech_started"), "{events:?}");
    let level = result["maxRemoteLevel"].as_f64().unwrap();
    assert!(level > 0.02, "no echoed audio reached the page (peak RMS {level})");
}
