//! The harness's metrics on hand-built timelines, where every right answer is known: voice to voice, the
//! end-of-turn decision, a false cut-off inside a pause, barge-in stop time, a false barge-in, SID-Bench's
//! penalties, the summaries, and the reports (JSON with every sample, HTML with SVG plots).

use std::sync::Arc;

use parley_tests::bench::load::LevelResult;
use parley_tests::bench::metrics::measure;
use parley_tests::bench::report::Report;
use parley_tests::bench::scenario::{Overlap, OverlapKind, RATE, Scenario, Turn};
use parley_tests::bench::summary::summarize;
use parley_tests::bench::timeline::{PlayedClip, Timeline};
use serde_json::json;

const LOUD: f32 = 0.1;

fn turn(seconds: f64, speech_end_s: f64, pauses: Vec<[f64; 2]>, during_reply: Option<Overlap>) -> Turn {
    Turn {
        audio: Arc::new(vec![0.0; (seconds * RATE as f64) as usize]),
        text: Some("what is the capital of france".into()),
        speech_end_s,
        pauses,
        expect_reply: true,
        during_reply,
        gap_after_ms: 500,
    }
}

fn overlap(kind: OverlapKind, seconds: f64) -> Overlap {
    Overlap {
        audio: Arc::new(vec![0.0; (seconds * RATE as f64) as usize]),
        kind,
        after_reply_audio_ms: 800,
        onset_s: 0.1,
        break_s: (kind == OverlapKind::Interruption).then_some(0.1),
        text: None,
    }
}

/// A caller's record, built by hand (one sent mark per 20 ms frame).
struct Builder {
    tl: Timeline,
    next_sample: u64,
}

impl Builder {
    fn new() -> Self {
        Self { tl: Timeline::default(), next_sample: 0 }
    }

    /// Sends a clip of `seconds` starting at `at_ms`.
    fn send(&mut self, turn: usize, overlap: bool, seconds: f64, at_ms: f64) {
        let len = (seconds * RATE as f64) as u64;
        self.tl.clips.push(PlayedClip { turn, overlap, start_sample: self.next_sample, len });
        let frames = len / 320;
        for f in 1..=frames {
            self.tl.sent.push((self.next_sample + f * 320, at_ms + f as f64 * 20.0));
        }
        self.next_sample += len;
    }

    fn event(&mut self, at_ms: f64, event: serde_json::Value) {
        self.tl.events.push((at_ms, event));
    }

    /// Received frames every 20 ms in `[from, to)`, loud or quiet.
    fn audio(&mut self, from: f64, to: f64, loud: bool) {
        let mut t = from;
        while t < to {
            self.tl.received.push((t, if loud { LOUD } else { 0.0 }));
            t += 20.0;
        }
    }
}

fn scenario(turns: Vec<Turn>) -> Scenario {
    Scenario { name: "s".into(), kind: "test".into(), source: "x.json".into(), turns }
}

#[test]
fn a_plain_turn_gives_voice_to_voice_end_of_turn_stages_and_wer() {
    let mut b = Builder::new();
    b.send(0, false, 2.0, 0.0); // the clip's samples leave 20..2000 ms; speech ends at 1.5 s → 1500 ms
    b.audio(0.0, 2400.0, false);
    b.event(1900.0, json!({"type": "parley.turn.ended", "reason": "semantic"}));
    b.event(2300.0, json!({"type": "conversation.item.input_audio_transcription.completed", "transcript": "What is the capital of France?"}));
    b.event(2300.0, json!({"type": "response.created"}));
    b.event(2390.0, json!({"type": "parley.turn.latency", "latency": {"end_of_turn_ms": 380.0, "transcript_ms": 780.0, "first_token_ms": 850.0, "first_audio_ms": 870.0, "audio_sent_ms": 880.0}}));
    b.audio(2400.0, 3000.0, true);
    b.audio(3000.0, 3400.0, false);
    b.event(3100.0, json!({"type": "response.done", "status": "completed", "played_text": "Paris."}));
    let s = scenario(vec![turn(2.0, 1.5, vec![], None)]);
    let r = &measure(&s, &b.tl, 0, 10.0)[0];
    assert_eq!(r.error, None);
    assert!((r.voice_to_voice_ms.unwrap() - 900.0).abs() < 1e-6, "{r:?}");
    assert!((r.end_of_turn_ms.unwrap() - 400.0).abs() < 1e-6);
    assert!(!r.cut_off);
    assert_eq!(r.wer, Some(0.0));
    assert_eq!((r.reply.as_deref(), r.status.as_deref()), (Some("Paris."), Some("completed")));
    assert_eq!(r.server.as_ref().unwrap().first_audio_ms, 870.0);
    assert!((r.at_s - 10.0).abs() < 0.05, "{}", r.at_s);
}

#[test]
fn a_turn_ended_inside_its_pause_is_a_false_cut_off() {
    let mut b = Builder::new();
    b.send(0, false, 3.0, 0.0);
    b.audio(0.0, 4000.0, false);
    // The pause is 1.0..1.8 s; the server ends the turn at 1.4 s, before the speech's end at 2.6 s.
    b.event(1400.0, json!({"type": "parley.turn.ended", "reason": "semantic"}));
    b.event(2900.0, json!({"type": "parley.turn.ended", "reason": "semantic"}));
    b.audio(3200.0, 3600.0, true);
    b.event(3700.0, json!({"type": "response.done", "status": "completed", "played_text": "Hot."}));
    let s = scenario(vec![turn(3.0, 2.6, vec![[1.0, 1.8]], None)]);
    let results = measure(&s, &b.tl, 0, 0.0);
    assert!(results[0].cut_off && results[0].has_pause);
    assert_eq!((results[0].end_of_turn_ms, results[0].voice_to_voice_ms), (None, None));
    let summary = summarize(&results, &[]);
    assert_eq!((summary.false_cut_off_in_pauses.count, summary.false_cut_off_in_pauses.of), (1, 1));
}

