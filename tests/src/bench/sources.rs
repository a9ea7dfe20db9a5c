//! Where scenarios come from: a scenario file, a folder holding one, an external set in SID-Bench's JSONL
//! layout, or a folder of WAV clips each with a JSON annotation beside it.
//!
//! SID-Bench (semantic interruption detection) clips are the user talking *over* the assistant: each line
//! `{"audio", "duration", "break_time", "text_with_break", "total_nonbreak"}` becomes a scenario in which a
//! lead-in question gets a long reply and the clip plays over it; `break_time` (seconds) is where the wish to
//! interrupt is clear, and equals `duration` when the clip should not interrupt (a backchannel, noise).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::scenario::{
    ClipCache, OverlapKind, OverlapSpec, Scenario, ScenarioError, ScenarioSpec, TurnSpec, from_value, load_file,
    resolve,
};

/// The generated default set, committed in the repository.
pub fn default_set() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/default/scenarios.json")
}

/// The question whose long reply SID-Bench clips play over (from the default set).
pub fn default_lead_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/default/ask_count.wav")
}

/// Loads the scenarios at `path`: a `.json`/`.toml` scenario file, a `.jsonl` SID-Bench file, or a folder
/// (with `scenarios.json`/`scenarios.toml`, else `*.jsonl`, else WAV + JSON pairs).
pub fn load(path: &Path, lead_in: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    if !path.exists() {
        return Err(ScenarioError::new(path, "-", "no such file or folder"));
    }
    if path.is_file() {
        return match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => load_sid_bench(path, lead_in),
            _ => load_file(path),
        };
    }
    for name in ["scenarios.json", "scenarios.toml"] {
        if path.join(name).is_file() {
            return load_file(&path.join(name));
        }
    }
    let entries = sorted_entries(path)?;
    let jsonl: Vec<&PathBuf> = entries.iter().filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect();
    if !jsonl.is_empty() {
        let mut all = Vec::new();
        for file in jsonl {
            all.extend(load_sid_bench(file, lead_in)?);
        }
        return Ok(all);
    }
    load_annotated_folder(path, &entries)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let read = std::fs::read_dir(dir).map_err(|e| ScenarioError::new(dir, "-", format!("cannot list: {e}")))?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    Ok(entries)
}

/// One SID-Bench line (extra fields are ignored).
#[derive(Debug, Deserialize)]
struct SidLine {
    audio: String,
    duration: f64,
    break_time: Option<f64>,
    #[serde(default)]
    text_with_break: Option<String>,
    #[serde(default)]
    total_nonbreak: Option<bool>,
}

/// Where the clip of a SID-Bench line is: beside the file, or in the split's language folder.
fn sid_clip(dir: &Path, audio: &str) -> PathBuf {
    let direct = dir.join(audio);
    if direct.exists() {
        return direct;
    }
    for sub in ["en", "zh", "silence_or_noise"] {
        let p = dir.join(sub).join(audio);
        if p.exists() {
            return p;
        }
    }
    direct
}

