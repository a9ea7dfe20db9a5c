//! Scenarios as data: what the harness plays into a session and what is known about the audio (where the
//! user's speech ends, where a pause inside a sentence is, what plays over the reply and when).
//!
//! A scenario file (`.json` or `.toml`) holds `scenarios = [...]`; each scenario is a list of user turns:
//!
//! ```json
//! {"scenarios": [{"name": "backchannel_1", "kind": "backchannel", "turns": [
//!   {"audio": "ask_spider.wav", "text": "How many legs does a spider have?", "speech_end_s": 1.92,
//!    "pauses": [], "during_reply": {"audio": "mm_hm.wav", "kind": "backchannel", "after_reply_audio_ms": 800}}
//! ]}]}
//! ```
//!
//! Audio paths are relative to the file. Errors name the file and the field (`scenarios[0].turns[1].speech_end_s`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The harness plays everything at this rate (the caller's output resamples to Opus's 48 kHz).
pub const RATE: u32 = 16_000;

/// A scenario file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenarios: Vec<ScenarioSpec>,
}

/// One scenario as written: a name, a label for grouping, and the user's turns in order (one session).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    /// A free label (`single_turn`, `pause`, `backchannel`, `noise`, `interruption`, `multi_turn`, `sid`).
    #[serde(default)]
    pub kind: String,
    pub turns: Vec<TurnSpec>,
}

/// One user turn as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSpec {
    /// The user's clip (WAV, any rate, mono or stereo).
    pub audio: String,
    /// What the user says (for the transcript's word error rate); absent for noise.
    #[serde(default)]
    pub text: Option<String>,
    /// Seconds into the clip where the user's speech ends (the end of the turn).
    pub speech_end_s: f64,
    /// Pauses inside the turn, `[start_s, end_s]`: the turn must not end in them.
    #[serde(default)]
    pub pauses: Vec<[f64; 2]>,
    /// Whether the assistant should answer this turn (false for noise alone).
    #[serde(default = "yes")]
    pub expect_reply: bool,
    /// A clip played over the assistant's reply.
    #[serde(default)]
    pub during_reply: Option<OverlapSpec>,
    /// Silence after the turn settles, before the next turn (ms).
    #[serde(default = "default_gap_ms")]
    pub gap_after_ms: u64,
}

/// A clip played over the reply, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapSpec {
    pub audio: String,
    pub kind: OverlapKind,
    /// When to start it: this long after the first reply audio arrives (ms).
    #[serde(default = "default_after_ms")]
    pub after_reply_audio_ms: u64,
    /// Seconds into the clip where the sound starts.
    #[serde(default)]
    pub onset_s: f64,
    /// Seconds into the clip where the user's wish to interrupt is clear (SID-Bench's `break_time`); for an
    /// interruption it defaults to the onset. Ignored for backchannels and noise.
    #[serde(default)]
    pub break_s: Option<f64>,
    #[serde(default)]
    pub text: Option<String>,
}

/// What plays over the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapKind {
    /// "mm-hm", "yeah": the reply must go on.
    Backchannel,
    /// A cough, a door: the reply must go on.
    Noise,
    /// The user takes the floor: the reply must stop.
    Interruption,
}

impl OverlapKind {
    pub fn should_stop(self) -> bool {
        self == OverlapKind::Interruption
    }
}

fn yes() -> bool {
    true
}
fn default_gap_ms() -> u64 {
    500
}
fn default_after_ms() -> u64 {
    800
}

/// A scenario ready to play: clips loaded at [`RATE`].
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub kind: String,
    /// The file it came from.
    pub source: PathBuf,
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub audio: Arc<Vec<f32>>,
    pub text: Option<String>,
    pub speech_end_s: f64,
    pub pauses: Vec<[f64; 2]>,
    pub expect_reply: bool,
    pub during_reply: Option<Overlap>,
    pub gap_after_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Overlap {
    pub audio: Arc<Vec<f32>>,
    pub kind: OverlapKind,
    pub after_reply_audio_ms: u64,
    pub onset_s: f64,
    /// Where the interruption is clear (interruptions only).
    pub break_s: Option<f64>,
    pub text: Option<String>,
}

impl Turn {
    pub fn duration_s(&self) -> f64 {
        self.audio.len() as f64 / RATE as f64
    }
}

impl Overlap {
    pub fn duration_s(&self) -> f64 {
        self.audio.len() as f64 / RATE as f64
    }
}

/// A scenario file or annotation that cannot be used: the file, the field, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct ScenarioError {
    pub file: PathBuf,
    /// The path of the field (`scenarios[0].turns[1].audio`), or `-` for the whole file.
    pub field: String,
    pub message: String,
}

impl ScenarioError {
    pub fn new(file: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { file: file.to_path_buf(), field: field.into(), message: message.into() }
    }
}

/// Deserializes `value` into `T`, naming the failing field.
pub fn from_value<T: serde::de::DeserializeOwned>(
    file: &Path,
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, ScenarioError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "-".to_string(),
            (true, _) => path,
            (false, ".") => prefix.to_string(),
            (false, _) => format!("{prefix}.{path}"),
        };
        ScenarioError::new(file, field, e.into_inner().to_string())
    })
}

