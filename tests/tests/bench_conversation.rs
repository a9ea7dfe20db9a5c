//! The harness against the real conversation pipeline on the real models, over real WebRTC on 127.0.0.1:
//! two scenarios of the default set (a plain question, and an interruption over a long reply) played by one
//! caller, measured at the client, and reported.

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use parley_models::engine::EngineHandle;
use parley_tests::bench::load::{LoadOptions, run_level};
use parley_tests::bench::report::Report;
use parley_tests::bench::sources::{default_lead_in, default_set, load};
use parley_tests::caller::loopback_config;
use parley_tests::{fixtures, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_measures_a_real_conversation_at_the_client() {
    let Some(store) = fixtures::model_store() else { return };
    let config = server::test_config();
    let engine = EngineHandle::start(&store, config.engine_options()).unwrap();
    let base = server::start_with_engine(config, engine).await.unwrap();
    let mut scenarios = load(&default_set(), &default_lead_in()).unwrap();
    scenarios.retain(|s| s.name == "single_capital" || s.name == "interrupt_story");
    assert_eq!(scenarios.len(), 2);
    let options = LoadOptions {
        base: base.clone(),
        token: None,
        peer: loopback_config(),
        sessions: 1,
        stagger: Duration::ZERO,
        duration: None,
        keep_timelines: true,
    };
    let level = run_level(Arc::new(scenarios), &options, &ProgressBar::hidden()).await;
    assert!(level.errors.is_empty(), "{:?}", level.errors);
    assert_eq!(level.turns.len(), 2);

    let plain = level.turns.iter().find(|t| t.scenario == "single_capital").unwrap();
    eprintln!("{plain:?}");
    assert_eq!(plain.error, None);
    let v2v = plain.voice_to_voice_ms.unwrap();
    let eot = plain.end_of_turn_ms.unwrap();
    let server = plain.server.as_ref().unwrap();
    // The client's numbers bracket the server's own marks: the decision arrives after the server made it,
    // and the first reply audio after the server sent it (plus the network and the caller's jitter buffer).
    assert!(eot > 0.0 && eot < v2v, "{plain:?}");
    assert!(v2v >= server.audio_sent_ms - 100.0 && v2v < server.audio_sent_ms + 400.0, "{plain:?}");
    assert!(plain.wer.unwrap() <= 0.2, "{plain:?}");
    assert!(plain.reply.as_deref().is_some_and(|r| !r.is_empty()) && !plain.cut_off);

    let interrupted = level.turns.iter().find(|t| t.scenario == "interrupt_story").unwrap();
    eprintln!("{interrupted:?}");
    let o = interrupted.overlap.as_ref().expect("the clip was played over the reply");
    assert!(!o.void, "the reply was still playing when the interruption began: {interrupted:?}");
    assert_eq!(o.stopped, interrupted.status.as_deref() == Some("interrupted"));
    assert_eq!(o.stop_ms.is_some(), o.stopped);

    let report = Report {
        server: base,
        scenarios: "default (2)".into(),
        scenario_count: 2,
        started_unix_s: 0,
        slo_ms: 1500.0,
        levels: vec![level],
        ramp_best_sessions: None,
        drift: None,
    };
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    println!("{}", report.text());
    assert!(std::fs::read_to_string(dir.path().join("report.html")).unwrap().contains("<svg"));
}
