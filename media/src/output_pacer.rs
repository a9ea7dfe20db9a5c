//! Outgoing audio, paced: the pipeline pushes speech at its own rate whenever it has some (TTS produces a clause
//! far faster than real time), and the pacer hands the transport one 20 ms frame at 48 kHz per 20 ms of media
//! time — never a burst, which a receiver's jitter buffer would drop or delay. Sans-IO: time is a parameter
//! (`poll(now)`, `poll_timeout()`).
//!
//! Barge-in needs two things from it: [`OutputPacer::flush`] drops everything not yet sent at once, and
//! [`OutputPacer::sent_source_samples`] says exactly how much of the pushed speech (in its own samples) the
//! peer has been sent, so the assistant's context can be cut to the words played.

use std::collections::VecDeque;
use std::time::Duration;

use crate::resample::{ResampleError, resample};

/// The transport's rate.
pub const OUTPUT_RATE: u32 = 48_000;
/// Samples per outgoing frame (20 ms at 48 kHz).
pub const OUTPUT_FRAME: usize = 960;
const FRAME_PERIOD: Duration = Duration::from_millis(20);
/// How far behind schedule a caller may fall before the schedule restarts from `now` instead of catching up
/// with a burst.
const MAX_LAG: Duration = Duration::from_millis(60);

/// One frame to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutFrame {
    pub samples: Vec<f32>,
    /// When it is due on the media clock.
    pub due: Duration,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct OutputPacer {
    source_rate: u32,
    pending: VecDeque<f32>,
    /// Samples at the source rate pushed and not yet sent, per push, so sent samples map back exactly.
    chunks: VecDeque<(usize, usize)>,
    next_due: Option<Duration>,
    finished: bool,
    /// 48 kHz samples of the front push already sent.
    partial: usize,
    sent_output: u64,
    sent_source: u64,
}

impl OutputPacer {
    /// A pacer for speech pushed at `source_rate` Hz.
    pub fn new(source_rate: u32) -> Self {
        Self {
            source_rate,
            pending: VecDeque::new(),
            chunks: VecDeque::new(),
            next_due: None,
            finished: false,
            partial: 0,
            sent_output: 0,
            sent_source: 0,
        }
    }

    /// Queues speech (mono, at the source rate). Resumes after [`finish`](Self::finish).
    pub fn push(&mut self, samples: &[f32]) -> Result<(), ResampleError> {
        if samples.is_empty() {
            return Ok(());
        }
        let out = resample(samples, self.source_rate, OUTPUT_RATE)?;
        self.chunks.push_back((samples.len(), out.len()));
        self.pending.extend(out);
        self.finished = false;
        Ok(())
    }

    /// No more speech for now: the last partial frame is sent padded with silence.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The frame due at `now`, if any. At most one per 20 ms of media time.
    pub fn poll(&mut self, now: Duration) -> Option<OutFrame> {
        let ready = self.pending.len() >= OUTPUT_FRAME || (self.finished && !self.pending.is_empty());
        if !ready {
            // Underrun or idle: the next frame goes out as soon as there is one.
            self.next_due = None;
            return None;
        }
        let due = match self.next_due {
            Some(due) if due + MAX_LAG < now => now,
            Some(due) => due,
            None => now,
        };
        if now < due {
            return None;
        }
        let take = OUTPUT_FRAME.min(self.pending.len());
        let mut samples: Vec<f32> = self.pending.drain(..take).collect();
        samples.resize(OUTPUT_FRAME, 0.0);
        self.account_sent(take);
        self.next_due = Some(due + FRAME_PERIOD);
        Some(OutFrame { samples, due })
    }

