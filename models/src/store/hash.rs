//! sha256 of files, streamed.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

use super::{Progress, StoreError};

const BUF: usize = 1 << 20;

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, StoreError> {
    sha256_file_with_progress(path, &Progress::silent())
}

pub(crate) fn sha256_file_with_progress(path: &Path, progress: &Progress) -> Result<String, StoreError> {
    let mut file = std::fs::File::open(path).map_err(StoreError::io(path))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bar = progress.bar(&format!("verify {name}"), len);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = file.read(&mut buf).map_err(StoreError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(to_hex(&hasher.finalize()))
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
