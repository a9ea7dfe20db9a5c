//! Fails when the dependencies between parley's crates differ from the intended graph:
//!
//! ```text
//! kernels ← models ← web
//! media ← pipeline ← web
//! media ← web, kernels ← web
//! tests → everything (nothing depends on tests)
//! ```
//!
//! Each crate's normal dependencies on other workspace crates must be exactly its set below, so both an arrow
//! the wrong way and an arrow nobody planned (or one left behind after its last use) fail; and every workspace
//! crate a crate declares must be named (`parley_<name>`) somewhere in its sources. Dev- and build-dependencies
//! must stay inside the allowed set (a crate may dev-depend on itself, to turn on its own features in tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKSPACE: [&str; 6] =
    ["parley-kernels", "parley-models", "parley-media", "parley-pipeline", "parley-web", "parley-tests"];

/// Crate → exactly the parley crates it depends on as normal dependencies (`None`: any except itself and
/// `parley-tests`, for the tests crate).
fn expected() -> BTreeMap<&'static str, Option<BTreeSet<&'static str>>> {
    BTreeMap::from([
        ("parley-kernels", Some(BTreeSet::new())),
        ("parley-media", Some(BTreeSet::new())),
        ("parley-models", Some(BTreeSet::from(["parley-kernels"]))),
        ("parley-pipeline", Some(BTreeSet::from(["parley-media"]))),
        ("parley-web", Some(BTreeSet::from(["parley-kernels", "parley-models", "parley-media", "parley-pipeline"]))),
        ("parley-tests", None),
    ])
}

/// One workspace crate as `cargo metadata` describes it.
#[derive(Debug, Clone)]
struct Crate {
    dir: PathBuf,
    /// Workspace crates it depends on as normal dependencies.
    normal: BTreeSet<String>,
    /// Workspace crates it depends on as dev- or build-dependencies.
    other: BTreeSet<String>,
}

fn workspace() -> BTreeMap<String, Crate> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let names: BTreeSet<String> = packages.iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    packages
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
            let mut krate = Crate {
                dir: manifest.parent().unwrap().to_path_buf(),
                normal: BTreeSet::new(),
                other: BTreeSet::new(),
            };
            for d in p["dependencies"].as_array().unwrap() {
                let name = d["name"].as_str().unwrap().to_string();
                if !names.contains(&name) {
                    continue;
                }
                if d["kind"].is_null() {
                    krate.normal.insert(name)
                } else {
                    krate.other.insert(name)
                };
            }
            (p["name"].as_str().unwrap().to_string(), krate)
        })
        .collect()
}

/// Arrows that differ from [`expected`].
fn violations(crates: &BTreeMap<String, Crate>) -> Vec<String> {
    let expected = expected();
    let mut bad = Vec::new();
    for (name, krate) in crates {
        let Some(rule) = expected.get(name.as_str()) else {
            bad.push(format!("{name} is a workspace crate with no rule; add it to the expected map"));
            continue;
        };
        let allowed: BTreeSet<&str> = match rule {
            Some(set) => set.clone(),
            None => WORKSPACE.iter().copied().filter(|c| c != name && *c != "parley-tests").collect(),
        };
        for dep in &krate.normal {
            if !allowed.contains(dep.as_str()) {
                bad.push(format!("{name} must not depend on {dep}"));
            }
        }
        if let Some(set) = rule {
            for dep in set {
                if !krate.normal.contains(*dep) {
                    bad.push(format!("{name} should depend on {dep} (update the expected map if that changed)"));
                }
            }
        }
        for dep in &krate.other {
            if dep != name && !allowed.contains(dep.as_str()) {
                bad.push(format!("{name} must not dev- or build-depend on {dep}"));
            }
        }
    }
    bad
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Declared normal dependencies on workspace crates that no source file of the crate names. Sources are
/// `src/` (and, for the tests crate, whose integration tests are its purpose, `tests/` too).
fn unused(crates: &BTreeMap<String, Crate>) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, krate) in crates {
        let mut files = Vec::new();
        rust_files(&krate.dir.join("src"), &mut files);
        if name == "parley-tests" {
            rust_files(&krate.dir.join("tests"), &mut files);
        }
        let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect();
        for dep in &krate.normal {
            if !text.contains(&dep.replace('-', "_")) {
                bad.push(format!("{name} declares {dep} but never names {} in its sources", dep.replace('-', "_")));
            }
        }
    }
    bad
}

#[test]
fn crate_dependencies_are_exactly_the_intended_graph() {
    let crates = workspace();
    for krate in WORKSPACE {
        assert!(crates.contains_key(krate), "workspace has no {krate}");
    }
    let bad = violations(&crates);
    assert!(bad.is_empty(), "dependencies differ from the intended graph:\n{}", bad.join("\n"));
}

#[test]
fn every_declared_workspace_dependency_is_used() {
    let bad = unused(&workspace());
    assert!(bad.is_empty(), "unused workspace dependencies:\n{}", bad.join("\n"));
}

#[test]
fn the_check_catches_wrong_missing_and_unplanned_arrows() {
    let mut crates = workspace();
    crates.get_mut("parley-media").unwrap().normal.insert("parley-models".into());
    crates.get_mut("parley-kernels").unwrap().normal.insert("parley-pipeline".into());
    // The right direction, but not planned: pipeline decides speech without the models.
    crates.get_mut("parley-pipeline").unwrap().normal.insert("parley-models".into());
    crates.get_mut("parley-models").unwrap().normal.remove("parley-kernels");
    crates.get_mut("parley-tests").unwrap().normal.insert("parley-tests".into());
    crates.get_mut("parley-media").unwrap().other.insert("parley-pipeline".into());
    let bad = violations(&crates);
    for expected in [
        "parley-media must not depend on parley-models",
        "parley-kernels must not depend on parley-pipeline",
        "parley-pipeline must not depend on parley-models",
        "parley-models should depend on parley-kernels (update the expected map if that changed)",
        "parley-tests must not depend on parley-tests",
        "parley-media must not dev- or build-depend on parley-pipeline",
    ] {
        assert!(bad.contains(&expected.to_string()), "missing {expected:?} in {bad:?}");
    }
}

#[test]
fn the_check_catches_a_declared_but_unused_dependency() {
    let mut crates = workspace();
    // parley-media's sources never name parley_kernels.
    crates.get_mut("parley-media").unwrap().normal.insert("parley-kernels".into());
    let bad = unused(&crates);
    assert_eq!(bad, ["parley-media declares parley-kernels but never names parley_kernels in its sources"]);
}