    /// When the next frame is due, if one is waiting.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let ready = self.pending.len() >= OUTPUT_FRAME || (self.finished && !self.pending.is_empty());
        if ready { Some(self.next_due.unwrap_or_default()) } else { None }
    }

    /// Drops everything not yet sent (barge-in); returns how many source samples were dropped.
    pub fn flush(&mut self) -> u64 {
        let partly_sent = self.partial_source_sent();
        let unsent: u64 = self.chunks.iter().map(|&(source, _)| source as u64).sum::<u64>() - partly_sent;
        self.sent_source += partly_sent;
        self.pending.clear();
        self.chunks.clear();
        self.partial = 0;
        self.next_due = None;
        unsent
    }

    /// Source-rate samples the peer has been sent so far (whole pushes exactly; within the push being sent, in
    /// proportion to its resampled length).
    pub fn sent_source_samples(&self) -> u64 {
        self.sent_source + self.partial_source_sent()
    }

    /// 48 kHz samples sent so far (padding included).
    pub fn sent_output_samples(&self) -> u64 {
        self.sent_output
    }

    /// Samples waiting, at 48 kHz.
    pub fn pending_samples(&self) -> usize {
        self.pending.len()
    }

    fn partial_source_sent(&self) -> u64 {
        match self.chunks.front() {
            Some(&(source, output)) if output > 0 => (self.partial as u64 * source as u64) / output as u64,
            _ => 0,
        }
    }

    fn account_sent(&mut self, taken: usize) {
        self.sent_output += OUTPUT_FRAME as u64;
        let mut left = taken;
        while left > 0 {
            let Some(&(source, output)) = self.chunks.front() else { break };
            let remaining = output - self.partial;
            if left >= remaining {
                left -= remaining;
                self.chunks.pop_front();
                self.sent_source += source as u64;
                self.partial = 0;
            } else {
                self.partial += left;
                left = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.05).sin() * 0.5).collect()
    }

    #[test]
    fn frames_leave_one_per_20_ms_never_in_a_burst() {
        let mut p = OutputPacer::new(22_050);
        p.push(&tone(22_050)).unwrap(); // one second
        p.finish();
        // The resampler keeps the length to within a couple of samples of 48 000.
        let resampled = p.pending_samples();
        assert!(resampled.abs_diff(48_000) <= 2, "{resampled}");
        let mut frames = Vec::new();
        let mut now = Duration::ZERO;
        // Poll every 5 ms (and twice at the same instant) for 1.2 s.
        while now < 1200 * MS {
            if let Some(f) = p.poll(now) {
                frames.push(f);
            }
            assert!(p.poll(now).is_none(), "one frame per due time at {now:?}");
            now += 5 * MS;
        }
        assert_eq!(frames.len(), resampled.div_ceil(OUTPUT_FRAME), "1 s at 48 kHz is 50 frames of 960 (+1 partial)");
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.samples.len(), OUTPUT_FRAME);
            assert_eq!(f.due, 20 * MS * i as u32);
        }
        assert_eq!(p.sent_source_samples(), 22_050);
        assert_eq!(p.sent_output_samples(), (frames.len() * OUTPUT_FRAME) as u64);
    }

    #[test]
    fn a_late_caller_gets_one_frame_and_the_schedule_restarts_instead_of_bursting() {
        let mut p = OutputPacer::new(OUTPUT_RATE);
        p.push(&tone(OUTPUT_FRAME * 10)).unwrap();
        assert_eq!(p.poll(Duration::ZERO).map(|f| f.due), Some(Duration::ZERO));
        // The caller stalls for 200 ms: one frame now, the next 20 ms later, not ten at once.
        assert_eq!(p.poll(200 * MS).map(|f| f.due), Some(200 * MS));
        assert!(p.poll(200 * MS).is_none());
        assert_eq!(p.poll_timeout(), Some(220 * MS));
        assert!(p.poll(219 * MS).is_none());
        assert!(p.poll(220 * MS).is_some());
    }

    #[test]
    fn flush_drops_what_was_not_sent_and_counts_exactly_what_was() {
        let mut p = OutputPacer::new(24_000);
        p.push(&tone(2_400)).unwrap(); // 100 ms: 4800 samples at 48 kHz, 5 frames
        p.push(&tone(2_400)).unwrap();
        for i in 0..7u32 {
            assert!(p.poll(20 * MS * i).is_some());
        }
        // 7 frames = 6720 of 9600 output samples: the first push whole, 1920 of the second's 4800.
        assert_eq!(p.sent_source_samples(), 2_400 + 960);
        let dropped = p.flush();
        assert_eq!(dropped, 2_400 - 960);
        assert_eq!(p.sent_source_samples(), 3_360);
        assert_eq!(p.pending_samples(), 0);
        assert!(p.poll(200 * MS).is_none(), "nothing left after a flush");
        // Speech after the flush starts at once.
        p.push(&tone(480)).unwrap();
        p.finish();
        assert_eq!(p.poll(300 * MS).map(|f| f.due), Some(300 * MS));
    }

    #[test]
    fn without_finish_a_partial_frame_waits_for_more_speech() {
        let mut p = OutputPacer::new(OUTPUT_RATE);
        p.push(&tone(500)).unwrap();
        assert!(p.poll(Duration::ZERO).is_none());
        assert_eq!(p.poll_timeout(), None);
        p.push(&tone(500)).unwrap();
        let f = p.poll(10 * MS).unwrap();
        assert_eq!(p.pending_samples(), 40);
        p.finish();
        let last = p.poll(30 * MS).unwrap();
        assert!(last.samples[40..].iter().all(|&s| s == 0.0), "padded with silence");
        assert_eq!(f.due, 10 * MS);
        assert_eq!(p.sent_source_samples(), 1_000);
    }
}
