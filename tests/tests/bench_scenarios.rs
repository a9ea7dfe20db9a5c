//! The harness's scenario sources: the committed default set loads and is annotated sensibly; scenario files
//! (JSON and TOML), SID-Bench JSONL and WAV + JSON folders load; every mistake names the file and the field;
//! `parley-bench` turns a bad scenario file or a server that is down into a clear error, not a hang.

use std::path::{Path, PathBuf};
use std::process::Command;

use parley_tests::bench::scenario::{OverlapKind, RATE};
use parley_tests::bench::sources::{default_lead_in, default_set, load};

fn default_dir() -> PathBuf {
    default_set().parent().unwrap().to_path_buf()
}

fn copy_clip(name: &str, to: &Path) {
    std::fs::copy(default_dir().join(name), to).unwrap();
}

fn load_err(path: &Path) -> String {
    load(path, &default_lead_in()).map(|s| s.len()).expect_err("should not load").to_string()
}

#[test]
fn the_default_set_covers_every_situation_with_annotations_inside_the_audio() {
    let scenarios = load(&default_set(), &default_lead_in()).unwrap();
    let kinds: Vec<&str> = scenarios.iter().map(|s| s.kind.as_str()).collect();
    for kind in ["single_turn", "pause", "backchannel", "noise", "interruption", "multi_turn"] {
        assert!(kinds.contains(&kind), "no {kind} scenario in {kinds:?}");
    }
    for s in &scenarios {
        for t in &s.turns {
            // The speech ends inside the clip, after at least half a second of speech and before its tail.
            assert!(t.speech_end_s > 0.5 && t.speech_end_s < t.duration_s(), "{}: {}", s.name, t.speech_end_s);
            for [a, b] in &t.pauses {
                assert!(b - a >= 0.5, "{}: pause {a}..{b}", s.name);
                // The pause really is silent in the audio.
                let quiet = &t.audio[(a * RATE as f64) as usize + 800..(b * RATE as f64) as usize - 800];
                assert!(quiet.iter().all(|v| v.abs() < 0.01), "{}: the pause is not silent", s.name);
            }
            if let Some(o) = &t.during_reply {
                assert_eq!(o.break_s.is_some(), o.kind == OverlapKind::Interruption, "{}", s.name);
                assert!(o.onset_s < o.duration_s());
            }
        }
    }
    assert!(scenarios.iter().any(|s| s.turns.len() >= 3), "a multi-turn dialogue");
}

#[test]
fn json_and_toml_mistakes_name_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    copy_clip("ask_bees.wav", &dir.path().join("bees.wav"));
    let cases = [
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "bees.wav", "speech_end_s": "late"}]}]}"#,
            "scenarios[0].turns[0].speech_end_s",
        ),
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "bees.wav", "speech_end_s": 9.0}]}]}"#,
            "scenarios[0].turns[0].speech_end_s",
        ),
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "nope.wav", "speech_end_s": 0.9}]}]}"#,
            "scenarios[0].turns[0].audio",
        ),
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "bees.wav", "speech_end_s": 0.9, "volume": 2}]}]}"#,
            "scenarios[0].turns[0]",
        ),
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "bees.wav", "speech_end_s": 0.9, "pauses": [[0.5, 0.2]]}]}]}"#,
            "scenarios[0].turns[0].pauses[0]",
        ),
        (
            r#"{"scenarios": [{"name": "a", "turns": [{"audio": "bees.wav", "speech_end_s": 0.9, "during_reply": {"audio": "bees.wav", "kind": "sneeze"}}]}]}"#,
            "scenarios[0].turns[0].during_reply.kind",
        ),
        (r#"{"scenarios": []}"#, "scenarios"),
        (r#"{"scenarios": [{"name": "a", "turns": [}"#, "-"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.json"));
        std::fs::write(&path, text).unwrap();
        let message = load_err(&path);
        assert!(message.starts_with(&format!("{}: {field}", path.display())), "case {i}: {message}");
    }
    // The unknown field is named in the message.
    let message = load_err(&dir.path().join("case3.json"));
    assert!(message.contains("volume"), "{message}");

    let toml = dir.path().join("set.toml");
    std::fs::write(
        &toml,
        "[[scenarios]]\nname = \"a\"\n[[scenarios.turns]]\naudio = \"bees.wav\"\nspeech_end_s = true\n",
    )
    .unwrap();
    let message = load_err(&toml);
    assert!(message.starts_with(&format!("{}: scenarios[0].turns[0].speech_end_s", toml.display())), "{message}");
    std::fs::write(
        &toml,
        "[[scenarios]]\nname = \"a\"\n[[scenarios.turns]]\naudio = \"bees.wav\"\nspeech_end_s = 0.9\n",
    )
    .unwrap();
    let loaded = load(&toml, &default_lead_in()).unwrap();
    assert_eq!((loaded.len(), loaded[0].turns[0].speech_end_s), (1, 0.9));
}

