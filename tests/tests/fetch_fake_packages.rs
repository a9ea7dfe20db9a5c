//! `ModelStore::fetch` end to end on a small fake manifest: real pip (`--no-index --find-links` into a
//! folder of wheels this test builds), real zip extraction, real checksums. Covers idempotence, chunked
//! files, corruption found by verify and repaired by fetch, bad checksums, leftovers, and missing pip.

use parley_models::store::{
    FetchOptions, FileAction, Manifest, ModelStore, PipClient, Problem, Progress, StoreError, sha256_file,
};
use parley_tests::fake_wheels::{FakeFile, model_toml, sha256_hex as sha, write_wheel};
use std::path::PathBuf;

struct Fixture {
    _dir: tempfile::TempDir,
    wheels: PathBuf,
    root: PathBuf,
}

const WEIGHTS: &[u8] = b"pretend these are model weights";
const PART1: &[u8] = b"first half of a chunked model|";
const PART2: &[u8] = b"second half of a chunked model";

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let wheels = dir.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    write_wheel(&wheels, "fake-vad", "1.0.0", &[("fake_vad/data/vad.onnx", WEIGHTS)]);
    write_wheel(&wheels, "fake-llm-part1", "0.1.0", &[("fake_llm_part1/part01.bin", PART1)]);
    write_wheel(&wheels, "fake-llm-part2", "0.1.0", &[("fake_llm_part2/part02.bin", PART2)]);
    let root = dir.path().join("store");
    Fixture { _dir: dir, wheels, root }
}

fn manifest(vad_sha: &str) -> Manifest {
    let whole = [PART1, PART2].concat();
    let vad = FakeFile {
        path: "vad.onnx",
        data: WEIGHTS,
        sources: &[("fake-vad", "1.0.0", "fake_vad/data/vad.onnx")],
        sha256: Some(vad_sha),
    };
    let llm = FakeFile {
        path: "model.gguf",
        data: &whole,
        sources: &[
            ("fake-llm-part1", "0.1.0", "fake_llm_part1/part01.bin"),
            ("fake-llm-part2", "0.1.0", "fake_llm_part2/part02.bin"),
        ],
        sha256: None,
    };
    let text = model_toml("vad", "vad", &[vad]) + &model_toml("llm", "llm-fast", &[llm]);
    Manifest::parse(&text, "test").unwrap()
}

fn store(f: &Fixture, manifest: Manifest) -> ModelStore {
    let args = vec!["--no-index".into(), "--find-links".into(), f.wheels.display().to_string()];
    ModelStore::new(&f.root, manifest).with_pip(PipClient::new("python3", args))
}

fn fetch(s: &ModelStore) -> Result<parley_models::store::FetchReport, StoreError> {
    s.fetch(&FetchOptions::default(), &Progress::silent())
}

#[test]
fn fetch_is_idempotent_and_assembles_chunks() {
    let f = fixture();
    let s = store(&f, manifest(&sha(WEIGHTS)));
    let first = fetch(&s).unwrap();
    assert!(first.files.iter().all(|(_, _, a)| *a == FileAction::Fetched), "{first:?}");
    assert_eq!(std::fs::read(f.root.join("vad/vad.onnx")).unwrap(), WEIGHTS);
    assert_eq!(std::fs::read(f.root.join("llm/model.gguf")).unwrap(), [PART1, PART2].concat());
    assert!(!f.root.join(".downloads").exists(), "wheels are cleaned up");

    let second = fetch(&s).unwrap();
    assert!(second.did_nothing(), "{second:?}");
    assert!(second.to_string().contains("nothing to do"), "{second}");
    assert!(s.verify(&Progress::silent()).unwrap().is_empty());
    assert!(s.is_complete());
}

