//! The model store as tests and benchmarks get it: [`test_store`] returns the complete default store
//! (`$PARLEY_MODELS`, else the user cache folder). When the store is missing or incomplete, a test on a
//! developer machine is skipped with a printed `SKIPPED:` line, but under CI (`CI=true` or `CI=1`) or with
//! `PARLEY_REQUIRE_MODELS` set it fails, naming the folder, what is missing and the command that fixes it — a
//! run that was meant to test the models never passes without them. [`require_tool`] applies the same rule to
//! the other programs a test needs (espeak-ng, chromium): skip on a developer machine, fail under CI.

use std::ffi::OsStr;
use std::path::Path;

use super::{Manifest, ModelStore, STORE_ENV};

/// Set (to anything but empty, `0` or `false`) to make tests fail rather than skip when the model store is
/// incomplete, outside CI too.
pub const REQUIRE_MODELS_ENV: &str = "PARLEY_REQUIRE_MODELS";

/// What a test does when something it needs is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// A developer machine: skip, with the reason printed.
    Skip,
    /// CI, or the models were required: fail.
    Fail,
}

impl WhenMissing {
    /// The rule for the model store, from the values of `CI` and `PARLEY_REQUIRE_MODELS`: fail when `CI` is
    /// `true` or `1`, or `PARLEY_REQUIRE_MODELS` is set to anything but empty, `0` or `false`; else skip.
    pub fn for_models(ci: Option<&OsStr>, require: Option<&OsStr>) -> Self {
        if is_ci(ci) || is_set(require) { Self::Fail } else { Self::Skip }
    }

    /// The rule for other tools (espeak-ng, chromium, node): fail under CI only.
    pub fn for_tools(ci: Option<&OsStr>) -> Self {
        if is_ci(ci) { Self::Fail } else { Self::Skip }
    }
}

