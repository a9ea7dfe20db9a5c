//! The simulated callers of `parley-bench engine`: each is the server's own conversation session — the
//! driver (`parley_web::conversation_session`), the sans-IO core and the engine link with its mailbox — on
//! the shared engine, fed its user's speech as 20 ms frames in real time (silence between utterances) and
//! playing its replies through a real paced audio output into nothing. So what the bench measures is the flow
//! that ships: the turn-taking decisions, the reply model and settings from the configuration, barge-ins when
//! the next utterance comes over a reply. Each turn's stage marks come from the core's own
//! `parley.turn.latency` event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_media::{AudioFrame, AudioOutput, MediaEvent, PacketSink};
use parley_models::engine::{BatchMode, EngineHandle};
use parley_pipeline::conversation::ConversationConfig;
use parley_pipeline::protocol::SessionOptions;
use parley_web::conversation_session::{ConversationSession, SessionPeer};
use parley_web::engine_link::LinkedEngine;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::engine::{percentiles, round};

/// A caller's data channel: every event the session sent.
#[derive(Default)]
struct EventLog(Mutex<Vec<Value>>);

impl SessionPeer for EventLog {
    async fn send_text(&self, text: &str) -> Result<(), String> {
        let event = serde_json::from_str(text).map_err(|e| e.to_string())?;
        self.0.lock().map_err(|_| "poisoned".to_string())?.push(event);
        Ok(())
    }

    async fn close(&self) {}
}

impl EventLog {
    /// Replies created and not yet done.
    fn replies_open(&self) -> usize {
        let Ok(events) = self.0.lock() else { return 0 };
        let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        count("response.created").saturating_sub(count("response.done"))
    }
}

/// Reply audio goes nowhere (it is paced and counted all the same).
struct Nowhere;

impl PacketSink for Nowhere {
    async fn send(&mut self, _packet: bytes::Bytes) -> Result<(), String> {
        Ok(())
    }
}

