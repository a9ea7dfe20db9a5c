//! Voice-to-voice latency of the conversation pipeline measured at the client, over many turns of one
//! conversation on the real models: a caller asks 20 (or `PARLEY_TURNS`) spoken questions in a row over
//! real WebRTC on 127.0.0.1; each turn is timed from the last sample of the question leaving the caller to
//! the first reply audio arriving, beside the server's own per-stage marks. A measurement, not a check
//! (ignored by default): run it in the release profile,
//!
//!   cargo test --release -p parley-tests --test conversation_latency -- --ignored --nocapture
//!
//! with `PARLEY_REPLY_MODEL=slow` for the slow reply model.

use std::time::Duration;

use parley_models::engine::EngineHandle;
use parley_pipeline::conversation::ReplyModel;
use parley_tests::caller::{Caller, loopback_config};
use parley_tests::spoken::{after_pause, speak};
use parley_tests::voice_turn::{measure_turn, quantile, speech_end};
use parley_tests::{fixtures, server};

const QUESTIONS: &[&str] = &[
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What colour is the sky on a clear day?",
    "Can you suggest a name for a pet cat?",
    "What is two plus three?",
    "Which planet is closest to the sun?",
    "What do bees make?",
    "How many days are there in a week?",
    "What is the opposite of hot?",
    "Tell me a fruit that is yellow.",
    "What language do people speak in Spain?",
    "How many minutes are in an hour?",
    "What animal says moo?",
    "What is frozen water called?",
    "Which season comes after winter?",
    "What do you use to write on paper?",
    "How many wheels does a bicycle have?",
    "What is the largest ocean on Earth?",
    "What do plants need to grow?",
    "Say something nice about Mondays.",
    "What is the capital of Italy?",
    "How many hours are in a day?",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in the release profile with --ignored --nocapture"]
async fn voice_to_voice_latency_over_a_conversation() {
    let Some(store) = fixtures::model_store() else { return };
    let turns: usize = std::env::var("PARLEY_TURNS").ok().and_then(|t| t.parse().ok()).unwrap_or(20);
    let reply_model = std::env::var("PARLEY_REPLY_MODEL").unwrap_or_else(|_| "fast".into());
    let mut config = server::test_config();
    config.conversation.reply_model = match reply_model.as_str() {
        "fast" => ReplyModel::Fast,
        "slow" => ReplyModel::Slow,
        other => panic!("PARLEY_REPLY_MODEL={other} is not allowed; use fast or slow"),
    };
    let engine = EngineHandle::start(&store, config.engine_options()).unwrap();
    // The questions, spoken by the Piper voice (before the clock starts).
    let questions: Vec<(String, Vec<f32>)> = tokio::task::block_in_place(|| {
        QUESTIONS.iter().cycle().take(turns).map(|q| (q.to_string(), speak(&engine, q))).collect()
    });
    let base = server::start_with_engine(config, engine.clone()).await.unwrap();
    let mut caller = Caller::connect(&base, &loopback_config(), None).await.expect("connect");
    caller.wait_ready(Duration::from_secs(10)).await.unwrap();

    let mut v2v = Vec::new();
    let mut stages: Vec<[f64; 5]> = Vec::new();
    for (i, (text, audio)) in questions.into_iter().enumerate() {
        // The user has listened to the whole reply (`measure_turn` returns at `response.done`) and pauses
        // 0.8 s (silence played before the question) before asking the next.
        let audio = if i == 0 { audio } else { after_pause(Duration::from_millis(800), audio, 16_000) };
        let end = speech_end(&audio, 16_000);
        let m = measure_turn(&mut caller, audio, end, Duration::from_secs(90)).await.expect("a turn");
        let s = m.server.clone().unwrap_or_default();
        let mark = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        let marks = [
            mark("end_of_turn_ms"),
            mark("transcript_ms"),
            mark("first_token_ms"),
            mark("first_audio_ms"),
            mark("audio_sent_ms"),
        ];
        eprintln!(
            "turn {:>2}: {:>6.0} ms voice to voice | server: end of turn {:.0}, transcript {:.0}, first token {:.0}, \
             first audio {:.0}, sent {:.0} | {text:?} → heard {:?} → {:?} ({})",
            i + 1,
            m.voice_to_voice_ms,
            marks[0],
            marks[1],
            marks[2],
            marks[3],
            marks[4],
            m.transcript,
            m.reply,
            m.status
        );
        v2v.push(m.voice_to_voice_ms);
        stages.push(marks);
    }
    let _ = caller.hang_up().await;
    engine.shutdown();
    println!("reply model {reply_model}, {} turns, measured at the client:", v2v.len());
    println!("  voice to voice      P50 {:>6.0} ms  P90 {:>6.0} ms", quantile(&v2v, 0.5), quantile(&v2v, 0.9));
    let names = ["end of turn", "transcript", "first token", "first audio", "audio sent"];
    let mut previous = vec![0.0; stages.len()];
    for (k, name) in names.iter().enumerate() {
        let at: Vec<f64> = stages.iter().map(|s| s[k]).collect();
        let step: Vec<f64> = at.iter().zip(&previous).map(|(a, p)| a - p).collect();
        println!(
            "  server {name:<12} at P50 {:>6.0} ms  P90 {:>6.0} ms   (stage P50 {:>6.0} ms  P90 {:>6.0} ms)",
            quantile(&at, 0.5),
            quantile(&at, 0.9),
            quantile(&step, 0.5),
            quantile(&step, 0.9)
        );
        previous = at;
    }
}
