//! `parley vad|turn|transcribe` on the golden fixtures through the real binary (without the model store the
//! model tests skip on a developer machine and fail under CI: `parley_models::store::test_store`), and
//! `parley bench` refused with `--help` naming `parley-bench`, where the benchmarks live.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn store_ready() -> bool {
    parley_models::store::test_store().is_some()
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
fn the_benchmarks_are_not_parley_commands_and_help_says_where_they_are() {
    let (code, _, stderr) = parley(&["bench", "engine", "--sessions", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unrecognized subcommand 'bench'"), "{stderr}");
    let (code, stdout, _) = parley(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("parley-bench") && stdout.contains("engine --help"), "{stdout}");
}
