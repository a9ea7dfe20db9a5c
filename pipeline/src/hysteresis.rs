//! The one hysteresis rule behind every speech decision in parley: a per-chunk level (a VAD probability, a
//! frame's energy in dBFS) switches a state on and off, with a higher level to start than to stay on and
//! minimum durations both ways, so a click does not start speech and a short pause does not end it. Sans-IO:
//! chunks come with their position in samples; it never reads a clock.
//!
//! - A chunk is **strong** at or above [`HysteresisConfig::on`], **quiet** below [`HysteresisConfig::off`]
//!   (`off <= on`); between the two it holds whatever state there is.
//! - **Off → on**: a strong chunk opens an onset, confirmed once it has lasted [`HysteresisConfig::min_on`]
//!   samples ([`Edge::On`]); how the onset may dip before that is the [`Onset`] rule.
//! - **On → off**: quiet chunks for [`HysteresisConfig::min_off`] samples after the last chunk that held
//!   ([`Edge::Off`]).
//!
//! Its users: the conversation's `SpeechDetector` (VAD probabilities; an off edge is a pause), the echo
//! pipeline's `EnergyGate` (frame energy) and the offline `VadSegmenter` (segments of a clip, with padding).

/// How an onset may dip before it has lasted [`HysteresisConfig::min_on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Onset {
    /// Every chunk of the onset must be strong; anything less starts the count again. A click followed by a
    /// pause then does not count towards the speech after it (live use: the conversation and the echo gate).
    Strict,
    /// Silero's own rule (`get_speech_timestamps`): the onset is held like confirmed speech — chunks between
    /// the thresholds keep it, and it is dropped only after `min_off` of quiet — and confirmed when a chunk
    /// that holds it ends `min_on` after its start (offline segments).
    Held,
}

/// Thresholds on the level and durations in samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HysteresisConfig {
    /// Level at or above which a chunk is strong (starts the state, and is "real" speech).
    pub on: f32,
    /// Level below which a chunk is quiet (counts towards turning off). Clamped to at most `on`.
    pub off: f32,
    /// How long an onset must last to turn on.
    pub min_on: u64,
    /// How long quiet must last to turn off.
    pub min_off: u64,
    pub onset: Onset,
}

