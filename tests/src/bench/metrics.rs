//! Per-turn metrics, computed at the client from a scenario's [`Timeline`]:
//!
//! - voice to voice: the annotated end of the user's speech leaving the caller → the first received reply
//!   frame above −50 dBFS;
//! - end-of-turn decision: end of speech → `parley.turn.ended` arriving;
//! - false cut-off: the turn ended before the user's annotated end of speech (inside a pause);
//! - barge-in stop: an interruption's onset → the end of the last reply frame above −50 dBFS, for replies the
//!   server ended as `interrupted`;
//! - false barge-in: a backchannel or noise over the reply that ended it as `interrupted`;
//! - SID-Bench's penalty time per overlap clip (for APT, FIR and IRL, as its evaluation computes them);
//! - the user transcript's word error rate, and the server's own per-stage marks (`parley.turn.latency`).

use serde::Serialize;

use super::scenario::{OverlapKind, Scenario};
use super::timeline::Timeline;
use crate::fixtures::word_error_rate;
use crate::voice_turn::REPLY_LEVEL;

/// A received frame's length (ms).
const FRAME_MS: f64 = 20.0;
/// Reply frames flushed just before `response.done` may arrive this long after it (ms).
const FLUSH_SLACK_MS: f64 = 200.0;
/// SID-Bench's tolerance around the break time (s).
pub const SID_TOLERANCE_S: f64 = 0.05;

/// What one user turn measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TurnResult {
    pub scenario: String,
    pub kind: String,
    /// Which concurrent caller played it (0-based).
    pub session: usize,
    pub turn: usize,
    /// When the turn's clip started, seconds from the start of the run (for drift over a soak).
    pub at_s: f64,
    pub voice_to_voice_ms: Option<f64>,
    pub end_of_turn_ms: Option<f64>,
    /// The turn ended before the user's speech did.
    pub cut_off: bool,
    /// The turn has an annotated pause inside it.
    pub has_pause: bool,
    pub transcript: Option<String>,
    pub expected_text: Option<String>,
    pub wer: Option<f64>,
    pub reply: Option<String>,
    pub status: Option<String>,
    /// The server's marks (`parley.turn.latency`), ms from the end of speech it heard.
    pub server: Option<ServerStages>,
    pub overlap: Option<OverlapResult>,
    /// What went wrong, when the turn could not be measured.
    pub error: Option<String>,
}

/// The server's per-stage marks (`parley.turn.latency`), ms from the end of the user's speech as the server
/// heard it.
pub type ServerStages = parley_pipeline::protocol::TurnLatency;

/// What a clip over the reply did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OverlapResult {
    pub kind: String,
    /// The reply had already ended when the clip's sound began: nothing to measure.
    pub void: bool,
    /// The server ended the reply as interrupted.
    pub stopped: bool,
    /// Onset → reply audio silent (ms), when stopped.
    pub stop_ms: Option<f64>,
    /// Clip start → reply audio silent (s): SID-Bench's predicted break time.
    pub detected_s: Option<f64>,
    /// Where the clip's wish to interrupt is clear (s), for clips that should interrupt.
    pub break_s: Option<f64>,
    pub duration_s: f64,
    /// SID-Bench's penalty (s).
    pub penalty_s: f64,
    /// Counted as a false alarm by SID-Bench (stopped for a clip that should not stop it, or too early).
    pub false_alarm: bool,
    /// Late beyond the tolerance: the delay (s), for IRL.
    pub delay_s: Option<f64>,
}

/// SID-Bench's penalty for one clip: `(penalty_s, false_alarm, delay_s)` given the predicted break time
/// (`None`: no interruption), the true break (`None`: should not interrupt) and the clip's duration.
pub fn sid_penalty(predicted: Option<f64>, truth: Option<f64>, duration: f64) -> (f64, bool, Option<f64>) {
    let g = truth.unwrap_or(duration);
    if let Some(t) = predicted
        && (t - g).abs() <= SID_TOLERANCE_S
    {
        return (0.0, false, None);
    }
    match (truth, predicted) {
        (None, None) => (0.0, false, None),
        (None, Some(_)) => (duration, true, None),
        (Some(g), None) => (duration - g, false, None),
        (Some(g), Some(t)) if t > g => (t - g, false, Some(t - g)),
        (Some(_), Some(_)) => (duration, true, None),
    }
}

