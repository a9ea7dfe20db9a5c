//! Small wheels built on the fly, so that model-store tests run real `pip download` (with `--no-index
//! --find-links DIR`) against packages whose content and checksums the test controls.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `<name>-<version>-py3-none-any.whl` into `dir` holding `members` plus minimal dist-info, and
/// returns its path.
pub fn write_wheel(dir: &Path, name: &str, version: &str, members: &[(&str, &[u8])]) -> PathBuf {
    let module = name.replace('-', "_");
    let path = dir.join(format!("{module}-{version}-py3-none-any.whl"));
    let file = std::fs::File::create(&path).expect("create wheel");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (member, data) in members {
        zip.start_file(*member, opts).expect("zip entry");
        zip.write_all(data).expect("zip write");
    }
    let info = format!("{module}-{version}.dist-info");
    let meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let wheel = "Wheel-Version: 1.0\nGenerator: parley-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    for (entry, text) in [("METADATA", meta.as_str()), ("WHEEL", wheel), ("RECORD", "")] {
        zip.start_file(format!("{info}/{entry}"), opts).expect("zip entry");
        zip.write_all(text.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip finish");
    path
}

/// A manifest TOML for one model `id` with one file `path` made of one wheel member.
pub fn single_file_manifest(id: &str, path: &str, package: &str, version: &str, member: &str, data: &[u8]) -> String {
    format!(
        r#"
[[model]]
id = "{id}"
stage = "vad"
name = "fake {id}"
licence = "MIT"

[[model.file]]
path = "{path}"
sha256 = "{sha}"
size = {size}
sources = [{{ package = "{package}", version = "{version}", member = "{member}" }}]
"#,
        sha = sha256_hex(data),
        size = data.len()
    )
}
