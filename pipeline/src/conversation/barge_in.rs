//! Barge-in: what user speech over the reply means, decided in one place. [`decide`] is a pure function of
//! the evidence (what was just heard, whose voice it is) and two settings; the rest of this file carries
//! the decision out on the conversation. Every piece of evidence — the onset, how long the speech has
//! lasted, its transcript (partial or complete), the voice verdict — is fed through [`Conversation::hear`].
//!
//! The rule: speech over the reply first *pauses* it (nothing is lost yet). It *interrupts* once it is real
//! — it has lasted [`ConversationConfig::barge_in_ms`](super::ConversationConfig::barge_in_ms) or its
//! transcript holds a word that is not a backchannel — and it is the primary speaker's (when focus is on).
//! A complete utterance of only backchannels, a cough or noise *resumes* the reply where it paused. Speech
//! whose envelope follows what was just played is the assistant's own echo and is ignored.

use super::io::millis;
use super::speaker_focus::Verdict;
use super::{Conversation, ResponseStatus};
use crate::conversation::io::Output;

/// One piece of evidence about speech heard while the reply is audible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Heard {
    /// Speech started over the reply; `echo`: the correlation of its envelope with the audio just played
    /// (`None` when the echo gate is off).
    Onset { echo: Option<f32> },
    /// The speech has lasted this long over the reply (ms).
    Lasted { ms: u64 },
    /// A transcript of it: only backchannel words (or none), and whether the utterance is complete.
    Words { backchannel: bool, complete: bool },
    /// Whose voice it is has just been judged.
    VoiceJudged,
}

/// Whose voice the speech is, as far as known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// Primary-speaker focus is off: everyone counts.
    Anyone,
    /// Focus is on and the verdict is not in yet.
    Unknown,
    Primary,
    Other,
}

/// The settings the decision uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BargeInPolicy {
    /// Speech longer than this over the reply is real whatever it says (ms).
    pub barge_in_ms: u64,
    /// Envelope correlation at or above which speech is the assistant's echo.
    pub echo_correlation: f32,
}

/// What to do about the speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The assistant's own echo: ignore this speech until it pauses; the reply plays on.
    IgnoreEcho,
    /// Pause the reply while more is learnt.
    Pause,
    /// Not decided yet: keep the reply paused.
    Hold,
    /// Stop the reply and cut the history to the words heard.
    Interrupt,
    /// Not an interruption: the reply resumes where it paused.
    Resume,
    /// Real speech, but whose? Keep the reply paused and ask for the voice.
    AskVoice,
}

/// See the module docs; `real_already`: an earlier piece of evidence showed the speech is real.
pub fn decide(heard: Heard, voice: Voice, real_already: bool, policy: &BargeInPolicy) -> Decision {
    if voice == Voice::Other {
        return Decision::Resume;
    }
    let real = real_already
        || match heard {
            Heard::Onset { echo } => {
                return if echo.is_some_and(|c| c >= policy.echo_correlation) {
                    Decision::IgnoreEcho
                } else {
                    Decision::Pause
                };
            }
            Heard::Lasted { ms } => ms >= policy.barge_in_ms,
            Heard::Words { backchannel, complete } => {
                if backchannel && complete {
                    return Decision::Resume;
                }
                !backchannel
            }
            Heard::VoiceJudged => false,
        };
    match (real, voice) {
        (false, _) => Decision::Hold,
        (true, Voice::Anyone | Voice::Primary) => Decision::Interrupt,
        (true, Voice::Unknown) => Decision::AskVoice,
        (true, Voice::Other) => Decision::Resume,
    }
}

/// A barge-in under way: the reply is paused since the speech began at this sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BargeIn {
    pub(crate) start_sample: u64,
    /// Evidence so far showed the speech is real (it waits only for the voice verdict).
    pub(crate) real: bool,
}

impl Conversation {
    fn policy(&self) -> BargeInPolicy {
        BargeInPolicy { barge_in_ms: self.config.barge_in_ms as u64, echo_correlation: self.config.echo_correlation }
    }