/// Reads a `.json` or `.toml` scenario file and loads its clips.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::new(path, "-", format!("cannot read: {e}")))?;
    let value: serde_json::Value = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|e| ScenarioError::new(path, "-", format!("not TOML: {e}")))?,
        Some("json") => {
            serde_json::from_str(&text).map_err(|e| ScenarioError::new(path, "-", format!("not JSON: {e}")))?
        }
        _ => return Err(ScenarioError::new(path, "-", "a scenario file ends in .json or .toml")),
    };
    let file: ScenarioFile = from_value(path, "", value)?;
    if file.scenarios.is_empty() {
        return Err(ScenarioError::new(path, "scenarios", "no scenarios"));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut clips = ClipCache::default();
    file.scenarios
        .iter()
        .enumerate()
        .map(|(i, spec)| resolve(path, dir, &format!("scenarios[{i}]"), spec, &mut clips))
        .collect()
}

/// Clips already read (many scenarios share a lead-in question).
#[derive(Default)]
pub struct ClipCache(Vec<(PathBuf, Arc<Vec<f32>>)>);

impl ClipCache {
    fn get(&mut self, file: &Path, field: &str, path: PathBuf) -> Result<Arc<Vec<f32>>, ScenarioError> {
        if let Some((_, clip)) = self.0.iter().find(|(p, _)| *p == path) {
            return Ok(clip.clone());
        }
        let audio = parley_media::read_wav_at(&path, RATE)
            .map_err(|e| ScenarioError::new(file, field, format!("cannot read {}: {e}", path.display())))?;
        if audio.samples.is_empty() {
            return Err(ScenarioError::new(file, field, format!("{} holds no audio", path.display())));
        }
        let clip = Arc::new(audio.samples);
        self.0.push((path, clip.clone()));
        Ok(clip)
    }
}

/// Checks a written scenario and loads its clips (`file` for errors, `dir` for relative audio paths).
pub fn resolve(
    file: &Path,
    dir: &Path,
    at: &str,
    spec: &ScenarioSpec,
    clips: &mut ClipCache,
) -> Result<Scenario, ScenarioError> {
    if spec.name.trim().is_empty() {
        return Err(ScenarioError::new(file, join(at, "name"), "empty name"));
    }
    if spec.turns.is_empty() {
        return Err(ScenarioError::new(file, join(at, "turns"), "a scenario needs at least one turn"));
    }
    let mut turns = Vec::with_capacity(spec.turns.len());
    for (i, t) in spec.turns.iter().enumerate() {
        // A one-turn annotation (`at` empty) names its fields directly.
        let at = if at.is_empty() { String::new() } else { format!("{at}.turns[{i}]") };
        let at = at.as_str();
        let audio = clips.get(file, &join(at, "audio"), dir.join(&t.audio))?;
        let duration = audio.len() as f64 / RATE as f64;
        if !(0.0..=duration + 0.01).contains(&t.speech_end_s) {
            return Err(ScenarioError::new(
                file,
                join(at, "speech_end_s"),
                format!("{} s is outside the clip ({duration:.2} s long)", t.speech_end_s),
            ));
        }
        for (j, [start, end]) in t.pauses.iter().enumerate() {
            if !(0.0 <= *start && start < end && *end <= t.speech_end_s) {
                return Err(ScenarioError::new(
                    file,
                    join(at, &format!("pauses[{j}]")),
                    format!("[{start}, {end}] must be an interval inside the speech (0 to {} s)", t.speech_end_s),
                ));
            }
        }
        let during_reply = match &t.during_reply {
            None => None,
            Some(o) => {
                let at = join(at, "during_reply");
                let at = at.as_str();
                if !t.expect_reply {
                    return Err(ScenarioError::new(file, at, "a turn without a reply has nothing to play over"));
                }
                let audio = clips.get(file, &join(at, "audio"), dir.join(&o.audio))?;
                let duration = audio.len() as f64 / RATE as f64;
                if !(0.0..duration).contains(&o.onset_s) {
                    return Err(ScenarioError::new(
                        file,
                        join(at, "onset_s"),
                        format!("{} s is outside the clip ({duration:.2} s long)", o.onset_s),
                    ));
                }
                if let Some(b) = o.break_s
                    && !(0.0..=duration + 0.01).contains(&b)
                {
                    return Err(ScenarioError::new(
                        file,
                        join(at, "break_s"),
                        format!("{b} s is outside the clip ({duration:.2} s long)"),
                    ));
                }
                let break_s = o.kind.should_stop().then(|| o.break_s.unwrap_or(o.onset_s));
                Some(Overlap {
                    audio,
                    kind: o.kind,
                    after_reply_audio_ms: o.after_reply_audio_ms,
                    onset_s: o.onset_s,
                    break_s,
                    text: o.text.clone(),
                })
            }
        };
        turns.push(Turn {
            audio,
            text: t.text.clone(),
            speech_end_s: t.speech_end_s,
            pauses: t.pauses.clone(),
            expect_reply: t.expect_reply,
            during_reply,
            gap_after_ms: t.gap_after_ms,
        });
    }
    Ok(Scenario { name: spec.name.clone(), kind: spec.kind.clone(), source: file.to_path_buf(), turns })
}

/// `at.field`, or `field` at the top.
fn join(at: &str, field: &str) -> String {
    if at.is_empty() { field.to_string() } else { format!("{at}.{field}") }
}
