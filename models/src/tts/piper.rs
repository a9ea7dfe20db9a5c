//! The Piper voice: its `.onnx.json` configuration, phoneme → id encoding, and one ONNX Runtime session.
//!
//! Piper (VITS) maps a clause's phoneme ids straight to audio. The ids follow piper-phonemize exactly: BOS `^`,
//! then the pad `_` after every id (BOS included), then EOS `$`; each Unicode character of the IPA string is one
//! phoneme, and characters the voice does not know are skipped (with a debug log). Inputs are `input` `[1, P]`
//! i64, `input_lengths` `[1]` i64 and `scales` `[3]` f32 (noise, length, noise_w); the output is `[1, 1, 1, T]`
//! audio at the voice's sample rate. The noise scales make output random; set both to zero for deterministic
//! audio (tests).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use serde::Deserialize;

use super::TtsError;
use super::phonemize::Phonemizer;
use crate::onnx;
use crate::store::ModelStore;

/// Model id and files of the default voice in the store.
pub const DEFAULT_VOICE_MODEL: &str = "piper-joe";
pub const DEFAULT_VOICE_ONNX: &str = "en_US-joe-medium.onnx";
pub const DEFAULT_VOICE_JSON: &str = "en_US-joe-medium.onnx.json";

/// Piper's inference scales.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Scales {
    /// Variation of the audio (0 = deterministic).
    #[serde(default = "default_noise")]
    pub noise_scale: f32,
    /// Speaking slowness: 1.0 is the voice's own rate, larger is slower.
    #[serde(default = "default_length")]
    pub length_scale: f32,
    /// Variation of phoneme durations (0 = deterministic).
    #[serde(default = "default_noise_w")]
    pub noise_w: f32,
}

fn default_noise() -> f32 {
    0.667
}
fn default_length() -> f32 {
    1.0
}
fn default_noise_w() -> f32 {
    0.8
}

impl Default for Scales {
    fn default() -> Self {
        Self { noise_scale: default_noise(), length_scale: default_length(), noise_w: default_noise_w() }
    }
}

impl Scales {
    /// The same speaking rate with no randomness: identical ids give identical audio.
    pub fn deterministic(self) -> Self {
        Self { noise_scale: 0.0, noise_w: 0.0, ..self }
    }
}

/// The parts of a Piper `.onnx.json` that synthesis needs.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceConfig {
    pub audio: AudioConfig,
    #[serde(default)]
    pub espeak: EspeakConfig,
    #[serde(default)]
    pub inference: Scales,
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AudioConfig {
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EspeakConfig {
    pub voice: String,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self { voice: "en-us".into() }
    }
}

impl VoiceConfig {
    pub fn from_json(path: &Path, json: &[u8]) -> Result<Self, TtsError> {
        let bad = |message: String| TtsError::VoiceConfig { path: path.to_path_buf(), message };
        let config: Self = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        for symbol in ["^", "$", "_"] {
            if config.phoneme_id_map.get(symbol).is_none_or(|ids| ids.is_empty()) {
                return Err(bad(format!("phoneme_id_map has no {symbol:?}")));
            }
        }
        if config.audio.sample_rate == 0 {
            return Err(bad("audio.sample_rate is 0".into()));
        }
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, TtsError> {
        let json = std::fs::read(path)
            .map_err(|e| TtsError::VoiceConfig { path: path.to_path_buf(), message: e.to_string() })?;
        Self::from_json(path, &json)
    }
}

/// Piper's phoneme → id encoding.
#[derive(Debug, Clone)]
pub struct PhonemeIds {
    map: HashMap<char, Vec<i64>>,
    bos: Vec<i64>,
    eos: Vec<i64>,
    pad: Vec<i64>,
}

impl PhonemeIds {
    pub fn new(config: &VoiceConfig) -> Self {
        let map: HashMap<char, Vec<i64>> = config
            .phoneme_id_map
            .iter()
            .filter_map(|(k, v)| {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, v.clone())),
                    _ => None, // Piper's maps key single characters; anything else can never match
                }
            })
            .collect();
        let get = |s: &str| config.phoneme_id_map.get(s).cloned().unwrap_or_default();
        Self { bos: get("^"), eos: get("$"), pad: get("_"), map }
    }

    /// Ids of one phoneme, or None if the voice does not know it.
    pub fn phoneme(&self, c: char) -> Option<&[i64]> {
        self.map.get(&c).map(Vec::as_slice)
    }

    /// `^ _ p₁ _ p₂ _ … pₙ _ $`, skipping unknown characters.
    pub fn encode(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
        ids.extend(&self.bos);
        ids.extend(&self.pad);
        for c in phonemes.chars() {
            match self.map.get(&c) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.pad);
                }
                None => tracing::debug!(phoneme = %c, code = c as u32, "phoneme not in the voice's map; skipped"),
            }
        }
        ids.extend(&self.eos);
        ids
    }

    /// Whether `ids` carry no phoneme at all (just BOS, pad and EOS).
    pub fn is_empty_utterance(&self, ids: &[i64]) -> bool {
        ids.len() <= self.bos.len() + self.pad.len() + self.eos.len()
    }
}