#[test]
fn sid_bench_lines_become_clips_over_a_long_reply() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("en")).unwrap();
    copy_clip("interrupt_stop.wav", &dir.path().join("en/stop.wav"));
    copy_clip("mm_hm.wav", &dir.path().join("en/mm.wav"));
    let jsonl = dir.path().join("en_test_lines.jsonl");
    std::fs::write(
        &jsonl,
        concat!(
            r#"{"audio": "stop.wav", "total_nonbreak": false, "duration": 2.64, "break_time": 0.4, "text_with_break": "Wait, <break> stop."}"#,
            "\n",
            r#"{"audio": "mm.wav", "total_nonbreak": true, "duration": 1.06, "break_time": 1.06, "text_with_break": "Mm-hm. <break>"}"#,
            "\n"
        ),
    )
    .unwrap();
    let scenarios = load(&jsonl, &default_lead_in()).unwrap();
    assert_eq!(scenarios.len(), 2);
    let stop = scenarios[0].turns[0].during_reply.as_ref().unwrap();
    assert_eq!(
        (scenarios[0].kind.as_str(), stop.kind, stop.break_s),
        ("sid_interrupt", OverlapKind::Interruption, Some(0.4))
    );
    assert_eq!(stop.text.as_deref(), Some("Wait, stop."));
    let mm = scenarios[1].turns[0].during_reply.as_ref().unwrap();
    assert_eq!((scenarios[1].kind.as_str(), mm.break_s), ("sid_no_interrupt", None));
    // The lead-in question's end is measured on its audio.
    assert!(scenarios[0].turns[0].speech_end_s > 1.0);
    // The folder holding the JSONL loads the same.
    assert_eq!(load(dir.path(), &default_lead_in()).unwrap().len(), 2);

    std::fs::write(&jsonl, "{\"audio\": \"stop.wav\", \"break_time\": 0.4}\n").unwrap();
    let message = load_err(&jsonl);
    assert!(message.contains("line 1") && message.contains("duration"), "{message}");
    std::fs::write(&jsonl, "{\"audio\": \"gone.wav\", \"duration\": 1.0, \"break_time\": 0.4}\n").unwrap();
    assert!(load_err(&jsonl).contains("line 1.audio"));
}

#[test]
fn a_folder_of_clips_with_json_annotations_loads_one_scenario_per_clip() {
    let dir = tempfile::tempdir().unwrap();
    copy_clip("ask_bees.wav", &dir.path().join("bees.wav"));
    copy_clip("pause_weather.wav", &dir.path().join("weather.wav"));
    std::fs::write(dir.path().join("bees.json"), r#"{"text": "What do bees make?", "speech_end_s": 1.01}"#).unwrap();
    std::fs::write(
        dir.path().join("weather.json"),
        r#"{"kind": "pause", "text": "I would like to know what the weather is like on Mars.", "speech_end_s": 3.3, "pauses": [[1.0, 1.7]]}"#,
    )
    .unwrap();
    let scenarios = load(dir.path(), &default_lead_in()).unwrap();
    let names: Vec<(&str, &str)> = scenarios.iter().map(|s| (s.name.as_str(), s.kind.as_str())).collect();
    assert_eq!(names, [("bees", "single_turn"), ("weather", "pause")]);
    assert_eq!(scenarios[1].turns[0].pauses, vec![[1.0, 1.7]]);

    std::fs::write(dir.path().join("bees.json"), r#"{"text": "What do bees make?", "speech_end_s": -1}"#).unwrap();
    let message = load_err(dir.path());
    assert!(message.starts_with(&format!("{}: speech_end_s", dir.path().join("bees.json").display())), "{message}");
}

fn bench(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench")).args(args).output().expect("run parley-bench");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn parley_bench_reports_a_bad_scenario_file_and_a_server_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"scenarios": [{"name": "a", "turns": [{"audio": "x.wav"}]}]}"#).unwrap();
    let (ok, stderr) = bench(&["--url", "http://127.0.0.1:9", "--scenarios", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("bad.json: scenarios[0].turns[0]") && stderr.contains("speech_end_s"), "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let (ok, stderr) = bench(&["--url", &format!("http://127.0.0.1:{port}"), "--out", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("does not answer") && stderr.contains("is the server running"), "{stderr}");
    assert!(started.elapsed().as_secs() < 30, "it hung");
}