#[test]
fn corruption_is_named_by_verify_and_repaired_by_fetch() {
    let f = fixture();
    let s = store(&f, manifest(&sha(WEIGHTS)));
    fetch(&s).unwrap();
    let path = f.root.join("llm/model.gguf");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] ^= 0xff; // same size, different content
    std::fs::write(&path, &bytes).unwrap();

    let problems = s.verify(&Progress::silent()).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(matches!(&problems[0], Problem::ChecksumMismatch { path: p, .. } if *p == path));
    assert!(problems[0].to_string().contains("model.gguf"));

    let report = fetch(&s).unwrap();
    assert!(report.files.contains(&("llm".into(), "model.gguf".into(), FileAction::Repaired)), "{report:?}");
    assert!(s.verify(&Progress::silent()).unwrap().is_empty());
    assert_eq!(sha256_file(&path).unwrap(), sha(&[PART1, PART2].concat()));

    std::fs::remove_file(f.root.join("vad/vad.onnx")).unwrap();
    let problems = s.verify(&Progress::silent()).unwrap();
    assert!(matches!(&problems[..], [Problem::Missing { .. }]), "{problems:?}");
    fetch(&s).unwrap();
    assert!(s.verify(&Progress::silent()).unwrap().is_empty());
}

#[test]
fn checksum_mismatch_names_the_file_and_leaves_nothing_behind() {
    let f = fixture();
    let s = store(&f, manifest(&"0".repeat(64)));
    let err = fetch(&s).unwrap_err();
    let StoreError::ChecksumMismatch { path, .. } = &err else { panic!("{err}") };
    assert_eq!(*path, f.root.join("vad/vad.onnx"));
    assert!(err.to_string().contains("vad.onnx"), "{err}");
    assert!(!path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(f.root.join("vad")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_partial_file_from_an_interrupted_run_is_redone() {
    let f = fixture();
    let s = store(&f, manifest(&sha(WEIGHTS)));
    std::fs::create_dir_all(f.root.join("vad")).unwrap();
    std::fs::write(f.root.join("vad/vad.onnx.partial"), b"half").unwrap();
    fetch(&s).unwrap();
    assert!(!f.root.join("vad/vad.onnx.partial").exists());
    assert_eq!(std::fs::read(f.root.join("vad/vad.onnx")).unwrap(), WEIGHTS);
}

#[test]
fn missing_python_or_pip_gives_an_error_that_says_what_to_do() {
    let f = fixture();
    let s = ModelStore::new(&f.root, manifest(&sha(WEIGHTS))).with_pip(PipClient::new("/nonexistent/python3", vec![]));
    let err = fetch(&s).unwrap_err();
    assert!(matches!(err, StoreError::PythonNotFound { .. }), "{err}");
    assert!(err.to_string().contains("apt-get install python3 python3-pip"), "{err}");

    // A Python without pip, as on a bare Debian: it answers `No module named pip`.
    let fake = f.root.parent().unwrap().join("python-without-pip");
    std::fs::write(&fake, "#!/bin/sh\necho \"$0: No module named pip\" >&2\nexit 1\n").unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let s =
        ModelStore::new(&f.root, manifest(&sha(WEIGHTS))).with_pip(PipClient::new(fake.display().to_string(), vec![]));
    let err = fetch(&s).unwrap_err();
    assert!(matches!(err, StoreError::PipMissing { .. }), "{err}");
    assert!(err.to_string().contains("python3-pip"), "{err}");
}

#[test]
fn unknown_package_is_reported_by_name() {
    let f = fixture();
    let file =
        FakeFile { path: "x.onnx", data: b"x", sources: &[("no-such-parley-package", "9.9.9", "x")], sha256: None };
    let s = store(&f, Manifest::parse(&model_toml("x", "vad", &[file]), "test").unwrap());
    let err = fetch(&s).unwrap_err();
    assert!(matches!(err, StoreError::PackageNotFound { .. }), "{err}");
    assert!(err.to_string().contains("no-such-parley-package==9.9.9"), "{err}");
}

#[test]
fn only_fetches_the_named_models_and_rejects_unknown_ids() {
    let f = fixture();
    let s = store(&f, manifest(&sha(WEIGHTS)));
    let report =
        s.fetch(&FetchOptions { only: vec!["vad".into()], ..Default::default() }, &Progress::silent()).unwrap();
    assert_eq!(report.files.len(), 1);
    assert!(!f.root.join("llm/model.gguf").exists());
    let err = s.fetch(&FetchOptions { only: vec!["nope".into()], ..Default::default() }, &Progress::silent());
    assert!(matches!(err, Err(StoreError::UnknownModel(_))));
}
