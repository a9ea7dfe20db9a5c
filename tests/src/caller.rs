//! A WebRTC caller that talks to any parley server through its public signaling API only — what the latency
//! harness and the integration tests use: POST an offer, connect, stream audio, receive audio and events,
//! hang up (or vanish without a word, to test the server's teardown).

use std::time::Duration;

use anyhow::{Context, bail};
use parley_media::{MediaEvent, PeerConfig, PeerSession};
use tokio::sync::mpsc::Receiver;

use crate::http;

/// One call.
pub struct Caller {
    pub peer: PeerSession,
    pub events: Receiver<MediaEvent>,
    /// `/v1/sessions/{id}`.
    pub location: String,
    pub id: String,
    /// When the offer was POSTed (for time-to-connected).
    pub posted_at: tokio::time::Instant,
    base: String,
    token: Option<String>,
}

/// The caller's WebRTC settings: loopback candidates only, no extra jitter delay.
pub fn loopback_config() -> PeerConfig {
    PeerConfig { ice_ips: vec!["127.0.0.1".parse().expect("ip")], jitter_depth: 1, ..Default::default() }
}

impl Caller {
    /// Offers (JSON variant with `session` options when given, else plain `application/sdp`) and applies the
    /// answer. Errors carry the server's refusal.
    pub async fn connect(base: &str, config: &PeerConfig, session: Option<serde_json::Value>) -> anyhow::Result<Self> {
        Self::connect_with(base, config, session, None).await
    }

    /// [`Caller::connect`] with a bearer token for servers that require one.
    pub async fn connect_with(
        base: &str,
        config: &PeerConfig,
        session: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> anyhow::Result<Self> {
        let (peer, events) = PeerSession::offer(config).await.context("building the offer")?;
        let posted_at = tokio::time::Instant::now();
        let response = match &session {
            Some(options) => {
                let body = serde_json::json!({"sdp": peer.local_sdp(), "session": options}).to_string();
                http::request_with(base, "POST", "/v1/sessions", Some("application/json"), body.as_bytes(), token)
                    .await?
            }
            None => {
                let sdp = peer.local_sdp();
                http::request_with(base, "POST", "/v1/sessions", Some("application/sdp"), sdp.as_bytes(), token).await?
            }
        };
        if response.status != 201 {
            peer.close().await;
            bail!("the server refused the session: HTTP {} {}", response.status, response.body);
        }
        let location = response.header("location").context("201 without a Location header")?.to_string();
        let answer = if session.is_some() {
            response.json()?["sdp"].as_str().context("JSON answer without `sdp`")?.to_string()
        } else {
            response.body.clone()
        };
        peer.accept_answer(&answer).await.context("applying the answer")?;
        let id = location.rsplit('/').next().unwrap_or_default().to_string();
        Ok(Self { peer, events, location, id, posted_at, base: base.to_string(), token: token.map(str::to_string) })
    }

    /// Waits for the next event matching `pred`, discarding others; fails after `within`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&MediaEvent) -> bool,
    ) -> anyhow::Result<MediaEvent> {
        tokio::time::timeout(within, async {
            while let Some(e) = self.events.recv().await {
                if pred(&e) {
                    return Ok(e);
                }
            }
            bail!("the session ended before {what}")
        })
        .await
        .with_context(|| format!("no {what} within {within:?}"))?
    }

    /// Waits until the call is up and the server's session is running — `connected` and the data channel's
    /// `session.created`, in whichever order they arrive — discarding other events; returns `session.created`.
    /// What tests wait for before they speak, instead of a fixed pause.
    pub async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<serde_json::Value> {
        tokio::time::timeout(within, async {
            let (mut connected, mut created) = (false, None);
            while let Some(e) = self.events.recv().await {
                match e {
                    MediaEvent::Connected => connected = true,
                    MediaEvent::Message(m) => {
                        let v: serde_json::Value = serde_json::from_str(&m).context("an event that is not JSON")?;
                        if v["type"] == "session.created" {
                            created = Some(v);
                        }
                    }
                    MediaEvent::Closed(reason) => bail!("the session closed before it was ready: {reason:?}"),
                    _ => {}
                }
                if connected && let Some(v) = created.take() {
                    return Ok(v);
                }
            }
            bail!("the session ended before it was ready")
        })
        .await
        .with_context(|| format!("not connected with `session.created` within {within:?}"))?
    }

    /// Hangs up politely: DELETE, then close.
    pub async fn hang_up(self) -> anyhow::Result<u16> {
        let r = http::request_with(&self.base, "DELETE", &self.location, None, b"", self.token.as_deref()).await?;
        self.peer.close().await;
        Ok(r.status)
    }
}