/// A change of state, decided by the chunk just pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// On since `start`, the first sample of the onset.
    On { start: u64 },
    /// Off. The span began at `start`; `held_end` is the end of the last chunk at or above `off`, `strong_end`
    /// the end of the last chunk at or above `on` (never after `held_end`).
    Off { start: u64, held_end: u64, strong_end: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Off,
    /// An onset since `start`, not yet `min_on` long; `held_end` is the end of its last chunk that held it.
    Onset {
        start: u64,
        held_end: u64,
    },
    /// On since `start`; `quiet` while the latest chunks are quiet (counting towards `min_off`).
    On {
        start: u64,
        held_end: u64,
        strong_end: u64,
        quiet: bool,
    },
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Hysteresis {
    config: HysteresisConfig,
    state: State,
}

impl Hysteresis {
    pub fn new(mut config: HysteresisConfig) -> Self {
        config.off = config.off.min(config.on);
        Self { config, state: State::Off }
    }

    pub fn config(&self) -> &HysteresisConfig {
        &self.config
    }

    /// Changes the onset length from the next chunk on (an onset already open is judged by the new one).
    pub fn set_min_on(&mut self, samples: u64) {
        self.config.min_on = samples;
    }

    /// True while on (confirmed, including quiet chunks not yet `min_off` long).
    pub fn is_on(&self) -> bool {
        matches!(self.state, State::On { .. })
    }

    /// Back to off, forgetting any onset.
    pub fn reset(&mut self) {
        self.state = State::Off;
    }

    /// Takes the level of the chunk `[start, end)`; chunks are expected in order and without gaps.
    pub fn push(&mut self, start: u64, end: u64, level: f32) -> Option<Edge> {
        let c = self.config;
        let strong = level >= c.on;
        let quiet = level < c.off;
        match self.state {
            State::Off => {
                if !strong {
                    return None;
                }
                self.state = State::Onset { start, held_end: end };
                self.confirm(end)
            }
            State::Onset { start: s, held_end } => {
                let holds = match c.onset {
                    Onset::Strict => strong,
                    Onset::Held => !quiet,
                };
                if holds {
                    self.state = State::Onset { start: s, held_end: end };
                    return self.confirm(end);
                }
                if c.onset == Onset::Strict || end - held_end >= c.min_off {
                    self.state = State::Off;
                }
                None
            }
            State::On { start: s, held_end, strong_end, .. } => {
                let strong_end = if strong { end } else { strong_end };
                if !quiet {
                    self.state = State::On { start: s, held_end: end, strong_end, quiet: false };
                    return None;
                }
                if end - held_end >= c.min_off {
                    self.state = State::Off;
                    return Some(Edge::Off { start: s, held_end, strong_end: strong_end.min(held_end) });
                }
                self.state = State::On { start: s, held_end, strong_end, quiet: true };
                None
            }
        }
    }

    /// The input ends at `end`: turns off, closing a span that is on (at `end` unless it was already in a quiet
    /// stretch) and dropping an onset.
    pub fn finish(&mut self, end: u64) -> Option<Edge> {
        let state = std::mem::replace(&mut self.state, State::Off);
        match state {
            State::On { start, held_end, strong_end, quiet } => {
                let (held_end, strong_end) = if quiet { (held_end, strong_end.min(held_end)) } else { (end, end) };
                Some(Edge::Off { start, held_end: held_end.min(end), strong_end: strong_end.min(end) })
            }
            State::Off | State::Onset { .. } => None,
        }
    }

    fn confirm(&mut self, end: u64) -> Option<Edge> {
        if let State::Onset { start, .. } = self.state
            && end - start >= self.config.min_on
        {
            self.state = State::On { start, held_end: end, strong_end: end, quiet: false };
            return Some(Edge::On { start });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: u64 = 10;

    fn config(onset: Onset) -> HysteresisConfig {
        HysteresisConfig { on: 0.5, off: 0.3, min_on: 2 * CHUNK, min_off: 3 * CHUNK, onset }
    }

    fn run(h: &mut Hysteresis, levels: &[f32]) -> Vec<(usize, Edge)> {
        levels
            .iter()
            .enumerate()
            .filter_map(|(i, &l)| h.push(i as u64 * CHUNK, (i as u64 + 1) * CHUNK, l).map(|e| (i, e)))
            .collect()
    }

    #[test]
    fn turns_on_after_min_on_and_off_after_min_off() {
        let mut h = Hysteresis::new(config(Onset::Strict));
        let edges = run(&mut h, &[0.0, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.0]);
        assert_eq!(edges, [(2, Edge::On { start: 10 }), (6, Edge::Off { start: 10, held_end: 40, strong_end: 40 })]);
        assert!(!h.is_on());
    }

    #[test]
    fn between_the_thresholds_holds_but_is_not_strong() {
        let mut h = Hysteresis::new(config(Onset::Strict));
        // 0.4 never starts anything, keeps an on state, and is not counted as strong.
        let edges = run(&mut h, &[0.4, 0.4, 0.9, 0.9, 0.4, 0.4, 0.1, 0.1, 0.1]);
        assert_eq!(edges, [(3, Edge::On { start: 20 }), (8, Edge::Off { start: 20, held_end: 60, strong_end: 40 })]);
    }

    #[test]
    fn a_strict_onset_restarts_on_any_weak_chunk_and_a_held_one_does_not() {
        let levels = [0.9, 0.4, 0.9, 0.9, 0.1, 0.1, 0.1];
        let mut strict = Hysteresis::new(config(Onset::Strict));
        assert_eq!(run(&mut strict, &levels)[0], (3, Edge::On { start: 20 }));
        let mut held = Hysteresis::new(config(Onset::Held));
        assert_eq!(run(&mut held, &levels)[0], (1, Edge::On { start: 0 }));
        // A held onset survives a short quiet gap but not one of `min_off`.
        let mut held = Hysteresis::new(config(Onset::Held));
        assert_eq!(run(&mut held, &[0.9, 0.1, 0.1, 0.9])[0], (3, Edge::On { start: 0 }));
        let mut held = Hysteresis::new(config(Onset::Held));
        assert_eq!(run(&mut held, &[0.9, 0.1, 0.1, 0.1, 0.9, 0.0]), []);
    }

    #[test]
    fn finish_closes_an_open_span_at_the_end_or_at_its_last_held_chunk() {
        let mut h = Hysteresis::new(config(Onset::Strict));
        run(&mut h, &[0.9, 0.9, 0.9]);
        assert_eq!(h.finish(30), Some(Edge::Off { start: 0, held_end: 30, strong_end: 30 }));
        assert_eq!(h.finish(30), None);
        run(&mut h, &[0.9, 0.9, 0.9, 0.1]);
        assert_eq!(h.finish(40), Some(Edge::Off { start: 0, held_end: 30, strong_end: 30 }));
        // An onset not yet confirmed is dropped.
        run(&mut h, &[0.9]);
        assert_eq!(h.finish(10), None);
    }

    #[test]
    fn min_on_of_zero_turns_on_at_the_first_strong_chunk() {
        let mut h = Hysteresis::new(config(Onset::Strict));
        h.set_min_on(0);
        assert_eq!(run(&mut h, &[0.4, 0.6]), [(1, Edge::On { start: 10 })]);
    }
}