/// A loaded Piper voice: one ONNX session (behind a mutex, so `&self` methods can synthesise and the voice can be
/// shared across threads), its configuration and the phonemiser for its espeak voice.
pub struct PiperVoice {
    session: Mutex<Session>,
    config: VoiceConfig,
    ids: PhonemeIds,
    phonemizer: Phonemizer,
    scales: Scales,
    path: PathBuf,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice").field("path", &self.path).field("scales", &self.scales).finish()
    }
}

impl PiperVoice {
    /// The default voice from the model store, with `threads` intra-op threads.
    pub fn load(store: &ModelStore, threads: usize) -> Result<Self, TtsError> {
        let onnx_path = store.file_path(DEFAULT_VOICE_MODEL, DEFAULT_VOICE_ONNX)?;
        let json_path = store.file_path(DEFAULT_VOICE_MODEL, DEFAULT_VOICE_JSON)?;
        let env = onnx::environment(store)?;
        Self::from_files(env, &onnx_path, &json_path, threads)
    }

    /// A voice from its `.onnx` and `.onnx.json`. Checks that `espeak-ng` runs, so a missing program is reported
    /// at load time rather than at the first reply.
    pub fn from_files(
        env: &ort::environment::Environment,
        onnx_path: &Path,
        json_path: &Path,
        threads: usize,
    ) -> Result<Self, TtsError> {
        let config = VoiceConfig::load(json_path)?;
        let phonemizer = Phonemizer::new(config.espeak.voice.clone());
        phonemizer.check()?;
        let session = onnx::open_session(env, onnx_path, threads)?;
        Ok(Self {
            session: Mutex::new(session),
            ids: PhonemeIds::new(&config),
            scales: config.inference,
            phonemizer,
            config,
            path: onnx_path.to_path_buf(),
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    pub fn phoneme_ids(&self) -> &PhonemeIds {
        &self.ids
    }

    pub fn phonemizer(&self) -> &Phonemizer {
        &self.phonemizer
    }

    /// The scales in use (from the voice config unless changed).
    pub fn scales(&self) -> Scales {
        self.scales
    }

    pub fn set_scales(&mut self, scales: Scales) {
        self.scales = scales;
    }

    /// Runs the model on phoneme ids; returns mono samples at [`sample_rate`](Self::sample_rate).
    pub fn synthesize_ids(&self, ids: &[i64]) -> Result<Vec<f32>, TtsError> {
        if self.ids.is_empty_utterance(ids) {
            return Ok(Vec::new());
        }
        let fail = |message: String| TtsError::Inference { ids: ids.len(), message };
        let n = ids.len();
        let s = self.scales;
        let inputs = ort::inputs![
            "input" => ort::value::Tensor::from_array(([1usize, n], ids.to_vec())).map_err(|e| fail(e.to_string()))?,
            "input_lengths" => ort::value::Tensor::from_array(([1usize], vec![n as i64])).map_err(|e| fail(e.to_string()))?,
            "scales" => ort::value::Tensor::from_array(([3usize], vec![s.noise_scale, s.length_scale, s.noise_w]))
                .map_err(|e| fail(e.to_string()))?,
        ];
        // A panic elsewhere while holding the lock leaves the session itself intact.
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let out = session.run(inputs).map_err(|e| fail(e.to_string()))?;
        let (_, audio) = out["output"].try_extract_tensor::<f32>().map_err(|e| fail(e.to_string()))?;
        Ok(audio.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VoiceConfig {
        let json = br#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},
            "inference":{"noise_scale":0.5,"length_scale":1.1,"noise_w":0.7},
            "phoneme_id_map":{"_":[0],"^":[1],"$":[2]," ":[3],"h":[20],"a":[14],"?":[13]}}"#;
        VoiceConfig::from_json(Path::new("test.json"), json).unwrap()
    }

    #[test]
    fn ids_follow_piper() {
        let ids = PhonemeIds::new(&config());
        // ^ _ h _ a _ (ˈ unknown: skipped) ? _ $
        assert_eq!(ids.encode("hˈa?"), [1, 0, 20, 0, 14, 0, 13, 0, 2]);
        assert_eq!(ids.encode(""), [1, 0, 2]);
        assert!(ids.is_empty_utterance(&ids.encode("ˈ")));
    }

    #[test]
    fn scales_come_from_the_config() {
        let c = config();
        assert_eq!(c.inference, Scales { noise_scale: 0.5, length_scale: 1.1, noise_w: 0.7 });
        assert_eq!(c.inference.deterministic().noise_w, 0.0);
    }

    #[test]
    fn bad_config_is_reported() {
        let err = VoiceConfig::from_json(Path::new("v.json"), b"{}").unwrap_err();
        assert!(err.to_string().contains("v.json"), "{err}");
        let err = VoiceConfig::from_json(
            Path::new("v.json"),
            br#"{"audio":{"sample_rate":22050},"phoneme_id_map":{"_":[0]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"^\""), "{err}");
    }
}
