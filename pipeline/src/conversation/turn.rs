//! Listening and the end of the user's turn: frames are kept and sent to the VAD, the [`SpeechDetector`]'s
//! events start, pause and resume the utterance, and once the speech pauses the end-of-turn model and the
//! silence rules decide when the turn is over.

use std::time::Duration;

use parley_media::AudioFrame;

use super::barge_in::{Decision, Heard};
use super::io::{Output, RATE, RequestClass, RequestId, millis};
use super::playback::Marks;
use super::speech::SpeechEvent;
use super::{Conversation, ServerEvent};
use crate::protocol::TurnEndReason;

/// Audio kept before speech starts, so the first syllable is not clipped.
const PRE_ROLL: u64 = RATE / 5;
/// The end-of-turn model looks at the last 8 s.
const EOT_WINDOW: u64 = 8 * RATE;
/// Audio kept at most (the longest utterance transcribed whole).
const MAX_UTTERANCE: u64 = 30 * RATE;
/// No frame for this long: the peer has stopped sending, and silence timers run on the clock.
const FRAME_GAP: Duration = Duration::from_millis(100);

/// The end-of-turn model's part in a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EotCheck {
    /// Asked; waiting for its answer.
    Asked(RequestId),
    /// It said "not finished" after this much silence (ms): ask again later.
    NotYet { at_ms: u64 },
    /// It failed: the silence fallback decides.
    Failed,
    /// No more checks (a barge-in's end is decided by its words); the longest wait still applies.
    Done,
}

/// A pause in the user's speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pause {
    /// Silent since this sample.
    pub(crate) speech_end: u64,
    pub(crate) eot: EotCheck,
    /// The final transcript, asked at the pause.
    pub(crate) asr: Option<RequestId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum UserState {
    #[default]
    Idle,
    Speaking,
    Paused(Pause),
    /// The turn ended; waiting for its final transcript.
    Transcribing {
        asr: RequestId,
    },
}

/// The user's current utterance.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    pub(crate) state: UserState,
    pub(crate) utterance_start: u64,
    /// Utterances so far (names the client's items).
    pub(crate) items: u64,
    /// The final transcript when it arrived before the turn ended.
    pub(crate) pending_transcript: Option<String>,
    /// Latency marks of this turn (handed to its reply).
    pub(crate) marks: Marks,
}

impl Turn {
    pub(crate) fn set_idle(&mut self) {
        self.state = UserState::Idle;
    }

    pub(crate) fn speaking(&self) -> bool {
        self.state == UserState::Speaking
    }

    pub(crate) fn pause_mut(&mut self) -> Option<&mut Pause> {
        match &mut self.state {
            UserState::Paused(p) => Some(p),
            _ => None,
        }
    }
}

impl Conversation {
    pub(crate) fn on_audio(&mut self, frame: AudioFrame) {
        self.echo.input(&frame.samples, self.now);
        // Keep what an utterance in progress needs, else only the pre-roll.
        let (idle, start) = (self.turn.state == UserState::Idle, self.turn.utterance_start);
        self.audio.push(&frame, self.now, |end| {
            if idle { end.saturating_sub(PRE_ROLL) } else { start.max(end.saturating_sub(MAX_UTTERANCE)) }
        });
        let end = frame.end_sample();
        self.outputs.push_back(Output::Vad { samples: frame.samples });
        self.maybe_partial(end);
    }

    pub(crate) fn on_vad(&mut self, probabilities: &[(u64, f32)]) {
        for &(end, p) in probabilities {
            if let Some(event) = self.detector.push(end, p) {
                self.on_speech(event);
            }
            if self.turn.speaking()
                && let Some(lasted) = self.barge_in_lasted(end)
            {
                self.hear(lasted, 0);
            }
            self.on_silence(end);
        }
    }

