//! Every turn-taking parameter, in milliseconds where it is a time.
//!
//! This struct is also the `[conversation]` section of parley's configuration file: every field is a key
//! (`conversation.pause_ms`, ...), and a missing key keeps its default.

use serde::{Deserialize, Serialize};

/// The LLM that writes replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyModel {
    /// SmolLM2-135M: about half the voice-to-voice latency on 2 cores, but its answers drift into nonsense
    /// (and French) within a few turns.
    Fast,
    /// Qwen2.5-1.5B: answers sensibly. The default.
    #[default]
    Slow,
}

/// See the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// The model that writes replies: `slow` (Qwen2.5-1.5B, answers sensibly) or `fast` (SmolLM2-135M, about
    /// half the voice-to-voice latency on 2 cores, but its answers drift).
    pub reply_model: ReplyModel,
    /// Sampling temperature of replies; 0 is greedy (always the most likely token).
    pub reply_temperature: f32,
    /// Nucleus sampling: replies draw only from the most likely tokens whose probabilities add up to this
    /// (1 = all of them). Ignored when greedy.
    pub reply_top_p: f32,
    /// When the reply's first token is wanted, counted from the request (ms).
    pub reply_deadline_ms: u32,
    /// When the final transcript of an utterance is wanted, counted from the request (ms).
    pub final_transcript_deadline_ms: u32,
    /// When a partial (streaming) transcript is wanted, counted from the request (ms).
    pub partial_transcript_deadline_ms: u32,
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
            reply_model: ReplyModel::Slow,
            reply_temperature: 0.0,
            reply_top_p: 1.0,
            reply_deadline_ms: 500,
            final_transcript_deadline_ms: 1_500,
            partial_transcript_deadline_ms: 3_000,
        }
    }
}