/// Loads a SID-Bench JSONL file: each line a scenario of one lead-in turn with the clip over its reply.
pub fn load_sid_bench(path: &Path, lead_in: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::new(path, "-", format!("cannot read: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut clips = ClipCache::default();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = format!("line {}", n + 1);
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| ScenarioError::new(path, at.clone(), format!("not JSON: {e}")))?;
        let sid: SidLine = from_value(path, &at, value)?;
        if sid.duration <= 0.0 {
            return Err(ScenarioError::new(path, format!("{at}.duration"), "must be positive"));
        }
        let break_time = sid.break_time.filter(|b| *b >= 0.0);
        if let Some(b) = break_time
            && b > sid.duration + 0.01
        {
            return Err(ScenarioError::new(
                path,
                format!("{at}.break_time"),
                format!("{b} s is after the clip's end ({} s)", sid.duration),
            ));
        }
        // SID-Bench marks a clip that should not interrupt with break_time = duration (and total_nonbreak).
        let interrupts = sid.total_nonbreak != Some(true) && break_time.is_some_and(|b| b < sid.duration - 0.01);
        let lead = lead_in.to_string_lossy().into_owned();
        let clip = sid_clip(dir, &sid.audio);
        if !clip.is_file() {
            return Err(ScenarioError::new(path, format!("{at}.audio"), format!("no clip at {}", clip.display())));
        }
        let overlap_audio = clip.to_string_lossy().into_owned();
        let text = sid
            .text_with_break
            .as_deref()
            .map(|t| t.replace("<break>", " ").split_whitespace().collect::<Vec<_>>().join(" "));
        let spec = ScenarioSpec {
            name: sid.audio.trim_end_matches(".wav").to_string(),
            kind: "sid".into(),
            turns: vec![TurnSpec {
                audio: lead,
                text: Some(LEAD_IN_TEXT.into()),
                speech_end_s: 0.0,
                pauses: Vec::new(),
                expect_reply: true,
                during_reply: Some(OverlapSpec {
                    audio: overlap_audio,
                    kind: if interrupts { OverlapKind::Interruption } else { OverlapKind::Backchannel },
                    after_reply_audio_ms: 800,
                    onset_s: 0.0,
                    break_s: if interrupts { break_time } else { None },
                    text,
                }),
                gap_after_ms: 500,
            }],
        };
        let mut scenario = resolve(path, dir, &at, &lead_in_spec(spec, lead_in)?, &mut clips)?;
        scenario.kind = if interrupts { "sid_interrupt".into() } else { "sid_no_interrupt".into() };
        out.push(scenario);
    }
    if out.is_empty() {
        return Err(ScenarioError::new(path, "-", "no lines"));
    }
    Ok(out)
}

/// What the lead-in clip says.
pub const LEAD_IN_TEXT: &str = "Please count slowly from one to twenty.";

/// Fills in where the lead-in question ends (measured on its audio).
fn lead_in_spec(mut spec: ScenarioSpec, lead_in: &Path) -> Result<ScenarioSpec, ScenarioError> {
    let audio = parley_media::read_wav_at(lead_in, super::scenario::RATE)
        .map_err(|e| ScenarioError::new(lead_in, "-", format!("the lead-in question cannot be read: {e}")))?;
    spec.turns[0].speech_end_s =
        crate::voice_turn::speech_end(&audio.samples, super::scenario::RATE) as f64 / super::scenario::RATE as f64;
    Ok(spec)
}

/// A folder of `name.wav` + `name.json`: each JSON is one turn (the fields of a scenario file's turn; `audio`
/// defaults to the WAV beside it) and becomes a one-turn scenario.
fn load_annotated_folder(dir: &Path, entries: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut clips = ClipCache::default();
    let mut out = Vec::new();
    for json in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text =
            std::fs::read_to_string(json).map_err(|e| ScenarioError::new(json, "-", format!("cannot read: {e}")))?;
        let mut value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ScenarioError::new(json, "-", format!("not JSON: {e}")))?;
        let kind = value.as_object_mut().and_then(|o| o.remove("kind")).and_then(|k| k.as_str().map(str::to_string));
        if let Some(o) = value.as_object_mut()
            && !o.contains_key("audio")
        {
            let wav = json.with_extension("wav");
            o.insert("audio".into(), wav.file_name().unwrap_or_default().to_string_lossy().into_owned().into());
        }
        let turn: TurnSpec = from_value(json, "", value)?;
        let name = json.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let spec = ScenarioSpec { name, kind: kind.unwrap_or_else(|| "single_turn".into()), turns: vec![turn] };
        out.push(resolve(json, dir, "", &spec, &mut clips)?);
    }
    if out.is_empty() {
        return Err(ScenarioError::new(
            dir,
            "-",
            "no scenarios here: expected scenarios.json/.toml, SID-Bench *.jsonl, or WAV + JSON annotation pairs",
        ));
    }
    Ok(out)
}
