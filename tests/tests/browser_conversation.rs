//! The demo page holds a conversation in a real browser: Debian's headless chromium, its fake microphone
//! playing a spoken question (then silence), talks to the real server running the default pipeline (the
//! conversation on the real models); the page shows the user's transcript and the reply, receives the
//! spoken reply (WebAudio level on the page) and draws the turn's latency waterfall. Without the model store
//! or the browser tools it is skipped on a developer machine and fails under CI.

use parley_models::engine::{EngineHandle, EngineOptions};
use parley_tests::{browser, fixtures, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_holds_a_spoken_conversation_in_chromium() {
    if !browser::can_run() {
        return;
    }
    let Some(store) = fixtures::model_store() else { return };
    // The default pipeline with its default models (the reply model included).
    let mut config = server::test_config();
    config.pipeline = parley_web::config::Config::default().pipeline;
    config.conversation = parley_web::config::Config::default().conversation;
    assert_eq!(config.pipeline.kind, parley_web::config::PipelineKind::Conversation, "the default pipeline");
    let engine = EngineHandle::start(&store, EngineOptions { max_sessions: 2, ..config.engine_options() }).unwrap();
    let base = server::start_with_engine(config, engine.clone()).await.unwrap();

    // The fake microphone: 1 s of silence, the question, 40 s of silence (Chromium loops the file).
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("mic.wav");
    let question = parley_media::read_wav_at(&fixtures::fixture("sentence_1.wav").path(), 48_000).unwrap();
    let mut samples = vec![0.0; 48_000];
    samples.extend(&question.samples);
    samples.extend(vec![0.0; 48_000 * 40]);
    parley_media::write_wav(&wav, 48_000, &samples).unwrap();

    let result =
        browser::run_script("demo_conversation.mjs", vec![format!("{base}/"), wav.display().to_string(), "90".into()])
            .await;
    eprintln!("browser: {result}");
    engine.shutdown();
    assert!(result["error"].is_null(), "the page failed: {result}");
    let events: Vec<&str> = result["events"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    for expected in ["session.created", "input_audio_buffer.speech_started", "parley.turn.ended", "response.done"] {
        assert!(events.contains(&expected), "no {expected}: {events:?}");
    }
    let heard = result["userText"][0].as_str().unwrap_or("").to_lowercase();
    assert!(heard.contains("weather") && heard.contains("today"), "the server heard {heard:?}");
    // The page shows both sides of the turn.
    let transcript = result["transcript"].as_array().unwrap();
    let shown = |who: &str| {
        transcript
            .iter()
            .filter(|l| l["who"] == who)
            .map(|l| l["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(shown("user").iter().any(|t| t.to_lowercase() == heard), "the page shows {transcript:?}");
    assert!(shown("assistant").iter().any(|t| t.split_whitespace().count() >= 2), "{transcript:?}");
    let reply = result["replyText"][0].as_str().unwrap_or("");
    assert!(!reply.is_empty(), "the reply was not played: {result}");
    // The reply was heard on the page and its latency drawn.
    let level = result["maxRemoteLevel"].as_f64().unwrap();
    assert!(level > 0.02, "no reply audio reached the page (peak RMS {level})");
    assert!(result["waterfallRows"].as_u64().unwrap() >= 1, "{result}");
}
