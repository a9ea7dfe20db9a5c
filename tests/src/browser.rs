//! Running the demo page in Debian's headless chromium through the playwright-core scripts in
//! `tests/browser/` (never a downloaded browser). Set-up (`scripts/setup.sh` in the test profile) installs
//! chromium, node and playwright-core; [`missing_tools`] says what is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of the browser scripts.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Why the browser tests cannot run here, if they cannot.
pub fn missing_tools() -> Option<String> {
    let chromium = std::env::var("PARLEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is not installed (apt install chromium, or run scripts/setup.sh)"));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "playwright-core is not installed (npm ci --prefix tests/browser, or run scripts/setup.sh)".into(),
        );
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

/// Whether a browser test should run: false (with a `SKIPPED:` line) when tools are missing on a developer
/// machine; under CI (`CI=true` or `1`) missing tools are a failure ([`parley_models::store::require_tool`]).
pub fn can_run() -> bool {
    parley_models::store::require_tool(missing_tools())
}

/// Runs `node tests/browser/SCRIPT ARGS...` on the blocking pool and parses its last stdout line (the
/// scripts' JSON result).
pub async fn run_script(script: &str, args: Vec<String>) -> serde_json::Value {
    let script = browser_dir().join(script);
    let output = tokio::task::spawn_blocking(move || Command::new("node").arg(script).args(args).output())
        .await
        .expect("join")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().last().unwrap_or_else(|| panic!("no result from the browser script: {stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{stderr}"))
}
