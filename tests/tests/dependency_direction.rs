//! Fails when a dependency between parley's crates points the wrong way. The allowed arrows are
//! `kernels ← models ← pipeline ← web`, `media ← pipeline`, `media ← web`; `tests` may use everything and
//! nothing may use `tests`; `media` never depends on `models` or `kernels`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Crate → the parley crates it may depend on (directly).
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let all = ["parley-kernels", "parley-models", "parley-media", "parley-pipeline", "parley-web"];
    BTreeMap::from([
        ("parley-kernels", BTreeSet::new()),
        ("parley-media", BTreeSet::new()),
        ("parley-models", BTreeSet::from(["parley-kernels"])),
        ("parley-pipeline", BTreeSet::from(["parley-models", "parley-media", "parley-kernels"])),
        ("parley-web", BTreeSet::from(["parley-pipeline", "parley-models", "parley-media", "parley-kernels"])),
        ("parley-tests", BTreeSet::from(all)),
    ])
}

/// Direct dependencies (all kinds) of each workspace crate on other workspace crates, from `cargo metadata`.
fn workspace_edges() -> BTreeMap<String, BTreeSet<String>> {
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
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| names.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

fn violations(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed = allowed();
    let mut bad = Vec::new();
    for (krate, deps) in edges {
        let Some(ok) = allowed.get(krate.as_str()) else {
            bad.push(format!("{krate} is a workspace crate with no rule; add it to the allowed map"));
            continue;
        };
        for dep in deps {
            if !ok.contains(dep.as_str()) {
                bad.push(format!("{krate} must not depend on {dep}"));
            }
        }
    }
    bad
}

#[test]
fn crate_dependencies_point_the_right_way() {
    let edges = workspace_edges();
    for krate in allowed().keys() {
        assert!(edges.contains_key(*krate), "workspace has no {krate}");
    }
    let bad = violations(&edges);
    assert!(bad.is_empty(), "wrong-way dependencies:\n{}", bad.join("\n"));
}

#[test]
fn the_check_catches_a_wrong_arrow() {
    let mut edges = workspace_edges();
    edges.get_mut("parley-media").unwrap().insert("parley-models".into());
    edges.get_mut("parley-kernels").unwrap().insert("parley-pipeline".into());
    let bad = violations(&edges);
    assert!(bad.contains(&"parley-media must not depend on parley-models".to_string()), "{bad:?}");
    assert!(bad.contains(&"parley-kernels must not depend on parley-pipeline".to_string()), "{bad:?}");
}
