//! One spoken turn measured at the client, the way a caller experiences it: the caller plays the user's
//! audio into a live session and times from the moment the last sample of the user's speech left the caller
//! (the output's exact sent position, interpolated) to the arrival of the first received reply frame above
//! −50 dBFS. The server's events of the turn (its own per-stage marks, transcript, reply) come with it.

use std::time::Duration;

use anyhow::{Context, bail};
use parley_media::MediaEvent;
use tokio::time::Instant;

use crate::caller::Caller;

/// −50 dBFS: the level above which a received frame counts as reply audio.
pub const REPLY_LEVEL: f32 = 0.003_162;

/// What one turn measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TurnMeasurement {
    /// End of the user's speech (last sample sent) → first reply audio received, ms.
    pub voice_to_voice_ms: f64,
    /// The server's marks from the end of speech it heard (`parley.turn.latency`), when it sent them.
    pub server: Option<serde_json::Value>,
    pub transcript: String,
    pub reply: String,
    /// How the reply ended (`completed`, `interrupted`, ...).
    pub status: String,
}

/// Index just past the last sample above [`REPLY_LEVEL`] (in 10 ms windows): where speech in `audio` ends.
pub fn speech_end(audio: &[f32], rate: u32) -> usize {
    let window = (rate / 100) as usize;
    let loud = |w: &[f32]| (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt() > REPLY_LEVEL * 3.0;
    let chunks: Vec<&[f32]> = audio.chunks(window).collect();
    chunks.iter().rposition(|w| loud(w)).map_or(0, |i| ((i + 1) * window).min(audio.len()))
}

/// Plays `audio` (at the caller's output rate, the user's speech ending at sample `speech_end`) and waits up
/// to `within` for the reply to finish (`response.done`).
pub async fn measure_turn(
    caller: &mut Caller,
    audio: Vec<f32>,
    speech_end: usize,
    within: Duration,
) -> anyhow::Result<TurnMeasurement> {
    let output = caller.peer.audio_output().clone();
    let rate = output.source_rate() as f64;
    let base = output.sent_source_samples();
    let end_sample = base + speech_end as u64;
    let mut marks = output.sent_marks();
    output.push(audio).await.context("the caller's output closed")?;
    output.finish().await.context("the caller's output closed")?;
    let deadline = Instant::now() + within;
    let mut speech_sent_at: Option<Instant> = None;
    let mut first_reply: Option<Instant> = None;
    let (mut server, mut transcript) = (None, String::new());
    let (reply, status) = loop {
        tokio::select! {
            changed = marks.changed(), if speech_sent_at.is_none() => {
                changed.context("the caller's output closed")?;
                let mark = *marks.borrow_and_update();
                if mark.source_samples >= end_sample {
                    let early = (mark.source_samples - end_sample) as f64 / rate;
                    speech_sent_at = Some(mark.at - Duration::from_secs_f64(early));
                }
            }
            event = tokio::time::timeout_at(deadline, caller.events.recv()) => {
                let Ok(event) = event else { bail!("no reply finished within {within:?}") };
                match event.context("the session ended")? {
                    MediaEvent::Audio { frame, received } => {
                        let rms = (frame.samples.iter().map(|v| v * v).sum::<f32>() / frame.samples.len().max(1) as f32).sqrt();
                        if first_reply.is_none() && speech_sent_at.is_some_and(|t| received > t) && rms > REPLY_LEVEL {
                            first_reply = Some(received);
                        }
                    }
                    MediaEvent::Message(text) => {
                        let v: serde_json::Value = serde_json::from_str(&text).context("a bad event")?;
                        match v["type"].as_str().unwrap_or("") {
                            "parley.turn.latency" => server = Some(v["latency"].clone()),
                            "conversation.item.input_audio_transcription.completed" => {
                                transcript = v["transcript"].as_str().unwrap_or("").to_string();
                            }
                            "response.done" => break (
                                v["played_text"].as_str().unwrap_or("").to_string(),
                                v["status"].as_str().unwrap_or("").to_string(),
                            ),
                            "error" => bail!("the server said: {}", v["error"]),
                            _ => {}
                        }
                    }
                    MediaEvent::Closed(reason) => bail!("the session closed: {reason:?}"),
                    _ => {}
                }
            }
        }
    };
    let (Some(sent), Some(first)) = (speech_sent_at, first_reply) else {
        bail!("the reply ended ({status}) but no reply audio arrived after the speech was sent");
    };
    Ok(TurnMeasurement {
        voice_to_voice_ms: first.saturating_duration_since(sent).as_secs_f64() * 1e3,
        server,
        transcript,
        reply,
        status,
    })
}

/// The value at quantile `q` (0..=1) of `values` (nearest rank), NaN when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