    fn on_speech(&mut self, event: SpeechEvent) {
        match event {
            SpeechEvent::Started { at } => {
                if self.ignoring_speech {
                    return;
                }
                if self.reply.is_some() && self.barge.is_none() {
                    let echo = self.config.echo_gate.then(|| self.echo.correlation(self.now));
                    if self.hear(Heard::Onset { echo }, at) == Decision::IgnoreEcho {
                        return;
                    }
                }
                self.start_utterance(at);
            }
            SpeechEvent::Paused { at } => {
                if self.ignoring_speech {
                    self.ignoring_speech = false;
                    self.detector.reset();
                    return;
                }
                if self.turn.speaking() {
                    self.on_pause(at);
                }
            }
            SpeechEvent::Resumed => {
                if self.ignoring_speech {
                    return;
                }
                if let UserState::Paused(pause) = self.turn.state {
                    if let Some(asr) = pause.asr {
                        self.cancel(asr);
                    }
                    self.turn.pending_transcript = None;
                    self.turn.state = UserState::Speaking;
                }
            }
        }
    }

    fn start_utterance(&mut self, at: u64) {
        if matches!(self.turn.state, UserState::Speaking | UserState::Paused(_)) {
            return;
        }
        self.turn.items += 1;
        self.turn.utterance_start = at.saturating_sub(PRE_ROLL).max(self.audio.start());
        self.turn.state = UserState::Speaking;
        self.turn.pending_transcript = None;
        self.turn.marks = Marks::default();
        self.partials.restart(at);
        self.voice = Default::default();
        self.event(ServerEvent::SpeechStarted { item_id: self.item_id(), audio_start_ms: millis(at) });
    }

    /// The speech paused at sample `at`: ask the end-of-turn model and, at the same time, the final transcript.
    fn on_pause(&mut self, at: u64) {
        let eot = self.ask_end_of_turn(at, at);
        if let Some(partial) = self.partials.take() {
            self.cancel(partial);
        }
        let asr = self.ask_transcript(self.turn.utterance_start, at, false);
        self.turn.marks.speech_end = Some(self.audio.arrival_of(at, self.now));
        self.check_voice(at);
        self.turn.state = UserState::Paused(Pause { speech_end: at, eot: EotCheck::Asked(eot), asr: Some(asr) });
    }

    fn ask_end_of_turn(&mut self, speech_end: u64, to: u64) -> RequestId {
        let id = self.id();
        let from = speech_end.saturating_sub(EOT_WINDOW).max(self.turn.utterance_start);
        self.outputs.push_back(Output::EndOfTurn { id, audio: self.audio.range(from, to) });
        id
    }

    /// Asks for the transcript of `from..to` (a streaming partial, or the utterance's final one).
    pub(crate) fn ask_transcript(&mut self, from: u64, to: u64, partial: bool) -> RequestId {
        let id = self.id();
        let (class, deadline_ms) = if partial {
            (RequestClass::Background, self.config.partial_transcript_deadline_ms)
        } else {
            (RequestClass::Interactive, self.config.final_transcript_deadline_ms)
        };
        self.outputs.push_back(Output::Transcribe {
            id,
            audio: self.audio.range(from, to),
            partial,
            class,
            deadline: Duration::from_millis(deadline_ms as u64),
        });
        id
    }

    /// Silence has lasted up to sample `end` since the pause: ask again, or end the turn at the limits.
    fn on_silence(&mut self, end: u64) {
        let UserState::Paused(pause) = self.turn.state else { return };
        let silence_ms = millis(end.saturating_sub(pause.speech_end));
        if pause.eot == EotCheck::Failed && silence_ms >= self.config.silence_fallback_ms as u64 {
            return self.end_turn(TurnEndReason::Silence);
        }
        if silence_ms >= self.config.max_wait_ms as u64 {
            return self.end_turn(TurnEndReason::MaxWait);
        }
        if let EotCheck::NotYet { at_ms } = pause.eot
            && silence_ms >= at_ms + self.config.eot_recheck_ms as u64
        {
            let id = self.ask_end_of_turn(pause.speech_end, end);
            if let Some(p) = self.turn.pause_mut() {
                p.eot = EotCheck::Asked(id);
            }
        }
    }