    fn voice(&self) -> Voice {
        match (&self.focus, self.voice.verdict) {
            (None, _) => Voice::Anyone,
            (Some(_), None) => Voice::Unknown,
            (Some(_), Some(Verdict::Primary | Verdict::Enrolled)) => Voice::Primary,
            (Some(_), Some(Verdict::Other)) => Voice::Other,
        }
    }

    /// The evidence about speech heard over the reply, decided and carried out. `at`: where the speech
    /// began (for an onset). Returns the decision.
    pub(crate) fn hear(&mut self, heard: Heard, at: u64) -> Decision {
        let real_already = self.barge.is_some_and(|b| b.real);
        let decision = decide(heard, self.voice(), real_already, &self.policy());
        match decision {
            Decision::IgnoreEcho => self.ignoring_speech = true,
            Decision::Pause => {
                self.barge = Some(BargeIn { start_sample: at, real: false });
                self.outputs.push_back(Output::PauseAudio);
            }
            Decision::Hold => {}
            Decision::Interrupt => self.interrupt(ResponseStatus::Interrupted),
            Decision::Resume => {
                if self.barge.is_some() {
                    self.resume_after_false_barge_in();
                }
            }
            Decision::AskVoice => {
                if let Some(b) = self.barge.as_mut() {
                    b.real = true;
                }
                let end = self.audio.end().max(self.turn.utterance_start);
                self.check_voice(end);
            }
        }
        decision
    }

    /// How long the speech of the barge-in under way has lasted at sample `end`.
    pub(crate) fn barge_in_lasted(&self, end: u64) -> Option<Heard> {
        self.barge.map(|b| Heard::Lasted { ms: millis(end.saturating_sub(b.start_sample)) })
    }

    /// A barge-in that was not an interruption: the reply resumes where it paused.
    pub(crate) fn resume_after_false_barge_in(&mut self) {
        self.barge = None;
        self.turn.set_idle();
        self.detector.reset();
        self.outputs.push_back(Output::ResumeAudio);
        self.maybe_finish_reply();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BargeInPolicy = BargeInPolicy { barge_in_ms: 700, echo_correlation: 0.8 };

    #[test]
    fn the_decision_table() {
        use Decision::*;
        use Heard::*;
        use Voice::*;
        let words = |backchannel, complete| Words { backchannel, complete };
        #[rustfmt::skip]
        let table: &[(Heard, Voice, bool, Decision)] = &[
            // Onset: echo is ignored, anything else pauses the reply.
            (Onset { echo: Some(0.9) }, Anyone,  false, IgnoreEcho),
            (Onset { echo: Some(0.5) }, Anyone,  false, Pause),
            (Onset { echo: None },      Unknown, false, Pause),
            // Duration: short speech holds, long speech interrupts (or asks whose voice).
            (Lasted { ms: 300 },        Anyone,  false, Hold),
            (Lasted { ms: 700 },        Anyone,  false, Interrupt),
            (Lasted { ms: 900 },        Unknown, false, AskVoice),
            (Lasted { ms: 900 },        Primary, false, Interrupt),
            // Words: a real word interrupts at once; backchannels hold, and resume once complete.
            (words(false, false),       Anyone,  false, Interrupt),
            (words(false, true),        Primary, false, Interrupt),
            (words(false, false),       Unknown, false, AskVoice),
            (words(true, false),        Anyone,  false, Hold),
            (words(true, true),         Anyone,  false, Resume),
            (words(true, true),         Unknown, false, Resume),
            // Another voice never interrupts, whatever it says or however long.
            (words(false, true),        Other,   false, Resume),
            (Lasted { ms: 5000 },       Other,   false, Resume),
            // The voice verdict settles speech already shown to be real.
            (VoiceJudged,                 Primary, true,  Interrupt),
            (VoiceJudged,                 Primary, false, Hold),
            (VoiceJudged,                 Other,   true,  Resume),
            // Once real, a later backchannel transcript does not take it back.
            (words(true, true),         Unknown, true,  AskVoice),
        ];
        for &(heard, voice, real, want) in table {
            assert_eq!(decide(heard, voice, real, &POLICY), want, "{heard:?} {voice:?} real={real}");
        }
    }
}
