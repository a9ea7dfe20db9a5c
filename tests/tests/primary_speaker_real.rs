//! Primary-speaker focus on the real models over real WebRTC: the first voice (Piper) is enrolled with its
//! question and answered; a different voice (espeak-ng's, the `speaker_b` fixtures) asking a question gets
//! no turn (`parley.speech.ignored`, no response); the first voice is answered again. Skipped without the
//! model store.

use std::time::Duration;

use parley_tests::caller::{Caller, loopback_config};
use parley_tests::spoken::{after_pause, engine, listen, say, speak, types};
use parley_tests::{fixtures, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_voice_gets_no_turn_when_the_primary_speaker_is_enrolled() {
    let Some(engine) = engine() else { return };
    let mut config = server::test_config();
    config.conversation.primary_speaker = true;
    let base = server::start_with_engine(config, engine.clone()).await.unwrap();
    let mut caller = Caller::connect(&base, &loopback_config(), None).await.expect("connect");
    caller.wait_ready(Duration::from_secs(10)).await.unwrap();

    // The primary speaker: enrolled and answered.
    let question = tokio::task::block_in_place(|| speak(&engine, "What is the capital of France?"));
    say(&caller, question).await;
    let (events, _) = listen(&mut caller, Duration::from_secs(60), |e| e["type"] == "response.done").await;
    assert_eq!(events.last().map(|e| e["status"].clone()), Some("completed".into()), "{:?}", types(&events));

    // Another voice asks something after a 0.5 s pause: set aside, no turn.
    let other = after_pause(Duration::from_millis(500), fixtures::fixture("speaker_b1.wav").audio_16k(), 16_000);
    say(&caller, other).await;
    let (events, _) = listen(&mut caller, Duration::from_secs(8), |e| e["type"] == "parley.speech.ignored").await;
    let kinds = types(&events);
    eprintln!("the other voice: {kinds:?} {:?}", events.last());
    let ignored = events.last().filter(|e| e["type"] == "parley.speech.ignored").expect("speech.ignored");
    assert_eq!(ignored["reason"], "other_speaker");
    assert!(ignored["similarity"].as_f64().unwrap() < 0.5, "{ignored}");
    let (after, _) = listen(&mut caller, Duration::from_secs(3), |_| false).await;
    let after = types(&after);
    assert!(
        !kinds.iter().chain(&after).any(|k| k == "parley.turn.ended" || k == "response.created"),
        "the other voice got a turn: {kinds:?} {after:?}"
    );

    // The primary speaker again: answered.
    let again = tokio::task::block_in_place(|| speak(&engine, "And what is the capital of Italy?"));
    say(&caller, again).await;
    let (events, _) = listen(&mut caller, Duration::from_secs(60), |e| e["type"] == "response.done").await;
    let kinds = types(&events);
    assert!(kinds.contains(&"parley.turn.ended".to_string()), "{kinds:?}");
    assert_eq!(events.last().map(|e| e["status"].clone()), Some("completed".into()), "{kinds:?}");
    let _ = caller.hang_up().await;
    engine.shutdown();
}
