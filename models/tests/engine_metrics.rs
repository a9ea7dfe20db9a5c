//! The engine reports queue wait, step time, batch size, tokens, time to first token and deadline misses
//! through the `metrics` facade (checked with a debugging recorder on the real models).

use std::sync::Arc;
use std::time::Duration;

use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use parley_models::engine::{
    AudioExecutorHandle, LlmEvent, LlmExecutorConfig, LlmExecutorHandle, LlmRequest, Priority,
};
use parley_models::llm::{ChatMessage, FAST_MODEL, LlmModel, SamplingParams};
use parley_models::store::test_store;
use parley_models::turn::SmartTurn;
use parley_models::vad::SileroVad;

#[test]
fn executors_record_their_measurements() {
    let Some(store) = test_store() else { return };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder in this test binary");

    let audio =
        AudioExecutorHandle::spawn(SileroVad::load(&store, 1).unwrap(), SmartTurn::load(&store, 1).unwrap(), 64);
    audio.vad(1, vec![0.0; 1024]).unwrap().recv().unwrap().unwrap();
    audio.shutdown();

    let llm =
        LlmExecutorHandle::spawn(Arc::new(LlmModel::load(&store, FAST_MODEL).unwrap()), LlmExecutorConfig::default());
    let request = LlmRequest {
        session: 1,
        messages: vec![ChatMessage::user("Say hi.")],
        sampling: SamplingParams::greedy(),
        max_tokens: 4,
        stop: Vec::new(),
        priority: Priority::Interactive,
        // Impossible on purpose: the first token is late, which must be counted.
        deadline: Duration::ZERO,
    };
    let (_, rx) = llm.generate(request).unwrap();
    while let Ok(event) = rx.recv() {
        if matches!(event, LlmEvent::Done(_)) {
            break;
        }
    }
    llm.shutdown();

    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, label: Option<(&str, &str)>| {
        snapshot.iter().find(|(key, ..)| {
            key.key().name() == name
                && label.is_none_or(|(k, v)| key.key().labels().any(|l| l.key() == k && l.value() == v))
        })
    };
    for (name, label) in [
        ("parley_engine_step_ms", Some(("model", "silero-vad"))),
        ("parley_engine_batch_size", Some(("model", "silero-vad"))),
        ("parley_engine_step_ms", Some(("model", FAST_MODEL))),
        ("parley_engine_queue_wait_ms", Some(("model", FAST_MODEL))),
        ("parley_engine_first_token_ms", None),
    ] {
        let (key, ..) = find(name, label).unwrap_or_else(|| panic!("{name} {label:?} not recorded"));
        assert_eq!(key.kind(), MetricKind::Histogram, "{name}");
    }
    let misses = find("parley_engine_deadline_misses_total", Some(("executor", "llm"))).expect("deadline miss");
    assert!(matches!(misses.3, DebugValue::Counter(1)), "{:?}", misses.3);
    let decoded = find("parley_engine_tokens_total", Some(("kind", "decode"))).expect("decode tokens");
    assert!(matches!(decoded.3, DebugValue::Counter(n) if n >= 1), "{:?}", decoded.3);
}
