//! Calibration of the latency harness against `parley serve --pipeline echo --echo-delay-ms D`: a caller plays
//! a short tone burst and times, packet to packet, from the burst's first packet leaving the caller to the
//! first received packet carrying the echoed burst. The offset is D plus what the transport costs (Opus
//! framing, the server's 20 ms output slot, jitter buffers); when it comes out right, the harness's other
//! figures can be believed.

use std::time::Duration;

use anyhow::{Context, bail};
use parley_media::MediaEvent;
use tokio::time::Instant;

use crate::caller::{Caller, loopback_config};

/// Level above which a received sample is the echoed burst (−26 dBFS; the burst is at −6 dBFS).
const ONSET: f32 = 0.05;

/// A 200 ms 1 kHz burst at 16 kHz then `gap` of silence.
fn burst(gap: Duration) -> Vec<f32> {
    let mut samples: Vec<f32> =
        (0..3_200).map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / 16_000.0).sin()).collect();
    samples.resize(3_200 + (gap.as_secs_f64() * 16_000.0) as usize, 0.0);
    samples
}

/// Connects to `base` and measures `rounds` echo offsets (ms). `max_delay` bounds the echo delay looked for.
pub async fn calibrate(base: &str, rounds: usize, max_delay: Duration) -> anyhow::Result<Vec<f64>> {
    let mut caller = Caller::connect(base, &loopback_config(), None).await?;
    caller
        .wait_for("connected", Duration::from_secs(10), |e| matches!(e, MediaEvent::Connected))
        .await
        .context("the WebRTC connection did not come up")?;
    let output = caller.peer.audio_output().clone();
    let gap = max_delay + Duration::from_millis(800);
    let mut offsets = Vec::with_capacity(rounds);
    // Samples pushed so far: the burst of this round starts there.
    let mut pushed = output.sent_source_samples();
    for round in 0..rounds {
        let start_sample = pushed;
        let mut marks = output.sent_marks();
        let samples = burst(gap);
        pushed += samples.len() as u64;
        output.push(samples).await.context("the caller's output closed")?;
        let deadline = Instant::now() + gap + Duration::from_millis(200);
        let mut sent_at: Option<Instant> = None;
        let mut received_at: Option<Instant> = None;
        while received_at.is_none() {
            tokio::select! {
                changed = marks.changed(), if sent_at.is_none() => {
                    changed.context("the caller's output closed")?;
                    let mark = *marks.borrow_and_update();
                    if mark.source_samples > start_sample {
                        sent_at = Some(mark.at);
                    }
                }
                event = tokio::time::timeout_at(deadline, caller.events.recv()) => {
                    let Ok(event) = event else {
                        bail!("round {}: no echo within {:?} (is the server running `--pipeline echo`?)", round + 1, gap)
                    };
                    match event.context("the session ended")? {
                        MediaEvent::Audio { frame, received }
                            if sent_at.is_some_and(|t| received >= t) && frame.samples.iter().any(|v| v.abs() > ONSET) =>
                        {
                            received_at = Some(received);
                        }
                        MediaEvent::Closed(reason) => bail!("the session closed: {reason:?}"),
                        _ => {}
                    }
                }
            }
        }
        let (Some(sent), Some(received)) = (sent_at, received_at) else { unreachable!() };
        offsets.push(received.saturating_duration_since(sent).as_secs_f64() * 1e3);
        // Let the rest of the burst's echo and the gap pass before the next round: wait until the caller's
        // output has sent this round's samples (the last partial frame waits for more, so within a frame).
        let frame = u64::from(output.source_rate() / 50);
        tokio::time::timeout_at(deadline + Duration::from_secs(5), async {
            while marks.borrow_and_update().source_samples + frame < pushed {
                marks.changed().await.context("the caller's output closed")?;
            }
            anyhow::Ok(())
        })
        .await
        .context("the caller's output stalled")??;
        while caller.events.try_recv().is_ok() {}
    }
    let _ = caller.hang_up().await;
    Ok(offsets)
}
