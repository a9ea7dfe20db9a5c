//! Primary-speaker focus: the first utterance's voice is enrolled, and later speech whose voice embedding is
//! clearly different (cosine similarity below the threshold) neither starts a turn nor interrupts a reply.
//! The embeddings come from the engine (unit vectors); this only compares them.

/// What a voice was judged to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No voice was enrolled: this one now is.
    Enrolled,
    /// The enrolled voice.
    Primary,
    /// A clearly different voice.
    Other,
}

/// The enrolled voice and the threshold.
#[derive(Debug, Clone)]
pub struct SpeakerFocus {
    threshold: f32,
    enrolled: Option<Vec<f32>>,
}

impl SpeakerFocus {
    pub fn new(threshold: f32) -> Self {
        Self { threshold, enrolled: None }
    }

    pub fn is_enrolled(&self) -> bool {
        self.enrolled.is_some()
    }

    /// Judges a voice (enrolling it when none is).
    pub fn judge(&mut self, embedding: &[f32]) -> (Verdict, f32) {
        let Some(enrolled) = &self.enrolled else {
            self.enrolled = Some(embedding.to_vec());
            return (Verdict::Enrolled, 1.0);
        };
        let similarity: f32 = enrolled.iter().zip(embedding).map(|(a, b)| a * b).sum();
        let verdict = if similarity >= self.threshold { Verdict::Primary } else { Verdict::Other };
        (verdict, similarity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_voice_is_enrolled_and_others_are_told_apart() {
        let mut focus = SpeakerFocus::new(0.7);
        assert!(!focus.is_enrolled());
        assert_eq!(focus.judge(&[1.0, 0.0]).0, Verdict::Enrolled);
        assert_eq!(focus.judge(&[0.8, 0.6]).0, Verdict::Primary);
        let (verdict, similarity) = focus.judge(&[0.6, 0.8]);
        assert_eq!(verdict, Verdict::Other);
        assert!((similarity - 0.6).abs() < 1e-6);
    }
}