/// `CI=true` (any case) or `CI=1`, as CI services set it.
fn is_ci(ci: Option<&OsStr>) -> bool {
    ci.and_then(OsStr::to_str).map(str::trim).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn is_set(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_string_lossy();
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

/// What a test gets for the store: go ahead, skip with a line to print, or fail with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    Skip(String),
    Fail(String),
}

/// The decision, without side effects: `missing` lists what the store at `root` lacks (empty: complete);
/// `test` names the test in the skip line.
pub fn verdict(root: &Path, missing: &[String], rule: WhenMissing, test: &str) -> Verdict {
    if missing.is_empty() {
        return Verdict::Ready;
    }
    let what = missing.join("; ");
    match rule {
        WhenMissing::Skip => Verdict::Skip(format!(
            "SKIPPED: {test}: model store incomplete at {}; run parley models fetch (missing: {what})",
            root.display()
        )),
        WhenMissing::Fail => Verdict::Fail(format!(
            "{test}: the model store at {} is incomplete (missing: {what}). This run requires the models (CI or \
             {REQUIRE_MODELS_ENV} is set), so the test fails instead of skipping: run `parley models fetch` (or \
             `bash scripts/setup.sh`), or point {STORE_ENV} at a complete store.",
            root.display()
        )),
    }
}

/// What the store lacks, model by model (`id (file, file)`); empty when every manifest file is there with its
/// size and every converted file exists.
pub fn missing_files(store: &ModelStore) -> Vec<String> {
    store
        .manifest()
        .models
        .iter()
        .filter_map(|m| {
            let dir = store.root().join(&m.id);
            let mut files: Vec<&str> = m
                .files
                .iter()
                .filter(|f| std::fs::metadata(dir.join(&f.path)).map(|md| md.len() != f.size).unwrap_or(true))
                .map(|f| f.path.as_str())
                .collect();
            files.extend(m.derived_outputs().into_iter().filter(|p| !dir.join(p).is_file()));
            (!files.is_empty()).then(|| format!("{} ({})", m.id, files.join(", ")))
        })
        .collect()
}

/// The complete default model store for a test or benchmark; `None` (with a `SKIPPED:` line on stderr, shown
/// even when libtest captures the test's output) when it is incomplete on a developer machine. Panics when it is incomplete under CI or with
/// `PARLEY_REQUIRE_MODELS` set.
pub fn test_store() -> Option<ModelStore> {
    let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
    let rule =
        WhenMissing::for_models(std::env::var_os("CI").as_deref(), std::env::var_os(REQUIRE_MODELS_ENV).as_deref());
    let mut missing = missing_files(&store);
    if !missing.is_empty() && missing.len() == store.manifest().models.len() {
        let ids: Vec<&str> = store.manifest().models.iter().map(|m| m.id.as_str()).collect();
        let place = if store.root().is_dir() { "" } else { ", the folder does not exist" };
        missing = vec![format!("every model{place}: {}", ids.join(", "))];
    }
    match verdict(store.root(), &missing, rule, &test_name()) {
        Verdict::Ready => Some(store),
        Verdict::Skip(line) => {
            skipped(&line);
            None
        }
        Verdict::Fail(message) => panic!("{message}"),
    }
}

/// For a program a test needs besides the models: `problem` says why it cannot run (None: it can). True when
/// it can; on a developer machine false, with a `SKIPPED:` line on stderr; under CI a panic with the reason.
pub fn require_tool(problem: Option<String>) -> bool {
    let Some(problem) = problem else { return true };
    match WhenMissing::for_tools(std::env::var_os("CI").as_deref()) {
        WhenMissing::Skip => {
            skipped(&format!("SKIPPED: {}: {problem}", test_name()));
            false
        }
        WhenMissing::Fail => panic!("{}: cannot run under CI: {problem}", test_name()),
    }
}

/// Prints a skip line straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a
/// skip must show in every `cargo test` run, not only with `--nocapture`.
fn skipped(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The running test (libtest names each test's thread after it), else the program (a benchmark).
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => std::env::args_os()
            .next()
            .and_then(|p| Path::new(&p).file_stem().map(|s| s.to_string_lossy().into_owned()))
            .map(|stem| strip_hash(&stem).to_string())
            .unwrap_or_else(|| "this test".into()),
    }
}

/// `vad-0123abcd` (cargo's name for a test or bench executable) → `vad`.
fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => name,
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &str) -> Option<&OsStr> {
        Some(OsStr::new(v))
    }

    #[test]
    fn ci_or_required_models_fail_and_a_developer_machine_skips() {
        use WhenMissing::{Fail, Skip};
        assert_eq!(WhenMissing::for_models(None, None), Skip);
        for ci in ["true", "TRUE", "True", "1", " true "] {
            assert_eq!(WhenMissing::for_models(os(ci), None), Fail, "CI={ci}");
            assert_eq!(WhenMissing::for_tools(os(ci)), Fail, "CI={ci}");
        }
        for ci in ["", "0", "false", "no"] {
            assert_eq!(WhenMissing::for_models(os(ci), None), Skip, "CI={ci}");
            assert_eq!(WhenMissing::for_tools(os(ci)), Skip, "CI={ci}");
        }
        for require in ["1", "yes", "true", "anything"] {
            assert_eq!(WhenMissing::for_models(None, os(require)), Fail, "{REQUIRE_MODELS_ENV}={require}");
            assert_eq!(WhenMissing::for_models(os("false"), os(require)), Fail);
        }
        for require in ["", "0", "false", " "] {
            assert_eq!(WhenMissing::for_models(None, os(require)), Skip, "{REQUIRE_MODELS_ENV}={require:?}");
        }
        // Requiring the models says nothing about chromium.
        assert_eq!(WhenMissing::for_tools(None), Skip);
    }

    #[test]
    fn a_complete_store_is_ready_whatever_the_rule() {
        for rule in [WhenMissing::Skip, WhenMissing::Fail] {
            assert_eq!(verdict(Path::new("/m"), &[], rule, "t"), Verdict::Ready);
        }
    }

    #[test]
    fn skip_and_fail_messages_name_the_folder_what_is_missing_and_the_fix() {
        let missing = vec!["silero-vad (silero_vad.onnx)".to_string(), "piper-joe (voice.onnx)".to_string()];
        let Verdict::Skip(line) = verdict(Path::new("/tmp/store"), &missing, WhenMissing::Skip, "my_test") else {
            panic!("a developer machine skips")
        };
        assert!(
            line.starts_with("SKIPPED: my_test: model store incomplete at /tmp/store; run parley models fetch"),
            "{line}"
        );
        assert!(line.contains("silero-vad (silero_vad.onnx); piper-joe (voice.onnx)"), "{line}");
        let Verdict::Fail(message) = verdict(Path::new("/tmp/store"), &missing, WhenMissing::Fail, "my_test") else {
            panic!("CI fails")
        };
        for part in ["my_test", "/tmp/store", "silero-vad (silero_vad.onnx)", "parley models fetch", "PARLEY_MODELS"] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
    }

    #[test]
    fn an_empty_folder_lacks_every_model_and_a_filled_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let default = ModelStore::new(dir.path(), Manifest::default_cpu());
        assert_eq!(missing_files(&default).len(), default.manifest().models.len());
        let manifest = Manifest::parse(
            r#"
            [[model]]
            id = "vad"
            stage = "vad"
            name = "VAD"
            licence = "MIT"
            [[model.file]]
            path = "vad.onnx"
            sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
            size = 3
            sources = [{ package = "fake", version = "1.0", member = "fake/vad.onnx" }]
            "#,
            "test",
        )
        .unwrap();
        let store = ModelStore::new(dir.path(), manifest);
        assert_eq!(missing_files(&store), ["vad (vad.onnx)"]);
        std::fs::create_dir_all(dir.path().join("vad")).unwrap();
        std::fs::write(dir.path().join("vad/vad.onnx"), b"ab").unwrap();
        assert_eq!(missing_files(&store), ["vad (vad.onnx)"], "a short file is missing");
        std::fs::write(dir.path().join("vad/vad.onnx"), b"abc").unwrap();
        assert!(missing_files(&store).is_empty());
        assert!(store.is_complete(), "the same judgement as ModelStore::is_complete");
    }

    #[test]
    fn cargo_executable_hashes_are_stripped() {
        assert_eq!(strip_hash("vad-0123456789abcdef"), "vad");
        assert_eq!(strip_hash("llm_engine-0123456789abcdef"), "llm_engine");
        assert_eq!(strip_hash("parley-bench"), "parley-bench");
    }
}