impl ConversationConfig {
    /// Checks every field's range. The message names the key as `conversation.<field>` and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        fn between(key: &str, value: f32, lo: f32, hi: f32) -> Result<(), String> {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(format!("`conversation.{key}` = {value} is not allowed; use a number from {lo} to {hi}"))
            }
        }
        fn at_least(key: &str, value: u64, min: u64) -> Result<(), String> {
            if value >= min {
                Ok(())
            } else {
                Err(format!("`conversation.{key}` = {value} is not allowed; use {min} or more"))
            }
        }
        between("vad_start", self.vad_start, 0.0, 1.0)?;
        between("vad_stop", self.vad_stop, 0.0, 1.0)?;
        if self.vad_stop > self.vad_start {
            return Err(format!(
                "`conversation.vad_stop` ({}) must not be above `conversation.vad_start` ({})",
                self.vad_stop, self.vad_start
            ));
        }
        between("eot_threshold", self.eot_threshold, 0.0, 1.0)?;
        at_least("eot_recheck_ms", self.eot_recheck_ms.into(), 1)?;
        if self.max_wait_ms <= self.pause_ms {
            return Err(format!(
                "`conversation.max_wait_ms` ({}) must be longer than `conversation.pause_ms` ({})",
                self.max_wait_ms, self.pause_ms
            ));
        }
        at_least("silence_fallback_ms", self.silence_fallback_ms.into(), 1)?;
        at_least("partial_every_ms", self.partial_every_ms.into(), 1)?;
        between("echo_correlation", self.echo_correlation, -1.0, 1.0)?;
        at_least("max_reply_tokens", self.max_reply_tokens as u64, 1)?;
        at_least("history_chars", self.history_chars as u64, 1)?;
        between("speaker_similarity", self.speaker_similarity, -1.0, 1.0)?;
        if !(self.reply_temperature >= 0.0 && self.reply_temperature.is_finite()) {
            return Err(format!(
                "`conversation.reply_temperature` = {} is not allowed; use 0 (greedy) or a larger number",
                self.reply_temperature
            ));
        }
        if !(self.reply_top_p > 0.0 && self.reply_top_p <= 1.0) {
            return Err(format!(
                "`conversation.reply_top_p` = {} is not allowed; use a number above 0, up to 1",
                self.reply_top_p
            ));
        }
        at_least("reply_deadline_ms", self.reply_deadline_ms.into(), 1)?;
        at_least("final_transcript_deadline_ms", self.final_transcript_deadline_ms.into(), 1)?;
        at_least("partial_transcript_deadline_ms", self.partial_transcript_deadline_ms.into(), 1)?;
        Ok(())
    }

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

    #[test]
    fn defaults_are_valid() {
        let c = ConversationConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.reply_model, ReplyModel::Slow);
        assert_eq!((c.reply_temperature, c.reply_top_p), (0.0, 1.0));
        assert_eq!(
            (c.reply_deadline_ms, c.final_transcript_deadline_ms, c.partial_transcript_deadline_ms),
            (500, 1_500, 3_000)
        );
    }

    #[test]
    fn validate_names_the_key_and_the_allowed_values() {
        let check = |change: fn(&mut ConversationConfig), key: &str, allowed: &str| {
            let mut c = ConversationConfig::default();
            change(&mut c);
            let e = c.validate().unwrap_err();
            assert!(e.contains(&format!("`conversation.{key}`")) && e.contains(allowed), "{key}: {e}");
        };
        check(|c| c.vad_start = 1.5, "vad_start", "from 0 to 1");
        check(|c| c.vad_stop = -0.1, "vad_stop", "from 0 to 1");
        check(|c| c.vad_stop = 0.6, "vad_stop", "`conversation.vad_start`");
        check(|c| c.eot_threshold = 2.0, "eot_threshold", "from 0 to 1");
        check(|c| c.eot_recheck_ms = 0, "eot_recheck_ms", "1 or more");
        check(|c| c.max_wait_ms = 200, "max_wait_ms", "`conversation.pause_ms`");
        check(|c| c.silence_fallback_ms = 0, "silence_fallback_ms", "1 or more");
        check(|c| c.partial_every_ms = 0, "partial_every_ms", "1 or more");
        check(|c| c.echo_correlation = 1.1, "echo_correlation", "from -1 to 1");
        check(|c| c.max_reply_tokens = 0, "max_reply_tokens", "1 or more");
        check(|c| c.history_chars = 0, "history_chars", "1 or more");
        check(|c| c.speaker_similarity = -2.0, "speaker_similarity", "from -1 to 1");
        check(|c| c.reply_temperature = -0.5, "reply_temperature", "0 (greedy)");
        check(|c| c.reply_temperature = f32::NAN, "reply_temperature", "0 (greedy)");
        check(|c| c.reply_top_p = 0.0, "reply_top_p", "above 0, up to 1");
        check(|c| c.reply_top_p = 1.5, "reply_top_p", "above 0, up to 1");
        check(|c| c.reply_deadline_ms = 0, "reply_deadline_ms", "1 or more");
        check(|c| c.final_transcript_deadline_ms = 0, "final_transcript_deadline_ms", "1 or more");
        check(|c| c.partial_transcript_deadline_ms = 0, "partial_transcript_deadline_ms", "1 or more");
    }

    #[test]
    fn toml_round_trip() {
        let c = ConversationConfig {
            vad_stop: 0.3,
            reply_model: ReplyModel::Fast,
            reply_temperature: 0.7,
            backchannels: vec!["mm".into(), "i see".into()],
            ..Default::default()
        };
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("reply_model = \"fast\""), "{text}");
        assert_eq!(toml::from_str::<ConversationConfig>(&text).unwrap(), c);
        // Missing keys keep their defaults; unknown keys and values are refused by name.
        let partial: ConversationConfig = toml::from_str("pause_ms = 250\nreply_model = \"slow\"\n").unwrap();
        assert_eq!(partial, ConversationConfig { pause_ms: 250, ..Default::default() });
        let e = toml::from_str::<ConversationConfig>("paws_ms = 1\n").unwrap_err().to_string();
        assert!(e.contains("paws_ms"), "{e}");
        let e = toml::from_str::<ConversationConfig>("reply_model = \"medium\"\n").unwrap_err().to_string();
        assert!(e.contains("medium") && e.contains("fast") && e.contains("slow"), "{e}");
    }
}
