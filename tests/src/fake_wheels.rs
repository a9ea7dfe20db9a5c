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

/// One file of a fake model: its content (for size and checksum) and the wheel members it is made of.
pub struct FakeFile<'a> {
    pub path: &'a str,
    pub data: &'a [u8],
    /// `(package, version, member)`, concatenated in order.
    pub sources: &'a [(&'a str, &'a str, &'a str)],
    /// Replaces the true checksum (to test mismatches).
    pub sha256: Option<&'a str>,
}

/// Manifest TOML for one model with these files.
pub fn model_toml(id: &str, stage: &str, files: &[FakeFile]) -> String {
    let mut toml = format!("[[model]]\nid = \"{id}\"\nstage = \"{stage}\"\nname = \"fake {id}\"\nlicence = \"MIT\"\n");
    for f in files {
        let sha = f.sha256.map(str::to_string).unwrap_or_else(|| sha256_hex(f.data));
        toml += &format!(
            "[[model.file]]\npath = \"{}\"\nsha256 = \"{sha}\"\nsize = {}\nsources = [\n",
            f.path,
            f.data.len()
        );
        for (package, version, member) in f.sources {
            toml += &format!("  {{ package = \"{package}\", version = \"{version}\", member = \"{member}\" }},\n");
        }
        toml += "]\n";
    }
    toml
}

/// A manifest TOML for one model `id` with one file `path` made of one wheel member.
pub fn single_file_manifest(id: &str, path: &str, package: &str, version: &str, member: &str, data: &[u8]) -> String {
    model_toml(id, "vad", &[FakeFile { path, data, sources: &[(package, version, member)], sha256: None }])
}