/// Runs `n` callers for `seconds` (a user turn every `turn_every` seconds each, staggered) and reports.
pub(super) fn simulate(
    engine: &EngineHandle,
    config: &ConversationConfig,
    utterances: &[Vec<f32>],
    n: usize,
    seconds: f64,
    turn_every: f64,
) -> anyhow::Result<Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = std::time::Instant::now();
    let logs: Vec<Arc<EventLog>> = runtime.block_on(async {
        let mut callers = Vec::new();
        for i in 0..n {
            let offset = Duration::from_secs_f64(turn_every * i as f64 / n as f64);
            callers.push(tokio::spawn(caller(
                engine.clone(),
                config.clone(),
                utterances.to_vec(),
                i,
                offset,
                seconds,
                turn_every,
            )));
        }
        let mut logs = Vec::new();
        for c in callers {
            logs.push(c.await.map_err(|e| anyhow::anyhow!("a caller panicked: {e}"))??);
        }
        anyhow::Ok(logs)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    report(engine, &logs, n, elapsed)
}

/// One caller: a real conversation session fed in real time; returns its event log.
async fn caller(
    engine: EngineHandle,
    config: ConversationConfig,
    utterances: Vec<Vec<f32>>,
    index: usize,
    offset: Duration,
    seconds: f64,
    turn_every: f64,
) -> anyhow::Result<Arc<EventLog>> {
    let permit = engine.open_session()?;
    let (link, mailbox) = LinkedEngine::open(&engine, &permit, config.reply_model);
    let (sink_tx, sink_rx) = oneshot::channel();
    let output = AudioOutput::spawn(engine.tts().sample_rate(), sink_rx).map_err(anyhow::Error::msg)?;
    let _ = sink_tx.send(Nowhere);
    let log = Arc::new(EventLog::default());
    let (media, events) = mpsc::channel(64);
    let session = ConversationSession {
        id: format!("bench-{index}"),
        peer: log.clone(),
        output,
        stop: Arc::new(Notify::new()),
        options: SessionOptions::default(),
        config,
        engine: link,
        mailbox,
        permit: Some(permit),
        connect_timeout: Duration::from_secs(30),
        created: Instant::now(),
    };
    let running = tokio::spawn(session.run(events, ()));
    media.send(MediaEvent::Connected).await?;
    media.send(MediaEvent::ChannelOpen).await?;
    // The user's audio: silence until the offset, then per period an utterance followed by silence.
    let longest = utterances.iter().map(Vec::len).max().unwrap_or(0);
    let period = ((turn_every * 16_000.0) as usize).max(longest + 16_000);
    let offset = (offset.as_secs_f64() * 16_000.0) as usize;
    let frames = (seconds * 50.0) as usize;
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    for f in 0..frames {
        ticks.tick().await;
        let first = f * AudioFrame::PIPELINE_SAMPLES;
        let samples: Vec<f32> = (first..first + AudioFrame::PIPELINE_SAMPLES)
            .map(|i| {
                let Some(k) = i.checked_sub(offset) else { return 0.0 };
                let utterance = &utterances[(k / period + index) % utterances.len()];
                utterance.get(k % period).copied().unwrap_or(0.0)
            })
            .collect();
        let frame = AudioFrame::new(AudioFrame::PIPELINE_RATE, first as u64, samples);
        media.send(MediaEvent::Audio { frame, received: Instant::now() }).await?;
    }
    // Silence until the last reply is over (at most 15 s), so every turn started is measured to its end.
    for f in frames..frames + 750 {
        if log.replies_open() == 0 {
            break;
        }
        ticks.tick().await;
        let samples = vec![0.0; AudioFrame::PIPELINE_SAMPLES];
        let frame = AudioFrame::new(AudioFrame::PIPELINE_RATE, (f * AudioFrame::PIPELINE_SAMPLES) as u64, samples);
        media.send(MediaEvent::Audio { frame, received: Instant::now() }).await?;
    }
    drop(media);
    running.await?;
    Ok(log)
}

fn report(engine: &EngineHandle, logs: &[Arc<EventLog>], n: usize, elapsed: f64) -> anyhow::Result<Value> {
    let mut stage: [(&str, Vec<f64>); 5] = [
        ("end_of_turn_ms", Vec::new()),
        ("transcript_ms", Vec::new()),
        ("first_token_ms", Vec::new()),
        ("first_audio_ms", Vec::new()),
        ("audio_sent_ms", Vec::new()),
    ];
    let (mut created, mut completed, mut interrupted, mut failed, mut errors) = (0, 0, 0, 0, Vec::new());
    for log in logs {
        let events = log.0.lock().map_err(|_| anyhow::anyhow!("an event log was poisoned"))?;
        for e in events.iter() {
            match e["type"].as_str().unwrap_or("") {
                "parley.turn.latency" => {
                    for (key, values) in stage.iter_mut() {
                        values.extend(e["latency"][*key].as_f64().filter(|v| *v > 0.0));
                    }
                }
                "response.created" => created += 1,
                "response.done" => match e["status"].as_str().unwrap_or("") {
                    "completed" => completed += 1,
                    "interrupted" | "cancelled" => interrupted += 1,
                    _ => failed += 1,
                },
                "error" => errors.push(e["error"]["message"].as_str().unwrap_or("?").to_string()),
                _ => {}
            }
        }
    }
    let batches: serde_json::Map<String, Value> = parley_models::engine::batch_stats()
        .into_iter()
        .map(|((executor, model), b)| {
            let stats = json!({"steps": b.steps, "mean": round(b.mean()), "max": b.max, "busy_ms": round(b.busy_ms)});
            (format!("{executor}/{model}"), stats)
        })
        .collect();
    let mut row = json!({
        "mode": match engine.options().mode { BatchMode::Batched => "batched", BatchMode::Serial => "serial" },
        "sessions": n,
        "seconds": round(elapsed),
        "turns": created,
        "replies_completed": completed,
        "replies_interrupted": interrupted,
        "replies_failed": failed,
        "batches": batches,
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
        "error_count": errors.len(),
    });
    for (key, values) in &stage {
        row[*key] = percentiles(values);
    }
    Ok(row)
}
