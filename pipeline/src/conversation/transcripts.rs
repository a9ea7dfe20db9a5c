//! Transcripts of the user's speech: streaming partials while they speak (shown to the client, and
//! evidence for a barge-in), and the final transcript that ends the turn and starts the reply.

use super::barge_in::Heard;
use super::io::{RATE, RequestId, samples};
use super::turn::UserState;
use super::{Conversation, ServerEvent};

/// The streaming partial transcripts of the current utterance.
#[derive(Debug, Default)]
pub(crate) struct Partials {
    /// The partial being transcribed.
    pending: Option<RequestId>,
    /// The sample at which the last partial was asked (or the utterance began).
    asked_at: u64,
    /// The text already sent to the client.
    sent: String,
}

impl Partials {
    pub(crate) fn restart(&mut self, at: u64) {
        *self = Self { pending: None, asked_at: at, sent: String::new() };
    }

    /// Forgets the partial in flight, returning it (to cancel).
    pub(crate) fn take(&mut self) -> Option<RequestId> {
        self.pending.take()
    }

    pub(crate) fn pending(&self) -> Option<RequestId> {
        self.pending
    }

    pub(crate) fn is(&self, id: RequestId) -> bool {
        self.pending == Some(id)
    }
}

impl Conversation {
    /// Asks a partial transcript every so often while the user speaks (more often during a barge-in, whose
    /// words decide it).
    pub(crate) fn maybe_partial(&mut self, end: u64) {
        if !self.turn.speaking() || self.partials.pending.is_some() {
            return;
        }
        let every = if self.barge.is_some() { RATE * 2 / 5 } else { samples(self.config.partial_every_ms) };
        if end >= self.partials.asked_at + every {
            self.partials.asked_at = end;
            let id = self.ask_transcript(self.turn.utterance_start, end, true);
            self.partials.pending = Some(id);
        }
    }

    pub(crate) fn on_transcript(&mut self, id: RequestId, text: String) {
        let text = text.trim().to_string();
        if self.partials.is(id) {
            self.partials.pending = None;
            if self.barge.is_some() {
                let backchannel = self.config.is_backchannel(&text);
                self.hear(Heard::Words { backchannel, complete: false }, 0);
            }
            if self.turn.speaking()
                && let Some(delta) = text.strip_prefix(self.partials.sent.as_str()).filter(|d| !d.is_empty())
            {
                let delta = delta.to_string();
                self.partials.sent = text;
                self.event(ServerEvent::TranscriptDelta { item_id: self.item_id(), delta });
            }
            return;
        }
        match self.turn.state {
            UserState::Paused(pause) if pause.asr == Some(id) => {
                if let Some(p) = self.turn.pause_mut() {
                    p.asr = None;
                }
                if self.barge.is_some() {
                    let backchannel = self.config.is_backchannel(&text);
                    self.hear(Heard::Words { backchannel, complete: true }, 0);
                    return;
                }
                // Keep it for when the turn ends.
                self.turn.pending_transcript = Some(text);
            }
            UserState::Transcribing { asr } if asr == id => self.finish_transcript(text),
            _ => {}
        }
    }

    /// The turn's final transcript: sent to the client, and the reply starts (unless it is empty).
    pub(crate) fn finish_transcript(&mut self, text: String) {
        self.turn.marks.transcript = Some(self.now);
        self.turn.set_idle();
        self.event(ServerEvent::TranscriptCompleted { item_id: self.item_id(), transcript: text.clone() });
        if !text.is_empty() {
            self.start_reply(text);
        }
    }
}
