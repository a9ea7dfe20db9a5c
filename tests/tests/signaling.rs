//! Signaling refusals, the session limit, DELETE, and teardown when a peer vanishes — against the real server
//! on 127.0.0.1.

use std::time::Duration;

use parley_media::{MediaEvent, PeerSession};
use parley_tests::caller::{Caller, loopback_config};
use parley_tests::{http, server};
use tokio::time::Instant;

async fn post(base: &str, content_type: Option<&str>, body: &[u8]) -> http::Response {
    http::request(base, "POST", "/v1/sessions", content_type, body).await.expect("request")
}

fn code(r: &http::Response) -> String {
    r.json().unwrap_or_else(|e| panic!("{e}"))["error"]["code"].as_str().unwrap_or_default().to_string()
}

async fn active_sessions(base: &str) -> u64 {
    let r = http::request(base, "GET", "/healthz", None, b"").await.expect("healthz");
    r.json().unwrap()["sessions"]["active"].as_u64().unwrap()
}

async fn wait_for_sessions(base: &str, n: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let active = active_sessions(base).await;
        if active == n {
            return;
        }
        assert!(Instant::now() < deadline, "{active} sessions active after {within:?}, expected {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_offers_get_4xx_with_a_json_reason() {
    let base = server::start(server::test_config()).await.unwrap();

    let r = post(&base, Some("text/plain"), b"v=0").await;
    assert_eq!((r.status, code(&r).as_str()), (415, "unsupported_media_type"), "{}", r.body);
    assert!(r.json().unwrap()["error"]["message"].as_str().unwrap().contains("application/sdp"));
    let r = post(&base, None, b"v=0").await;
    assert_eq!(r.status, 415);

    let r = post(&base, Some("application/sdp"), b"hello, I am not SDP").await;
    assert_eq!((r.status, code(&r).as_str()), (400, "bad_sdp"), "{}", r.body);

    let video_only = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
    let r = post(&base, Some("application/sdp"), video_only.as_bytes()).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "no_audio"), "{}", r.body);

    let pcmu =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let r = post(&base, Some("application/sdp"), pcmu.as_bytes()).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "no_opus"), "{}", r.body);

    let big = vec![b'a'; 65 * 1024];
    let r = post(&base, Some("application/sdp"), &big).await;
    assert_eq!((r.status, code(&r).as_str()), (413, "body_too_large"), "{}", r.body);

    let r = post(&base, Some("application/json"), b"{\"sdp\": 3}").await;
    assert_eq!((r.status, code(&r).as_str()), (400, "invalid_json"), "{}", r.body);
    let r = post(&base, Some("application/json"), b"{\"sdp\": \"v=0\", \"colour\": 1}").await;
    assert_eq!((r.status, code(&r).as_str()), (400, "invalid_json"), "{}", r.body);
    assert!(r.body.contains("colour"), "names the unknown field: {}", r.body);

    let r = http::request(&base, "DELETE", "/v1/sessions/nope", None, b"").await.unwrap();
    assert_eq!((r.status, code(&r).as_str()), (404, "unknown_session"), "{}", r.body);

    // Nothing was admitted by any of these.
    assert_eq!(active_sessions(&base).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_session_limit_the_server_answers_503_and_a_freed_place_is_reused() {
    let mut config = server::test_config();
    config.server.max_sessions = 1;
    let base = server::start(config).await.unwrap();
    let mut first = Caller::connect(&base, &loopback_config(), None).await.expect("first session");
    first.wait_for("connected", Duration::from_secs(10), |e| matches!(e, MediaEvent::Connected)).await.unwrap();

    let (extra, _events) = PeerSession::offer(&loopback_config()).await.unwrap();
    let r = post(&base, Some("application/sdp"), extra.local_sdp().as_bytes()).await;
    assert_eq!((r.status, code(&r).as_str()), (503, "server_full"), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"));
    extra.close().await;

    assert_eq!(first.hang_up().await.unwrap(), 204);
    wait_for_sessions(&base, 0, Duration::from_secs(5)).await;
    let mut again = Caller::connect(&base, &loopback_config(), None).await.expect("the freed place is reused");
    again.wait_for("connected", Duration::from_secs(10), |e| matches!(e, MediaEvent::Connected)).await.unwrap();
    assert_eq!(again.hang_up().await.unwrap(), 204);
}

#[test]
fn a_peer_that_vanishes_is_torn_down_after_the_ice_timeout() {
    let server_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut config = server::test_config();
    config.webrtc.ice_disconnected_ms = 1_000;
    config.webrtc.ice_failed_ms = 2_000;
    let base = server_runtime.block_on(server::start(config)).unwrap();

    // The caller lives on its own runtime; shutting that down stops its sockets without a word (no DTLS
    // close, no DELETE), as when a browser tab crashes or the network drops.
    let caller_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let caller_base = base.clone();
    let caller = caller_runtime.block_on(async move {
        let mut caller = Caller::connect(&caller_base, &loopback_config(), None).await.expect("connect");
        caller.wait_for("connected", Duration::from_secs(10), |e| matches!(e, MediaEvent::Connected)).await.unwrap();
        caller
    });
    server_runtime.block_on(async {
        assert_eq!(active_sessions(&base).await, 1);
    });
    let vanished = Instant::now();
    caller_runtime.shutdown_background();
    std::mem::forget(caller); // its runtime is gone; dropping it would touch nothing useful

    server_runtime.block_on(async {
        // Disconnected after 1 s without traffic, failed 2 s later: the place is freed by then (+ slack).
        wait_for_sessions(&base, 0, Duration::from_secs(10)).await;
    });
    let after = vanished.elapsed();
    eprintln!("vanished peer torn down after {after:?}");
    assert!(after >= Duration::from_secs(1), "torn down before any timeout: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_peer_never_connects_is_torn_down_after_the_connect_timeout() {
    let mut config = server::test_config();
    config.webrtc.connect_timeout_ms = 1_000;
    let base = server::start(config).await.unwrap();
    // An offer is answered, but the answer is never applied: no ICE checks ever reach the server.
    let (peer, _events) = PeerSession::offer(&loopback_config()).await.unwrap();
    let r = post(&base, Some("application/sdp"), peer.local_sdp().as_bytes()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/sdp"));
    assert!(r.header("location").is_some_and(|l| l.starts_with("/v1/sessions/")));
    assert!(r.body.starts_with("v=0") && r.body.contains("a=candidate") && r.body.contains("127.0.0.1"), "{}", r.body);
    assert!(
        !r.body.lines().any(|l| l.starts_with("a=candidate") && !l.contains("127.0.0.1")),
        "loopback only: {}",
        r.body
    );
    assert_eq!(active_sessions(&base).await, 1);
    wait_for_sessions(&base, 0, Duration::from_secs(5)).await;
    peer.close().await;
}
