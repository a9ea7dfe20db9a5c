//! Choosing the next token from logits: greedy, temperature, nucleus (top-p), all seeded so a run can be
//! repeated exactly.

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::error::LlmError;

/// How to pick tokens. `temperature == 0` is greedy (argmax) and ignores `top_p` and `seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub temperature: f64,
    /// Keep the smallest set of tokens whose probability adds up to `top_p` (1.0 keeps all).
    pub top_p: f64,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self::greedy()
    }
}

impl SamplingParams {
    pub fn greedy() -> Self {
        Self { temperature: 0.0, top_p: 1.0, seed: 0 }
    }

    pub fn random(temperature: f64, top_p: f64, seed: u64) -> Self {
        Self { temperature, top_p, seed }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Rejects values that would make sampling meaningless (the message says the accepted range).
    pub fn validate(&self) -> Result<(), LlmError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(LlmError::InvalidOption(format!(
                "temperature must be a finite number ≥ 0 (0 is greedy), got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(LlmError::InvalidOption(format!("top-p must be in (0, 1], got {}", self.top_p)));
        }
        Ok(())
    }
}

/// A seeded sampler for one reply. Stateful: its random stream advances with every token.
pub struct Sampler {
    processor: LogitsProcessor,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").finish_non_exhaustive()
    }
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Result<Self, LlmError> {
        params.validate()?;
        let sampling = if params.is_greedy() {
            Sampling::ArgMax
        } else if params.top_p < 1.0 {
            Sampling::TopP { p: params.top_p, temperature: params.temperature }
        } else {
            Sampling::All { temperature: params.temperature }
        };
        Ok(Self { processor: LogitsProcessor::from_sampling(params.seed, sampling) })
    }

    /// The next token from `[vocab]` logits.
    pub fn sample(&mut self, logits: &Tensor) -> candle_core::Result<u32> {
        self.processor.sample(logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn greedy_picks_the_largest_and_seeds_repeat() {
        let logits = Tensor::new(&[0.1f32, 2.0, 1.9, -1.0], &Device::Cpu).unwrap();
        assert_eq!(Sampler::new(&SamplingParams::greedy()).unwrap().sample(&logits).unwrap(), 1);
        let draw = |seed| {
            let mut s = Sampler::new(&SamplingParams::random(1.5, 0.95, seed)).unwrap();
            (0..20).map(|_| s.sample(&logits).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(SamplingParams::random(-1.0, 1.0, 0).validate().is_err());
        assert!(SamplingParams::random(f64::NAN, 1.0, 0).validate().is_err());
        assert!(SamplingParams::random(0.7, 0.0, 0).validate().is_err());
        assert!(SamplingParams::random(0.7, 1.5, 0).validate().is_err());
    }
}
