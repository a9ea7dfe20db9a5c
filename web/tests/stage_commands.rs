//! `parley vad|turn|transcribe` on the golden fixtures through the real binary (skips without the model store).

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn store_ready() -> bool {
    let store = parley_models::store::ModelStore::new(
        parley_models::store::ModelStore::default_root(),
        parley_models::store::Manifest::default_cpu(),
    );
    if !store.is_complete() {
        eprintln!("SKIPPED: model store incomplete; run `parley models fetch` (CI always does)");
    }
    store.is_complete()
}

fn parley(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley")).args(args).output().expect("run parley");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn vad_prints_one_json_line_per_segment() {
    if !store_ready() {
        return;
    }
    let (code, stdout, stderr) = parley(&["vad", fixture("two_utterances.wav").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let segments: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(segments.len(), 2, "{stdout}");
    let start = segments[0]["start_ms"].as_u64().unwrap();
    assert!(start.abs_diff(600) <= 100, "{stdout}");
    assert!(segments[1]["end_ms"].as_u64().unwrap() > segments[1]["start_ms"].as_u64().unwrap());
}

#[test]
fn turn_and_transcribe_print_their_results() {
    if !store_ready() {
        return;
    }
    let (code, stdout, stderr) = parley(&["turn", fixture("turn_complete_1.wav").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(json["eot_probability"].as_f64().unwrap() > 0.5, "{stdout}");

    let (code, stdout, stderr) = parley(&["transcribe", fixture("sentence_1.wav").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "What is the weather like in Paris today?");

    let (code, stdout, _) = parley(&["transcribe", "--json", fixture("sentence_1.wav").to_str().unwrap()]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(json["segments"].as_array().is_some_and(|s| !s.is_empty()), "{stdout}");
    assert!(json["real_time_factor"].as_f64().is_some());

    let (code, stdout, _) = parley(&["transcribe", fixture("noise.wav").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "", "noise must not produce text");
}

#[test]
fn a_file_that_is_not_audio_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.wav");
    std::fs::write(&bad, "this is text").unwrap();
    for command in ["vad", "turn", "transcribe"] {
        let (code, _, stderr) = parley(&[command, bad.to_str().unwrap()]);
        assert_ne!(code, 0, "{command}: {stderr}");
        assert!(stderr.contains("not a readable WAV file"), "{command}: {stderr}");
    }
    let (code, _, stderr) = parley(&["transcribe", "/nonexistent/x.wav"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot open"), "{stderr}");
}

#[test]
fn bench_engine_runs_simulated_conversations_and_reports_json() {
    if !store_ready() {
        return;
    }
    let (code, stdout, stderr) =
        parley(&["bench", "engine", "--sessions", "1", "--seconds", "5", "--turn-every", "2", "--reply-tokens", "8"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).unwrap();
    assert_eq!(report["mode"], "batched");
    assert_eq!(report["sessions"], 1);
    assert_eq!(report["error_count"], 0, "{report}");
    assert!(report["turns"].as_u64().unwrap() >= 1, "a turn ran: {report}");
    // One VAD tick every 32 ms for 5 s.
    assert!(report["vad_tick_ms"]["n"].as_u64().unwrap() >= 100, "{report}");
    for stage in ["vad_tick_ms", "end_of_turn_ms", "asr_ms", "llm_first_token_ms", "turn_to_first_audio_ms"] {
        let p = &report[stage];
        assert!(p["p50"].as_f64().unwrap() <= p["p99"].as_f64().unwrap(), "{stage}: {p}");
    }
    assert!(report["llm_tokens"].as_u64().unwrap() >= 1);
    assert!(report["batches"]["audio/silero-vad"]["steps"].as_u64().unwrap() >= 100, "{report}");
    assert!(stderr.contains("| mode | N |"), "a summary table: {stderr}");

    let (code, _, stderr) = parley(&["bench", "engine", "--sessions", "0"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--sessions"), "{stderr}");
}