    /// The silence (ms after the pause) at which a rule acts next, if a pause is under way.
    fn next_silence_rule_ms(&self) -> Option<(u64, u64)> {
        let UserState::Paused(pause) = self.turn.state else { return None };
        let c = &self.config;
        let mut at = c.max_wait_ms as u64;
        match pause.eot {
            EotCheck::Failed => at = at.min(c.silence_fallback_ms as u64),
            EotCheck::NotYet { at_ms } => at = at.min(at_ms + c.eot_recheck_ms as u64),
            EotCheck::Asked(_) | EotCheck::Done => {}
        }
        Some((pause.speech_end, at))
    }

    /// When the silence rules must run on the clock: only once frames have stopped arriving (while they
    /// arrive, the VAD's answers drive the rules in media time).
    pub(crate) fn silence_deadline(&self) -> Option<Duration> {
        let (speech_end, at_ms) = self.next_silence_rule_ms()?;
        let (_, last_arrival) = self.audio.last_arrival()?;
        let due = self.audio.arrival_of(speech_end, self.now) + Duration::from_millis(at_ms);
        Some(due.max(last_arrival + FRAME_GAP))
    }

    /// No input for a while: if frames have stopped, the silence since the last one counts.
    pub(crate) fn on_silence_timeout(&mut self) {
        let Some((last_end, last_arrival)) = self.audio.last_arrival() else { return };
        let gap = self.now.saturating_sub(last_arrival);
        if gap < FRAME_GAP {
            return;
        }
        let end = last_end + (gap.as_micros() as u64 * RATE / 1_000_000);
        self.on_silence(end);
    }

    /// The end-of-turn model's answer (`None`: it failed).
    pub(crate) fn on_end_of_turn(&mut self, id: RequestId, probability: Option<f32>) {
        let UserState::Paused(pause) = self.turn.state else { return };
        if pause.eot != EotCheck::Asked(id) {
            return;
        }
        let next = match probability {
            Some(p) if p >= self.config.eot_threshold => {
                if self.barge.is_none() {
                    return self.end_turn(TurnEndReason::Semantic);
                }
                // A barge-in that ends quickly is decided by its words, not by end of turn.
                EotCheck::Done
            }
            Some(_) => {
                let last = self.audio.end();
                EotCheck::NotYet { at_ms: millis(last.saturating_sub(pause.speech_end)) }
            }
            None => EotCheck::Failed,
        };
        if let Some(p) = self.turn.pause_mut() {
            p.eot = next;
        }
    }

    pub(crate) fn end_turn(&mut self, reason: TurnEndReason) {
        let UserState::Paused(pause) = self.turn.state else { return };
        if self.barge.is_some() {
            // Short speech over the reply with no verdict yet: its transcript decides.
            return;
        }
        if self.focus.is_some() && self.voice.verdict.is_none() {
            // Whose voice it was decides whether this is a turn at all.
            self.voice.end_waiting = Some(reason);
            self.check_voice(pause.speech_end);
            return;
        }
        self.turn.marks.end_of_turn = Some(self.now);
        self.detector.reset();
        let item_id = self.item_id();
        self.event(ServerEvent::SpeechStopped { item_id: item_id.clone(), audio_end_ms: millis(pause.speech_end) });
        self.event(ServerEvent::TurnEnded { item_id, reason });
        if let Some(text) = self.turn.pending_transcript.take() {
            return self.finish_transcript(text);
        }
        let asr = match pause.asr {
            Some(asr) => asr,
            None => self.ask_transcript(self.turn.utterance_start, pause.speech_end, false),
        };
        self.turn.state = UserState::Transcribing { asr };
    }
}
