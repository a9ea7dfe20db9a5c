//! Two real webrtc-rs peers on 127.0.0.1: offer/answer, Opus audio both ways through the jitter buffer and
//! decoder, and the `events` data channel.

use std::time::Duration;

use parley_media::{MediaEvent, PeerConfig, PeerSession};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

fn loopback() -> PeerConfig {
    PeerConfig { ice_ips: vec!["127.0.0.1".parse().unwrap()], ..Default::default() }
}

async fn wait_for(events: &mut Receiver<MediaEvent>, what: &str, mut pred: impl FnMut(&MediaEvent) -> bool) {
    timeout(Duration::from_secs(10), async {
        while let Some(e) = events.recv().await {
            if pred(&e) {
                return;
            }
        }
        panic!("events ended before {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within 10 s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_exchange_audio_and_messages_on_loopback() {
    let (client, mut client_events) = PeerSession::offer(&loopback()).await.expect("offer");
    let offer = client.local_sdp().to_string();
    assert!(offer.contains("m=audio") && offer.contains("127.0.0.1"), "{offer}");
    assert!(
        !offer.lines().any(|l| l.starts_with("a=candidate") && !l.contains("127.0.0.1")),
        "only loopback candidates"
    );
    let (server, mut server_events) = PeerSession::answer(&loopback(), &offer).await.expect("answer");
    client.accept_answer(server.local_sdp()).await.expect("accept");

    wait_for(&mut server_events, "server connected", |e| matches!(e, MediaEvent::Connected)).await;
    wait_for(&mut client_events, "client channel open", |e| matches!(e, MediaEvent::ChannelOpen)).await;

    // A 440 Hz tone for 1 s from the client; the server decodes it to 16 kHz frames.
    let tone: Vec<f32> =
        (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() * 0.3).collect();
    client.audio_output().push(tone).await.unwrap();
    client.audio_output().finish().await.unwrap();
    client.send_text(r#"{"type":"response.cancel"}"#).await.expect("send text");

    let mut loud_frames = 0;
    let mut got_message = false;
    let mut last_start = None;
    timeout(Duration::from_secs(10), async {
        while let Some(e) = server_events.recv().await {
            match e {
                MediaEvent::Audio { frame, .. } => {
                    if let Some(prev) = last_start {
                        assert_eq!(frame.start_sample, prev + 320, "media time is contiguous");
                    }
                    last_start = Some(frame.start_sample);
                    let rms = (frame.samples.iter().map(|v| v * v).sum::<f32>() / 320.0).sqrt();
                    if rms > 0.15 {
                        loud_frames += 1;
                    }
                }
                MediaEvent::Message(m) => {
                    assert_eq!(m, r#"{"type":"response.cancel"}"#);
                    got_message = true;
                }
                _ => {}
            }
            if loud_frames >= 45 && got_message {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("server got {loud_frames} loud frames, message {got_message}"));
    // All of the pushed speech is counted as sent once its last frame is out.
    timeout(Duration::from_secs(2), async {
        while client.audio_output().sent_source_samples() < 16_000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the whole second was sent");
    assert_eq!(client.audio_output().sent_source_samples(), 16_000);
    let stats = server.input_stats();
    assert_eq!(stats.jitter.lost, 0, "{stats:?}");

    client.close().await;
    wait_for(&mut server_events, "server sees the close", |e| {
        matches!(e, MediaEvent::Closed(_) | MediaEvent::Disconnected)
    })
    .await;
    server.close().await;
}
