//! Summaries of many turns: P50/P90/P99 of each latency, the turn-taking error rates, SID-Bench's APT, FIR
//! and IRL over the clips played over replies, the transcript word error rate.

use std::collections::BTreeMap;

use serde::Serialize;

use super::metrics::TurnResult;

/// Distribution of one metric (ms unless named otherwise).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            n: v.len(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max: v[v.len() - 1],
        })
    }
}

/// `count` of `of`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rate {
    pub count: usize,
    pub of: usize,
}

impl Rate {
    pub fn value(&self) -> Option<f64> {
        (self.of > 0).then(|| self.count as f64 / self.of as f64)
    }
}

/// Everything one run's turns say, summed up.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub turns: usize,
    pub failed_turns: usize,
    /// Latency distributions by metric name (`voice_to_voice_ms`, `end_of_turn_ms`, `barge_in_stop_ms`,
    /// `server_*_ms`, `network_rtt_ms`).
    pub latency: BTreeMap<String, Stats>,
    /// Backchannel and noise clips over a reply that ended it.
    pub false_barge_in: Rate,
    /// Turns that ended before the user's speech did.
    pub false_cut_off: Rate,
    /// Of those, the turns with an annotated pause.
    pub false_cut_off_in_pauses: Rate,
    /// Interruptions the reply did not stop for.
    pub missed_interruption: Rate,
    /// SID-Bench's average penalty time (s) over the clips played over replies.
    pub apt_s: Option<f64>,
    /// SID-Bench's false interruption rate (false alarms / clips).
    pub fir: Option<f64>,
    /// SID-Bench's interruption response latency (s): mean delay of late detections.
    pub irl_s: Option<f64>,
    /// Mean word error rate of the user transcripts against the annotated text.
    pub wer: Option<f64>,
}

/// Sums up `turns`; `rtt_ms` are the network round trips measured beside them.
pub fn summarize(turns: &[TurnResult], rtt_ms: &[f64]) -> Summary {
    let mut s = Summary { turns: turns.len(), ..Default::default() };
    s.failed_turns = turns.iter().filter(|t| t.error.is_some()).count();
    let mut latency = |name: &str, values: Vec<f64>| {
        if let Some(stats) = Stats::of(&values) {
            s.latency.insert(name.to_string(), stats);
        }
    };
    latency("voice_to_voice_ms", turns.iter().filter_map(|t| t.voice_to_voice_ms).collect());
    latency("end_of_turn_ms", turns.iter().filter_map(|t| t.end_of_turn_ms).collect());
    latency(
        "barge_in_stop_ms",
        turns
            .iter()
            .filter_map(|t| t.overlap.as_ref())
            .filter(|o| o.kind == "interruption")
            .filter_map(|o| o.stop_ms)
            .collect(),
    );
    let server = |f: fn(&super::metrics::ServerStages) -> f64| -> Vec<f64> {
        turns.iter().filter_map(|t| t.server.as_ref()).map(f).collect()
    };
    latency("server_end_of_turn_ms", server(|s| s.end_of_turn_ms));
    latency("server_transcript_ms", server(|s| s.transcript_ms));
    latency("server_first_token_ms", server(|s| s.first_token_ms));
    latency("server_first_audio_ms", server(|s| s.first_audio_ms));
    latency("server_audio_sent_ms", server(|s| s.audio_sent_ms));
    latency("network_rtt_ms", rtt_ms.to_vec());

    let overlaps: Vec<_> = turns.iter().filter_map(|t| t.overlap.as_ref()).filter(|o| !o.void).collect();
    for o in &overlaps {
        if o.kind == "interruption" {
            s.missed_interruption.of += 1;
            s.missed_interruption.count += usize::from(!o.stopped);
        } else {
            s.false_barge_in.of += 1;
            s.false_barge_in.count += usize::from(o.stopped);
        }
    }
    if !overlaps.is_empty() {
        let n = overlaps.len() as f64;
        s.apt_s = Some(overlaps.iter().map(|o| o.penalty_s).sum::<f64>() / n);
        s.fir = Some(overlaps.iter().filter(|o| o.false_alarm).count() as f64 / n);
        let delays: Vec<f64> = overlaps.iter().filter_map(|o| o.delay_s).collect();
        s.irl_s = (!delays.is_empty()).then(|| delays.iter().sum::<f64>() / delays.len() as f64);
    }
    for t in turns.iter().filter(|t| t.error.is_none() || t.cut_off) {
        s.false_cut_off.of += 1;
        s.false_cut_off.count += usize::from(t.cut_off);
        if t.has_pause {
            s.false_cut_off_in_pauses.of += 1;
            s.false_cut_off_in_pauses.count += usize::from(t.cut_off);
        }
    }
    let wers: Vec<f64> = turns.iter().filter_map(|t| t.wer).collect();
    s.wer = (!wers.is_empty()).then(|| wers.iter().sum::<f64>() / wers.len() as f64);
    s
}
