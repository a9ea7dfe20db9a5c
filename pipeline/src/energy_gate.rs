//! A speech gate on signal energy alone, for the echo pipeline (`parley serve --pipeline echo`), which tests the
//! transport and the harness without models: it turns 16 kHz frames into speech started / stopped events with
//! the crate's [`Hysteresis`] over each frame's RMS level (a louder threshold to start than to stay on, minimum
//! durations, [`Onset::Strict`]), so a click does not start speech and a short pause does not end it. Sans-IO:
//! positions are sample counts of the stream.

use parley_media::AudioFrame;

use crate::hysteresis::{Edge, Hysteresis, HysteresisConfig, Onset};

/// Thresholds and durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyGateConfig {
    /// Frame RMS (dBFS) at or above which a frame counts as loud.
    pub start_dbfs: f32,
    /// Frame RMS (dBFS) below which a frame counts as quiet while speech is on.
    pub stop_dbfs: f32,
    /// Loud audio needed to start, in samples.
    pub min_speech: u64,
    /// Quiet audio needed to stop, in samples.
    pub min_silence: u64,
}

impl Default for EnergyGateConfig {
    /// At the pipeline's 16 kHz: start at −40 dBFS after 60 ms, stop below −50 dBFS after 300 ms.
    fn default() -> Self {
        let samples = |ms: u64| ms * AudioFrame::PIPELINE_RATE as u64 / 1000;
        Self { start_dbfs: -40.0, stop_dbfs: -50.0, min_speech: samples(60), min_silence: samples(300) }
    }
}

/// What the gate saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateEvent {
    /// Speech began at this sample (the first loud frame).
    Started { at: u64 },
    /// Speech ended at this sample (the end of the last loud frame).
    Stopped { at: u64 },
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct EnergyGate {
    hysteresis: Hysteresis,
    position: u64,
}

impl EnergyGate {
    pub fn new(config: EnergyGateConfig) -> Self {
        let hysteresis = Hysteresis::new(HysteresisConfig {
            on: config.start_dbfs,
            off: config.stop_dbfs,
            min_on: config.min_speech,
            min_off: config.min_silence,
            onset: Onset::Strict,
        });
        Self { hysteresis, position: 0 }
    }

    pub fn is_speaking(&self) -> bool {
        self.hysteresis.is_on()
    }

    /// Feeds one frame (any length); returns the event it completes, if any.
    pub fn push(&mut self, frame: &[f32]) -> Option<GateEvent> {
        let start = self.position;
        self.position += frame.len() as u64;
        match self.hysteresis.push(start, self.position, dbfs(frame))? {
            Edge::On { start } => Some(GateEvent::Started { at: start }),
            Edge::Off { held_end, .. } => Some(GateEvent::Stopped { at: held_end }),
        }
    }
}

/// RMS level in dBFS (−inf for silence, floored at −120).
pub fn dbfs(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return -120.0;
    }
    let mean = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
    (10.0 * mean.log10()).max(-120.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = AudioFrame::PIPELINE_SAMPLES; // 20 ms

    fn tone(amplitude: f32) -> Vec<f32> {
        (0..FRAME).map(|i| (i as f32 * 0.2).sin() * amplitude).collect()
    }

    fn run(gate: &mut EnergyGate, frames: &[(f32, usize)]) -> Vec<GateEvent> {
        let mut events = Vec::new();
        for &(amplitude, count) in frames {
            for _ in 0..count {
                events.extend(gate.push(&tone(amplitude)));
            }
        }
        events
    }

    #[test]
    fn speech_starts_after_60_ms_of_loud_audio_and_stops_after_300_ms_quiet() {
        let mut gate = EnergyGate::new(EnergyGateConfig::default());
        // 200 ms silence, 1 s of speech (-13 dBFS), 500 ms silence.
        let events = run(&mut gate, &[(0.0, 10), (0.3, 50), (0.0, 25)]);
        assert_eq!(events, [GateEvent::Started { at: 3_200 }, GateEvent::Stopped { at: 3_200 + 16_000 }]);
        assert!(!gate.is_speaking());
    }

    #[test]
    fn a_click_does_not_start_speech_and_a_short_pause_does_not_end_it() {
        let mut gate = EnergyGate::new(EnergyGateConfig::default());
        // A 40 ms click, then speech with a 200 ms pause in it, then a quiet tail.
        let events = run(&mut gate, &[(0.3, 2), (0.0, 10), (0.3, 20), (0.0, 10), (0.3, 20), (0.0, 20)]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], GateEvent::Started { at: 12 * FRAME as u64 });
        assert_eq!(events[1], GateEvent::Stopped { at: 62 * FRAME as u64 });
    }

    #[test]
    fn hysteresis_keeps_speech_on_between_the_two_thresholds() {
        let mut gate = EnergyGate::new(EnergyGateConfig::default());
        // Start loud, then a level of about -46 dBFS: below the start threshold, above the stop one.
        let events = run(&mut gate, &[(0.3, 5), (0.007, 40)]);
        assert_eq!(events, [GateEvent::Started { at: 0 }]);
        assert!(gate.is_speaking());
        assert!((dbfs(&tone(0.007)) + 46.0).abs() < 1.5, "{}", dbfs(&tone(0.007)));
    }
}
