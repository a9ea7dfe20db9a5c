//! `parley-bench engine|llm|asr`, the stage benchmarks, through the real binary: the engine under a simulated
//! conversation and Whisper on a fixture (skip without the model store), bad flags refused before any model
//! loads, and the harness's own flags kept apart from the subcommands.

use std::process::Command;

fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench"))
        .args(args)
        .env_remove("PARLEY_CONFIG")
        .env_remove("PARLEY_LOG")
        .output()
        .expect("run parley-bench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn bench_engine_runs_simulated_conversations_and_reports_json() {
    if parley_tests::fixtures::model_store().is_none() {
        return;
    }
    // One question and its whole reply (the caller keeps listening until it is over); the fast reply model keeps
    // the run short. The flow is the server's own conversation.
    let (code, stdout, stderr) = bench(&[
        "engine",
        "--sessions",
        "1",
        "--seconds",
        "6",
        "--turn-every",
        "10",
        "--reply-tokens",
        "8",
        "--set",
        "conversation.reply_model=fast",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).unwrap();
    assert_eq!(report["mode"], "batched");
    assert_eq!(report["sessions"], 1);
    assert_eq!(report["error_count"], 0, "{report}");
    assert!(report["turns"].as_u64().unwrap() >= 1, "a turn ran: {report}");
    assert!(report["replies_completed"].as_u64().unwrap() >= 1, "a reply was heard to its end: {report}");
    for stage in ["end_of_turn_ms", "transcript_ms", "first_token_ms", "first_audio_ms", "audio_sent_ms"] {
        let p = &report[stage];
        assert!(p["n"].as_u64().unwrap() >= 1, "{stage}: {report}");
        assert!(p["p50"].as_f64().unwrap() <= p["p99"].as_f64().unwrap(), "{stage}: {p}");
    }
    // The stages follow one another: the decision, then the first token, then the first audio.
    assert!(report["end_of_turn_ms"]["p50"].as_f64() <= report["first_audio_ms"]["p50"].as_f64(), "{report}");
    // The server's VAD path: one batched Silero step per 32 ms chunk of the caller's audio.
    assert!(report["batches"]["audio/silero-vad"]["steps"].as_u64().unwrap() >= 100, "{report}");
    assert!(stderr.contains("| mode | N |"), "a summary table: {stderr}");
}

#[test]
fn bench_asr_times_whisper_on_a_fixture() {
    if parley_tests::fixtures::model_store().is_none() {
        return;
    }
    let clip = parley_tests::fixtures::fixtures_dir().join("sentence_1.wav");
    let (code, stdout, stderr) =
        bench(&["asr", clip.to_str().unwrap(), "--backend", "parley", "--reps", "1", "--window", "10"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let row = &report["results"][0];
    assert_eq!(row["backend"], "parley", "{report}");
    assert!(row["total_ms"].as_f64().unwrap() > 0.0 && row["decode_steps"].as_u64().unwrap() >= 1, "{report}");
    assert!(!row["text"].as_str().unwrap().trim().is_empty(), "{report}");
    assert!(stderr.contains("ms / token"), "a summary table: {stderr}");
}

#[test]
fn bad_flags_are_refused_before_any_model_loads() {
    for (args, flag) in [
        (&["engine", "--sessions", "0"][..], "--sessions"),
        (&["llm", "--prompt", "0"][..], "--prompt"),
        (&["asr", "x.wav", "--reps", "0"][..], "--reps"),
    ] {
        let (code, _, stderr) = bench(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(flag), "{args:?}: {stderr}");
    }
    // The server's configuration flags are taken, and checked.
    let (code, _, stderr) = bench(&["engine", "--sessions", "1", "--set", "log.level=chatty"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("log.level"), "{stderr}");
}

#[test]
fn the_harness_flags_do_not_mix_with_a_subcommand() {
    let (code, _, stderr) = bench(&["--url", "http://127.0.0.1:9", "engine", "--sessions", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("engine"), "{stderr}");
    for sub in ["engine", "llm", "asr"] {
        let (code, stdout, stderr) = bench(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub}: {stderr}");
        assert!(stdout.contains(&format!("parley-bench {sub}")) && stdout.contains("--config"), "{sub}: {stdout}");
    }
}