#[test]
fn interruptions_backchannels_and_their_penalties() {
    // Turn 0: a reply interrupted by a clip sent at 4000 ms (onset 4100 ms); the reply's last loud frame
    // arrives at 4280 ms, so it was silent from 4300 ms: a stop time of 200 ms.
    let mut b = Builder::new();
    b.send(0, false, 2.0, 0.0);
    b.audio(0.0, 2500.0, false);
    b.event(2100.0, json!({"type": "parley.turn.ended"}));
    b.event(2200.0, json!({"type": "response.created"}));
    b.audio(2500.0, 4300.0, true);
    b.audio(4300.0, 6000.0, false);
    b.send(0, true, 1.5, 4000.0);
    b.event(4900.0, json!({"type": "response.done", "status": "interrupted", "played_text": "One, two"}));
    let interrupted = scenario(vec![turn(2.0, 1.5, vec![], Some(overlap(OverlapKind::Interruption, 1.5)))]);
    let r = measure(&interrupted, &b.tl, 0, 0.0).remove(0);
    let o = r.overlap.clone().unwrap();
    assert!(o.stopped && !o.void && !o.false_alarm);
    assert!((o.stop_ms.unwrap() - 200.0).abs() < 1e-6, "{o:?}");
    // SID-Bench: detected 0.3 s into the clip, the break at 0.1 s: 0.2 s late.
    assert!((o.penalty_s - 0.2).abs() < 1e-3 && (o.delay_s.unwrap() - 0.2).abs() < 1e-3, "{o:?}");

    // The same timeline with a backchannel: stopping was a false barge-in, costing the clip's duration.
    let backchannel = scenario(vec![turn(2.0, 1.5, vec![], Some(overlap(OverlapKind::Backchannel, 1.5)))]);
    let r2 = measure(&backchannel, &b.tl, 0, 0.0).remove(0);
    let o2 = r2.overlap.clone().unwrap();
    assert!(o2.stopped && o2.false_alarm && (o2.penalty_s - 1.5).abs() < 1e-9, "{o2:?}");

    let summary = summarize(&[r.clone(), r2], &[1.0, 2.0]);
    assert_eq!((summary.false_barge_in.count, summary.false_barge_in.of), (1, 1));
    assert_eq!((summary.missed_interruption.count, summary.missed_interruption.of), (0, 1));
    assert!((summary.apt_s.unwrap() - 0.85).abs() < 1e-3);
    assert!((summary.fir.unwrap() - 0.5).abs() < 1e-9 && (summary.irl_s.unwrap() - 0.2).abs() < 1e-3);
    assert_eq!(summary.latency["barge_in_stop_ms"].n, 1);
    assert_eq!(summary.latency["network_rtt_ms"].p50, 2.0);

    // The reports: every sample in JSON, the plots in HTML, the summary as text.
    let level = LevelResult {
        sessions: 1,
        wall_s: 6.0,
        summary: summary.clone(),
        turns: vec![r],
        rtt_ms: vec![1.0, 2.0],
        errors: vec![],
        timelines: vec![],
    };
    let report = Report {
        server: "http://127.0.0.1:1".into(),
        scenarios: "test".into(),
        scenario_count: 1,
        started_unix_s: 0,
        slo_ms: 1500.0,
        levels: vec![level.clone(), LevelResult { sessions: 2, ..level }],
        ramp_best_sessions: Some(2),
        drift: None,
    };
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["levels"][0]["turns"][0]["voice_to_voice_ms"], 1000.0);
    assert_eq!(json["levels"][0]["summary"]["latency"]["voice_to_voice_ms"]["p90"], 1000.0);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 5, "CDFs and waterfalls per level, concurrency");
    assert!(html.contains("Voice to voice against concurrent sessions"));
    let text = report.text();
    assert!(text.contains("voice_to_voice") && text.contains("ramp: highest concurrency"), "{text}");
}

#[test]
fn a_soak_reports_the_p90_of_its_first_and_last_minute() {
    let turn = |at_s: f64, v2v: f64| parley_tests::bench::metrics::TurnResult {
        at_s,
        voice_to_voice_ms: Some(v2v),
        ..Default::default()
    };
    // Three minutes: the first minute around 1 s, the last around 2 s.
    let turns: Vec<_> = (0..180).step_by(5).map(|s| turn(s as f64, if s < 120 { 1000.0 } else { 2000.0 })).collect();
    let level = LevelResult {
        sessions: 1,
        wall_s: 180.0,
        summary: summarize(&turns, &[]),
        turns,
        rtt_ms: vec![],
        errors: vec![],
        timelines: vec![],
    };
    let drift = parley_tests::bench::report::Drift::of(&level);
    assert_eq!((drift.first_minute_p90_ms, drift.last_minute_p90_ms), (Some(1000.0), Some(2000.0)));
}