/// Measures every turn of `scenario` from what the caller saw.
pub fn measure(scenario: &Scenario, tl: &Timeline, session: usize, run_offset_s: f64) -> Vec<TurnResult> {
    let mut out = Vec::new();
    for (i, turn) in scenario.turns.iter().enumerate() {
        let mut r = TurnResult {
            scenario: scenario.name.clone(),
            kind: scenario.kind.clone(),
            session,
            turn: i,
            has_pause: !turn.pauses.is_empty(),
            expected_text: turn.text.clone(),
            ..Default::default()
        };
        let Some(clip) = tl.clip(i, false) else {
            r.error = Some("the turn was not played".into());
            out.push(r);
            continue;
        };
        let (Some(start), Some(speech_end)) = (tl.clip_time(clip, 0.0), tl.clip_time(clip, turn.speech_end_s)) else {
            r.error = Some("the turn's audio was not all sent".into());
            out.push(r);
            continue;
        };
        r.at_s = run_offset_s + start / 1e3;
        let window_end = tl.clip(i + 1, false).and_then(|c| tl.clip_time(c, 0.0)).unwrap_or(f64::INFINITY);
        let overlap_clip = tl.clip(i, true);
        let overlap_start = overlap_clip.and_then(|c| tl.clip_time(c, 0.0)).unwrap_or(window_end);

        if let Some((t, _)) = tl.events_of("parley.turn.ended", start, window_end).next() {
            if *t < speech_end {
                r.cut_off = true;
            } else {
                r.end_of_turn_ms = Some(t - speech_end);
            }
        }
        let transcripts: Vec<&str> = tl
            .events_of("conversation.item.input_audio_transcription.completed", start, overlap_start)
            .filter_map(|(_, e)| e["transcript"].as_str())
            .collect();
        if !transcripts.is_empty() {
            let text = transcripts.join(" ");
            r.wer = turn.text.as_deref().map(|reference| word_error_rate(reference, &text));
            r.transcript = Some(text);
        }
        r.server = tl
            .events_of("parley.turn.latency", start, overlap_start)
            .next()
            .and_then(|(_, e)| serde_json::from_value(e["latency"].clone()).ok());
        if let Some((_, e)) = tl.events_of("response.done", start, window_end).next() {
            r.reply = e["played_text"].as_str().map(str::to_string);
            r.status = e["status"].as_str().map(str::to_string);
        }
        if turn.expect_reply && !r.cut_off {
            r.voice_to_voice_ms = tl.first_loud(speech_end, window_end, REPLY_LEVEL).map(|t| t - speech_end);
            if r.voice_to_voice_ms.is_none() {
                r.error = Some("no reply audio arrived".into());
            }
        }
        if let (Some(o), Some(clip)) = (&turn.during_reply, overlap_clip) {
            // The reply the clip played over ends after the clip started.
            let done = tl.events_of("response.done", overlap_start, window_end).next().map(|(t, e)| (*t, e));
            r.overlap = Some(measure_overlap(tl, o, clip, done));
        } else if turn.during_reply.is_some() && r.error.is_none() {
            r.error = Some("the clip over the reply was not played (no reply audio to play it over)".into());
        }
        out.push(r);
    }
    out
}

fn measure_overlap(
    tl: &Timeline,
    o: &super::scenario::Overlap,
    clip: &super::timeline::PlayedClip,
    done: Option<(f64, &serde_json::Value)>,
) -> OverlapResult {
    let mut r = OverlapResult {
        kind: match o.kind {
            OverlapKind::Backchannel => "backchannel",
            OverlapKind::Noise => "noise",
            OverlapKind::Interruption => "interruption",
        }
        .into(),
        break_s: o.break_s,
        duration_s: o.duration_s(),
        ..Default::default()
    };
    let (Some(clip_start), Some(onset)) = (tl.clip_time(clip, 0.0), tl.clip_time(clip, o.onset_s)) else {
        r.void = true;
        return r;
    };
    let Some((done_at, done)) = done else {
        r.void = true;
        return r;
    };
    if done_at < onset {
        r.void = true;
        return r;
    }
    r.stopped = done["status"].as_str() == Some("interrupted");
    if r.stopped {
        // The reply stopped after its last loud frame before the server said it was over (frames flushed
        // just before `response.done` may arrive just after it); a reply already quiet at the onset stopped
        // there.
        let last_loud = tl
            .received
            .iter()
            .filter(|(t, rms)| *t >= onset && *t <= done_at + FLUSH_SLACK_MS && *rms > REPLY_LEVEL)
            .map(|(t, _)| *t)
            .fold(None, |_, t| Some(t));
        let stop = last_loud.map_or(onset, |t| t + FRAME_MS);
        r.stop_ms = Some(stop - onset);
        r.detected_s = Some((stop - clip_start).max(0.0) / 1e3);
    }
    let (penalty, false_alarm, delay) = sid_penalty(r.detected_s, o.break_s, r.duration_s);
    r.penalty_s = penalty;
    r.false_alarm = false_alarm;
    r.delay_s = delay;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_penalties_follow_the_benchmark() {
        // Within the tolerance: nothing.
        assert_eq!(sid_penalty(Some(1.03), Some(1.0), 3.0), (0.0, false, None));
        // A clip that should not interrupt: left alone 0, stopped costs the duration.
        assert_eq!(sid_penalty(None, None, 3.0), (0.0, false, None));
        assert_eq!(sid_penalty(Some(0.5), None, 3.0), (3.0, true, None));
        // Missed: the rest of the clip after the break.
        assert_eq!(sid_penalty(None, Some(1.0), 3.0), (2.0, false, None));
        // Late: the delay. Early: a false alarm.
        let (p, fa, d) = sid_penalty(Some(1.5), Some(1.0), 3.0);
        assert!((p - 0.5).abs() < 1e-9 && !fa && d.is_some_and(|d| (d - 0.5).abs() < 1e-9));
        assert_eq!(sid_penalty(Some(0.5), Some(1.0), 3.0), (3.0, true, None));
    }
}
