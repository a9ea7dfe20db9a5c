//! Downloads wheels by package name with the ordinary client: `python3 -m pip download --no-deps`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Source, StoreError};

/// How to run pip: which Python, and extra arguments (an index URL, `--no-index --find-links DIR`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipClient {
    pub python: String,
    pub extra_args: Vec<String>,
}

impl Default for PipClient {
    fn default() -> Self {
        Self { python: "python3".to_string(), extra_args: Vec::new() }
    }
}

impl PipClient {
    pub fn new(python: impl Into<String>, extra_args: Vec<String>) -> Self {
        Self { python: python.into(), extra_args }
    }

    /// Downloads the wheel of `source`'s package into `dir` (or finds it there already) and returns its path.
    pub fn download(&self, source: &Source, dir: &Path, show_output: bool) -> Result<PathBuf, StoreError> {
        if let Some(existing) = find_wheel(dir, &source.package, &source.version)? {
            return Ok(existing);
        }
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--dest"])
            .arg(dir)
            .arg(format!("{}=={}", source.package, source.version));
        if let Some(platform) = &source.platform {
            cmd.args(["--only-binary=:all:", "--platform", platform]);
        }
        if let Some(py) = &source.python_version {
            cmd.args(["--python-version", py]);
        }
        cmd.args(&self.extra_args);
        let interactive = show_output && std::io::stdout().is_terminal();
        cmd.stdin(Stdio::null())
            .stdout(if interactive { Stdio::inherit() } else { Stdio::null() })
            .stderr(Stdio::piped());
        let output =
            cmd.output().map_err(|source| StoreError::PythonNotFound { python: self.python.clone(), source })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(classify_failure(&self.python, source, &output.status.to_string(), &stderr));
        }
        find_wheel(dir, &source.package, &source.version)?.ok_or_else(|| StoreError::WheelNotFound {
            package: source.package.clone(),
            version: source.version.clone(),
            dir: dir.to_path_buf(),
        })
    }
}

/// Turns pip's stderr into an error that says what to do.
fn classify_failure(python: &str, source: &Source, status: &str, stderr: &str) -> StoreError {
    let detail = last_lines(stderr, 6);
    let (package, version) = (source.package.clone(), source.version.clone());
    if stderr.contains("No module named pip") {
        StoreError::PipMissing { python: python.to_string() }
    } else if [
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "Connection refused",
        "ConnectTimeout",
        "Read timed out",
    ]
    .iter()
    .any(|s| stderr.contains(s))
    {
        StoreError::RegistryUnreachable { package, version, detail }
    } else if stderr.contains("No matching distribution found") || stderr.contains("Could not find a version") {
        StoreError::PackageNotFound { package, version, detail }
    } else {
        StoreError::PipFailed { package, version, status: status.to_string(), detail }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The wheel of `package==version` in `dir`, if present. Wheel names normalise `-` and `.` to `_`.
pub(crate) fn find_wheel(dir: &Path, package: &str, version: &str) -> Result<Option<PathBuf>, StoreError> {
    let prefix = format!("{}-{}-", normalise(package), version);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io { path: dir.to_path_buf(), source: e }),
    };
    for entry in entries {
        let entry = entry.map_err(StoreError::io(dir))?;
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

fn normalise(package: &str) -> String {
    package.to_lowercase().replace(['-', '.'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Source {
        Source {
            package: "silero-vad".into(),
            version: "6.2.3".into(),
            member: "m".into(),
            platform: None,
            python_version: None,
        }
    }

    #[test]
    fn classifies_pip_errors() {
        let e = classify_failure("python3", &src(), "1", "/usr/bin/python3: No module named pip\n");
        assert!(matches!(e, StoreError::PipMissing { .. }));
        let e = classify_failure(
            "python3",
            &src(),
            "1",
            "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] Temporary failure in name resolution\nERROR: No matching distribution found for silero-vad==6.2.3",
        );
        assert!(matches!(e, StoreError::RegistryUnreachable { .. }), "{e}");
        let e = classify_failure("python3", &src(), "1", "ERROR: No matching distribution found for silero-vad==6.2.3");
        assert!(matches!(e, StoreError::PackageNotFound { .. }));
        assert!(e.to_string().contains("silero-vad==6.2.3"));
    }

    #[test]
    fn finds_wheels_by_normalised_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("silero_vad-6.2.3-py3-none-any.whl"), b"").unwrap();
        assert!(find_wheel(dir.path(), "silero-vad", "6.2.3").unwrap().is_some());
        assert!(find_wheel(dir.path(), "silero-vad", "6.2.4").unwrap().is_none());
        assert!(find_wheel(&dir.path().join("absent"), "x", "1").unwrap().is_none());
    }

    #[test]
    fn missing_python_is_a_clear_error() {
        let pip = PipClient::new("/nonexistent/python3", vec![]);
        let dir = tempfile::tempdir().unwrap();
        let err = pip.download(&src(), dir.path(), false).unwrap_err();
        assert!(matches!(err, StoreError::PythonNotFound { .. }));
        assert!(err.to_string().contains("python3-pip"), "{err}");
    }
}
