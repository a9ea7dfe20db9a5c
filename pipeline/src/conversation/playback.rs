//! What the user has heard: the output's position (samples sent, at the TTS rate) against what was pushed,
//! the words of the reply whose audio has been sent, and the turn's latency marks, reported as the first
//! reply audio goes out.

use std::time::Duration;

use super::Conversation;
use super::reply::Reply;
use crate::protocol::{ServerEvent, TurnLatency};

/// When each stage of a turn was done (on the core's clock).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Marks {
    /// When the frame where the speech ended arrived.
    pub(crate) speech_end: Option<Duration>,
    pub(crate) end_of_turn: Option<Duration>,
    pub(crate) transcript: Option<Duration>,
    pub(crate) first_token: Option<Duration>,
    pub(crate) first_audio: Option<Duration>,
}

impl Marks {
    /// Each mark in ms after the speech ended, with `sent` as the time the first audio went out.
    fn latency(&self, sent: Duration) -> TurnLatency {
        let since = |t: Option<Duration>| match (self.speech_end, t) {
            (Some(end), Some(t)) => t.saturating_sub(end).as_secs_f64() * 1e3,
            _ => 0.0,
        };
        TurnLatency {
            end_of_turn_ms: since(self.end_of_turn),
            transcript_ms: since(self.transcript),
            first_token_ms: since(self.first_token),
            first_audio_ms: since(self.first_audio),
            audio_sent_ms: since(Some(sent)),
        }
    }
}

/// The output's accounting, session-wide, in TTS samples.
#[derive(Debug, Default)]
pub(crate) struct Playback {
    /// Pushed to the output.
    pub(crate) pushed: u64,
    /// Sent by the output.
    pub(crate) played: u64,
}

impl Playback {
    /// The output forgot its unsent audio (a flush): only what was sent counts as pushed.
    pub(crate) fn forget_unsent(&mut self) {
        self.pushed = self.played;
    }

    /// The words of `reply` the user has heard: those whose last sample has been sent.
    pub(crate) fn heard_text(&self, reply: &Reply) -> String {
        let Some(start) = reply.start else { return String::new() };
        let played = self.played.saturating_sub(start);
        let mut heard: Vec<&str> = Vec::new();
        for (offset, words) in &reply.chunks {
            heard.extend(words.iter().filter(|w| offset + w.end <= played).map(|w| w.text.as_str()));
        }
        heard.join(" ")
    }
}

impl Conversation {
    pub(crate) fn on_played(&mut self, total: u64, samples: &[f32]) {
        self.playback.played = total;
        if !samples.is_empty() {
            self.echo.reference(samples, self.now);
        }
        let now = self.now;
        let Some(r) = self.reply.as_mut() else { return };
        if !r.started_sent && r.start.is_some_and(|s| total > s) {
            r.started_sent = true;
            let latency = r.marks.latency(now);
            let (response_id, item_id) = (r.response_id(), r.item_id.clone());
            self.event(ServerEvent::AudioStarted { response_id });
            self.event(ServerEvent::TurnLatency { item_id, latency });
        }
        self.maybe_finish_reply();
    }
}
