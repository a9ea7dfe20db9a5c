//! The conversation pipeline end to end on the real models over real WebRTC on 127.0.0.1: a caller speaks
//! (Piper speech, resampled to 16 kHz, then silence), the server hears it, ends the turn, transcribes, answers
//! with SmolLM2 and speaks with Piper; the received reply is transcribed with Whisper. Then an interruption
//! mid-reply stops the audio and cuts the context. Skipped with a reason without the model store.

use std::time::Duration;

use parley_tests::caller::{Caller, loopback_config};
use parley_tests::server;
use parley_tests::spoken::{engine, hear, listen, speak, transcribe, types};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_question_gets_a_relevant_spoken_reply_and_an_interruption_cuts_it() {
    let Some(engine) = engine() else { return };
    let base = server::start_with_engine(server::test_config(), engine.clone()).await.unwrap();
    let mut caller = Caller::connect(&base, &loopback_config(), None).await.expect("connect");
    caller.wait_ready(Duration::from_secs(10)).await.unwrap();

    // Turn 1: a question with a known answer.
    let question = tokio::task::block_in_place(|| speak(&engine, "What is the capital of France?"));
    caller.peer.audio_output().push(question).await.unwrap();
    caller.peer.audio_output().finish().await.unwrap();
    let (events, audio) = listen(&mut caller, Duration::from_secs(60), |e| e["type"] == "response.done").await;
    let kinds = types(&events);
    eprintln!("turn 1 events: {kinds:?}");
    let transcript = events
        .iter()
        .find(|e| e["type"] == "conversation.item.input_audio_transcription.completed")
        .expect("a transcript")["transcript"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(transcript.contains("capital") && transcript.contains("france"), "{transcript}");
    assert!(
        kinds.contains(&"parley.turn.ended".to_string()) && kinds.contains(&"output_audio_buffer.started".to_string()),
        "{kinds:?}"
    );
    let done = events.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    let latency = events.iter().find(|e| e["type"] == "parley.turn.latency").expect("latency")["latency"].clone();
    eprintln!("turn 1 latency (server marks): {latency}");
    // From 100 ms before the first reply sample above −50 dBFS (the caller's own silence before it is not
    // part of the reply).
    let first = audio.iter().position(|v| v.abs() > 0.003).unwrap_or(0).saturating_sub(1_600);
    let reply_audio = audio[first..].to_vec();
    let direct_audio = tokio::task::block_in_place(|| speak(&engine, done["played_text"].as_str().unwrap()));
    // The whole spoken reply arrived: as much speech (20 ms windows above −40 dBFS) as the same text spoken
    // straight from TTS, within 30 %.
    let active = |x: &[f32]| {
        x.chunks(320).filter(|w| w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32 > 1e-4).count() as f64
    };
    let (received_speech, direct_speech) = (active(&reply_audio), active(&direct_audio));
    assert!(
        (received_speech / direct_speech - 1.0).abs() < 0.3,
        "received {received_speech} windows of speech, the reply has {direct_speech}"
    );
    let heard = tokio::task::block_in_place(|| transcribe(&engine, reply_audio)).to_lowercase();
    let direct = tokio::task::block_in_place(|| transcribe(&engine, direct_audio));
    eprintln!("the same text straight from TTS to Whisper: {direct:?}; caller input {:?}", caller.peer.input_stats());
    eprintln!("reply text {:?}; heard by Whisper {heard:?}", done["played_text"]);
    // The reply is relevant: the LLM named Paris.
    assert!(done["played_text"].as_str().unwrap().contains("Paris"), "{done}");
    eprintln!("received reply heard as {heard:?}");

    // Turn 2: ask for something long (counting), then interrupt it once the caller has received 0.5 s of its
    // audio. SmolLM2 sometimes answers in under a second ("1. 1. 2. 3."), and then the reply is over before
    // the interruption is heard; the interruption is then a turn of its own, and its reply is the one
    // interrupted (at most 3 tries).
    let ask = tokio::task::block_in_place(|| speak(&engine, "Please count from one to thirty."));
    let stop = tokio::task::block_in_place(|| speak(&engine, "Wait, stop, tell me about cats instead."));
    caller.peer.audio_output().push(ask).await.unwrap();
    caller.peer.audio_output().finish().await.unwrap();
    for attempt in 1..=3 {
        let (events, _) = listen(&mut caller, Duration::from_secs(60), |e| {
            e["type"] == "output_audio_buffer.started" || e["type"] == "response.done"
        })
        .await;
        assert_eq!(events.last().unwrap()["type"], "output_audio_buffer.started", "{:?}", types(&events));
        let is_done = |e: &serde_json::Value| e["type"] == "response.done";
        let (mut events, _) = hear(&mut caller, Duration::from_millis(500), Duration::from_secs(10), is_done).await;
        caller.peer.audio_output().push(stop.clone()).await.unwrap();
        caller.peer.audio_output().finish().await.unwrap();
        if !events.last().is_some_and(is_done) {
            events = listen(&mut caller, Duration::from_secs(30), is_done).await.0;
        }
        let done = events.last().filter(|e| is_done(e)).unwrap_or_else(|| panic!("no response.done: {events:?}"));
        let played = done["played_text"].as_str().unwrap().to_string();
        if done["status"] == "completed" && attempt < 3 {
            eprintln!("try {attempt}: the whole reply {played:?} played before the interruption was heard");
            continue;
        }
        assert_eq!(done["status"], "interrupted", "{done} {:?}", types(&events));
        eprintln!("interrupted after hearing {played:?}");
        assert!(!played.is_empty(), "some of the reply was heard before the interruption");
        break;
    }
    caller.hang_up().await.unwrap();
}
