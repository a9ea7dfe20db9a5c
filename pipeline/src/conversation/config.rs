//! Every turn-taking parameter, in milliseconds where it is a time.

/// See the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationConfig {
    /// VAD probability at which a chunk counts as speech.
    pub vad_start: f32,
    /// VAD probability below which a chunk counts as silence while speech is on.
    pub vad_stop: f32,
    /// Speech needed before it counts as started (ms).
    pub min_speech_ms: u32,
    /// Silence after speech before the end-of-turn model is asked (ms).
    pub pause_ms: u32,
    /// End-of-turn probability at or above which the turn ends at once.
    pub eot_threshold: f32,
    /// While the model says "not finished", ask again after this much more silence (ms).
    pub eot_recheck_ms: u32,
    /// Silence after which the turn ends whatever the model says (ms).
    pub max_wait_ms: u32,
    /// Silence that ends the turn when the end-of-turn model is unavailable (ms).
    pub silence_fallback_ms: u32,
    /// Streaming transcript: re-transcribe the growing utterance every this many ms of speech.
    pub partial_every_ms: u32,
    /// User speech over the reply longer than this is an interruption whatever it says (ms).
    pub barge_in_ms: u32,
    /// Words that never interrupt (lower case, punctuation ignored).
    pub backchannels: Vec<String>,
    /// Ignore speech that correlates with the audio just played (the assistant's own echo).
    pub echo_gate: bool,
    /// Correlation of energy envelopes at or above which speech counts as echo.
    pub echo_correlation: f32,
    /// The system prompt.
    pub instructions: String,
    /// Most tokens of a reply.
    pub max_reply_tokens: usize,
    /// History kept for the LLM, in characters (older turns are dropped first; ~4 characters per token).
    pub history_chars: usize,
    /// Primary-speaker focus: enrol the first utterance's voice; speech in a clearly different voice neither
    /// starts a turn nor interrupts.
    pub primary_speaker: bool,
    /// Cosine similarity of voice embeddings at or above which speech is the primary speaker's (on the
    /// fixtures: the same voice 0.77–0.80, two different voices 0.01–0.15).
    pub speaker_similarity: f32,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            vad_start: 0.5,
            vad_stop: 0.35,
            min_speech_ms: 100,
            pause_ms: 200,
            eot_threshold: 0.5,
            eot_recheck_ms: 300,
            max_wait_ms: 1_500,
            silence_fallback_ms: 700,
            partial_every_ms: 1_000,
            barge_in_ms: 700,
            backchannels: [
                "mm-hm", "mhm", "mm", "hmm", "uh-huh", "yeah", "yes", "yep", "okay", "ok", "right", "sure", "i see",
                "got it", "uh", "um", "ah", "oh",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            echo_gate: true,
            echo_correlation: 0.8,
            // No name in the prompt: "parley" (French-looking) tipped SmolLM2-135M into answering in French.
            instructions: "You are a friendly voice assistant. Answer in English, in one or two short sentences, \
                           without lists or markdown."
                .into(),
            max_reply_tokens: 64,
            history_chars: 4_000,
            primary_speaker: false,
            speaker_similarity: 0.5,
        }
    }
}

impl ConversationConfig {
    /// Whether `text` is only backchannel words (or nothing: a cough or noise).
    pub fn is_backchannel(&self, text: &str) -> bool {
        let cleaned: String = text
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() || c == '-' || c == '\'' { c } else { ' ' })
            .collect();
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        if words.is_empty() {
            return true;
        }
        // Greedy match of one- and two-word backchannels.
        let mut i = 0;
        while i < words.len() {
            if i + 1 < words.len() && self.backchannels.iter().any(|b| *b == format!("{} {}", words[i], words[i + 1])) {
                i += 2;
            } else if self.backchannels.iter().any(|b| b == words[i]) {
                i += 1;
            } else {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_and_noise_are_recognised() {
        let c = ConversationConfig::default();
        for text in ["Mm-hm.", "yeah", "Okay, okay.", "I see", "", " ... ", "uh-huh right"] {
            assert!(c.is_backchannel(text), "{text:?}");
        }
        for text in ["Wait, stop.", "yeah but what about Paris", "no"] {
            assert!(!c.is_backchannel(text), "{text:?}");
        }
    }
}
