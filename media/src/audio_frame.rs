//! The unit of audio that crosses crate boundaries.

/// Mono f32 samples at a known rate, stamped with media time (in samples since the stream started), so
/// that every consumer can count time without a clock.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    pub sample_rate: u32,
    /// Index of the first sample in the stream.
    pub start_sample: u64,
    pub samples: Vec<f32>,
}

impl AudioFrame {
    /// The pipeline's input format: 20 ms at 16 kHz.
    pub const PIPELINE_RATE: u32 = 16_000;
    pub const PIPELINE_SAMPLES: usize = 320;

    pub fn new(sample_rate: u32, start_sample: u64, samples: Vec<f32>) -> Self {
        Self { sample_rate, start_sample, samples }
    }

    /// Media time of the first sample, in microseconds.
    pub fn start_us(&self) -> u64 {
        self.start_sample * 1_000_000 / self.sample_rate as u64
    }

    /// Duration in microseconds.
    pub fn duration_us(&self) -> u64 {
        self.samples.len() as u64 * 1_000_000 / self.sample_rate as u64
    }

    /// The first sample after this frame.
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.samples.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_time_counts_samples() {
        let f = AudioFrame::new(16_000, 16_000, vec![0.0; AudioFrame::PIPELINE_SAMPLES]);
        assert_eq!(f.start_us(), 1_000_000);
        assert_eq!(f.duration_us(), 20_000);
        assert_eq!(f.end_sample(), 16_320);
    }
}
