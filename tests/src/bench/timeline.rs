//! What the caller saw during one scenario, on the caller's clock (ms from the scenario's start): where each
//! clip sits in the caller's sent audio, when its samples left, the level of every received frame, and every
//! server event with its arrival time. Metrics are computed from this afterwards (sans-IO, testable).

use serde::Serialize;

use super::scenario::RATE;

/// A clip the caller played.
#[derive(Debug, Clone, Serialize)]
pub struct PlayedClip {
    /// Index of the user turn it belongs to.
    pub turn: usize,
    /// Played over the reply (not the turn's own clip).
    pub overlap: bool,
    /// Its first sample's index in the caller's sent audio (at [`RATE`]).
    pub start_sample: u64,
    pub len: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    /// (samples of pushed audio sent so far, ms): the caller's output's sent marks.
    pub sent: Vec<(u64, f64)>,
    /// (arrival ms, RMS) of every received 20 ms frame.
    pub received: Vec<(f64, f32)>,
    /// (arrival ms, event) of every data-channel event.
    pub events: Vec<(f64, serde_json::Value)>,
    pub clips: Vec<PlayedClip>,
}

impl Timeline {
    /// When the first `samples` samples of the sent audio had all left the caller (interpolated within the
    /// packet that carried the last of them), if they have. A mark `(s, t)` says samples `[0, s)` were sent by
    /// `t`; the boundary `samples` is in the first mark with `s >= samples`.
    pub fn sent_at(&self, samples: u64) -> Option<f64> {
        let i = self.sent.partition_point(|(s, _)| *s < samples);
        let (s, t) = *self.sent.get(i)?;
        Some(t - (s - samples) as f64 * 1e3 / RATE as f64)
    }

    /// When the point `seconds` into `clip` left the caller. The clip's start is when its first sample left
    /// (the boundary just after it: the boundary at its start index is the previous clip's end, sent long
    /// before).
    pub fn clip_time(&self, clip: &PlayedClip, seconds: f64) -> Option<f64> {
        let offset = ((seconds * RATE as f64).round() as u64).clamp(1, clip.len.max(1));
        self.sent_at(clip.start_sample + offset)
    }

    pub fn clip(&self, turn: usize, overlap: bool) -> Option<&PlayedClip> {
        self.clips.iter().find(|c| c.turn == turn && c.overlap == overlap)
    }

    /// Events of `kind` that arrived in `[from, to)`.
    pub fn events_of<'a>(
        &'a self,
        kind: &'a str,
        from: f64,
        to: f64,
    ) -> impl Iterator<Item = &'a (f64, serde_json::Value)> + 'a {
        self.events.iter().filter(move |(t, e)| *t >= from && *t < to && e["type"].as_str() == Some(kind))
    }

    /// Arrival of the first received frame louder than `level` in `[from, to)`.
    pub fn first_loud(&self, from: f64, to: f64, level: f32) -> Option<f64> {
        self.received.iter().find(|(t, rms)| *t >= from && *t < to && *rms > level).map(|(t, _)| *t)
    }
}
