//! Primary-speaker focus on the conversation: the voice of the current utterance is asked once (when the
//! speech pauses, or when a barge-in turns out real), and the decisions that need it — ending the turn,
//! interrupting — wait for the verdict. Another speaker's utterance is dropped and ignored until it pauses.

use super::barge_in::Heard;
use super::io::{Output, RequestId, millis};
use super::speaker_focus::Verdict;
use super::turn::UserState;
use super::{Conversation, ServerEvent};
use crate::protocol::{IgnoredReason, TurnEndReason};

/// The voice check of the current utterance and the turn end waiting for it.
#[derive(Debug, Default)]
pub(crate) struct VoiceCheck {
    pub(crate) pending: Option<RequestId>,
    pub(crate) verdict: Option<Verdict>,
    pub(crate) end_waiting: Option<TurnEndReason>,
}

impl Conversation {
    /// Asks for the voice embedding of the current utterance (up to sample `to`) unless asked or known.
    pub(crate) fn check_voice(&mut self, to: u64) {
        if self.focus.is_none() || self.voice.pending.is_some() || self.voice.verdict.is_some() {
            return;
        }
        let id = self.id();
        self.voice.pending = Some(id);
        let audio = self.audio.range(self.turn.utterance_start, to);
        self.outputs.push_back(Output::EmbedSpeaker { id, audio });
    }

    /// The voice embedding of the current utterance (None: it failed) and the decisions waiting for it.
    pub(crate) fn on_speaker_embedding(&mut self, id: RequestId, embedding: Option<&[f32]>) {
        if self.voice.pending != Some(id) {
            return;
        }
        self.voice.pending = None;
        let Some(focus) = self.focus.as_mut() else { return };
        let (verdict, similarity) = match embedding {
            Some(e) => focus.judge(e),
            // Without a verdict the speech counts as the primary speaker's (focus fails open).
            None => (Verdict::Primary, f32::NAN),
        };
        self.voice.verdict = Some(verdict);
        if verdict == Verdict::Other {
            return self.ignore_other_speaker(similarity);
        }
        if self.barge.is_some() {
            self.hear(Heard::VoiceJudged, 0);
        }
        if let Some(reason) = self.voice.end_waiting.take() {
            self.end_turn(reason);
        }
    }

    /// The utterance is another speaker's: drop its turn (or barge-in) and ignore it until it pauses.
    fn ignore_other_speaker(&mut self, similarity: f32) {
        self.voice.end_waiting = None;
        let mut cancel: Vec<RequestId> = self.partials.take().into_iter().collect();
        let speaking = match self.turn.state {
            UserState::Paused(pause) => {
                cancel.extend(pause.asr);
                if let super::turn::EotCheck::Asked(eot) = pause.eot {
                    cancel.push(eot);
                }
                false
            }
            UserState::Transcribing { asr } => {
                cancel.push(asr);
                false
            }
            UserState::Speaking => true,
            UserState::Idle => false,
        };
        for id in cancel {
            self.cancel(id);
        }
        self.turn.pending_transcript = None;
        let item_id = self.item_id();
        self.event(ServerEvent::SpeechStopped { item_id: item_id.clone(), audio_end_ms: millis(self.audio.end()) });
        self.event(ServerEvent::SpeechIgnored {
            item_id,
            reason: IgnoredReason::OtherSpeaker,
            similarity: similarity.is_finite().then_some(similarity),
        });
        if self.barge.is_some() {
            self.hear(Heard::VoiceJudged, 0);
        }
        self.turn.set_idle();
        self.detector.reset();
        // Still talking: the rest of this speech is ignored too.
        self.ignoring_speech = speaking;
    }
}
