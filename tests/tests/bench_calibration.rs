//! `parley-bench --calibrate` against the echo pipeline at D = 0 and D = 500 ms: the offset it prints is the
//! transport's cost at D = 0 and D more at D = 500, within 40 ms — what makes the harness's figures
//! believable. Also: a server that is not there is a clear error, not a hang.

use std::process::Command;

use parley_tests::server;

fn bench(url: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench"))
        .args(["--url", url, "--calibrate", "--rounds", "6"])
        .output()
        .expect("run parley-bench");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn p50(stdout: &str) -> f64 {
    let line = stdout.lines().find(|l| l.starts_with("calibration offset")).unwrap_or_else(|| panic!("{stdout}"));
    line.split("p50=").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_measures_the_configured_echo_delay() {
    let mut offsets = Vec::new();
    for delay in [0u32, 500] {
        let mut config = server::test_config();
        config.pipeline.echo_delay_ms = delay;
        let base = server::start(config).await.unwrap();
        let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || bench(&base)).await.unwrap();
        assert!(ok, "{stderr}");
        eprintln!("D = {delay} ms: {}", stdout.trim());
        offsets.push(p50(&stdout));
    }
    let transport = offsets[0];
    assert!(transport > 0.0 && transport < 60.0, "transport cost {transport} ms at D = 0");
    assert!((offsets[1] - 500.0 - transport).abs() <= 40.0, "D = 500 measured {} ms", offsets[1]);
}

#[test]
fn a_server_that_is_down_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let (ok, _, stderr) = bench(&format!("http://127.0.0.1:{port}"));
    assert!(!ok);
    assert!(stderr.contains("calibrating against"), "{stderr}");
    assert!(started.elapsed().as_secs() < 30, "it hung");
}
