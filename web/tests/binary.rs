//! The `parley` binary as a user meets it: help, version, config errors, and `serve` answering HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn parley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    c.env_remove("PARLEY_CONFIG").env_remove("PARLEY_SERVER_PORT").env_remove("PARLEY_LOG");
    c
}

#[test]
fn help_and_version_explain_the_commands() {
    let out = parley().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "models", "config", "--config", "PARLEY_SERVER_PORT"] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
    let out = parley().args(["models", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["fetch", "verify", "list", "path"] {
        assert!(text.contains(word), "models --help lacks {word}:\n{text}");
    }
    let out = parley().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn invalid_config_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parley.toml");
    std::fs::write(&file, "[log]\nlevel = \"chatty\"\n").unwrap();
    let out = parley().args(["serve", "--config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("log.level") && err.contains("debug"), "{err}");

    let out = parley().args(["config"]).env("PARLEY_SERVER_PORT", "eighty").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PARLEY_SERVER_PORT") && err.contains("server.port"), "{err}");

    let out = parley().args(["config", "--set", "server.port=9123"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("port = 9123"));
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn serve_answers_the_page_and_health_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = parley()
        .args(["serve", "--port", "0", "--pipeline", "echo", "--set"])
        .arg(format!("models.dir={}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("parley listening on http://").unwrap_or_else(|| panic!("{line}")).to_string();
    assert!(addr.starts_with("127.0.0.1:"), "serves on loopback by default: {addr}");

    let (status, body) = http_get(&addr, "/");
    assert_eq!(status, 200);
    assert!(body.contains("<h1>parley</h1>"));

    let (status, body) = http_get(&addr, "/healthz");
    assert_eq!(status, 503, "an empty store is not healthy");
    let health: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(health["status"], "models_missing");
    assert!(health["hint"].as_str().unwrap().contains("parley models fetch"));
    assert_eq!(health["models"].as_array().unwrap().len(), 8);

    let (status, _) = http_get(&addr, "/metrics");
    assert_eq!(status, 200, "Prometheus metrics are served");

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");
}

#[test]
fn the_default_conversation_pipeline_without_models_says_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = parley()
        .args(["serve", "--port", "0", "--set"])
        .arg(format!("models.dir={}", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "no models, no conversation");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("parley models fetch") && err.contains("--pipeline echo"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"), "it does not pretend to serve");
}
