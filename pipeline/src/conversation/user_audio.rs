//! The user's recent audio (bounded: what the utterance in progress needs, else a short pre-roll) and when
//! each frame arrived, so a media position can be turned into the time it was heard.

use std::collections::VecDeque;
use std::time::Duration;

use parley_media::AudioFrame;

/// Frames whose arrival time is kept (10 s).
const ARRIVALS_KEPT: usize = 500;

#[derive(Debug, Default)]
pub(crate) struct UserAudio {
    samples: VecDeque<f32>,
    /// Media position of `samples[0]`.
    start: u64,
    /// (end sample of a frame, when it arrived).
    arrivals: VecDeque<(u64, Duration)>,
}

impl UserAudio {
    /// Keeps `frame` (arrived at `now`) and forgets what is before `keep_from`.
    pub(crate) fn push(&mut self, frame: &AudioFrame, now: Duration, keep_from: impl FnOnce(u64) -> u64) {
        self.arrivals.push_back((frame.end_sample(), now));
        if self.arrivals.len() > ARRIVALS_KEPT {
            self.arrivals.pop_front();
        }
        if self.samples.is_empty() {
            self.start = frame.start_sample;
        }
        self.samples.extend(frame.samples.iter().copied());
        let keep_from = keep_from(frame.end_sample());
        let drop = keep_from.saturating_sub(self.start).min(self.samples.len() as u64);
        self.samples.drain(..drop as usize);
        self.start += drop;
    }

    /// The first sample still kept.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// The end of the last frame heard (0 before any).
    pub(crate) fn end(&self) -> u64 {
        self.arrivals.back().map_or(0, |(end, _)| *end)
    }

    /// The end of the last frame and when it arrived.
    pub(crate) fn last_arrival(&self) -> Option<(u64, Duration)> {
        self.arrivals.back().copied()
    }

    /// When the frame holding `sample` arrived (`now` if it is not known).
    pub(crate) fn arrival_of(&self, sample: u64, now: Duration) -> Duration {
        self.arrivals.iter().find(|(end, _)| *end >= sample).map_or(now, |(_, at)| *at)
    }

    /// A copy of the samples in `from..to` that are kept.
    pub(crate) fn range(&self, from: u64, to: u64) -> Vec<f32> {
        let from = from.max(self.start);
        let to = to.min(self.start + self.samples.len() as u64);
        if to <= from {
            return Vec::new();
        }
        self.samples.range((from - self.start) as usize..(to - self.start) as usize).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(start: u64, value: f32) -> AudioFrame {
        AudioFrame::new(16_000, start, vec![value; 320])
    }

    #[test]
    fn keeps_only_what_is_asked_and_knows_when_each_frame_came() {
        let mut a = UserAudio::default();
        a.push(&frame(0, 0.1), Duration::from_millis(20), |_| 0);
        a.push(&frame(320, 0.2), Duration::from_millis(40), |end| end - 400);
        assert_eq!(a.start(), 240);
        assert_eq!(a.range(0, 1000).len(), 400);
        assert_eq!(a.range(300, 330), [vec![0.1; 20], vec![0.2; 10]].concat());
        assert_eq!(a.end(), 640);
        assert_eq!(a.arrival_of(330, Duration::ZERO), Duration::from_millis(40));
        assert_eq!(a.arrival_of(5000, Duration::from_secs(9)), Duration::from_secs(9));
    }
}
