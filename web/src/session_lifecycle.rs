//! What every session driver does the same way: it connects (or never does within the connect timeout), its
//! peer may disconnect for a while or close / fail for good, and the client may delete it. A driver passes
//! each media event through [`Lifecycle::on_media`] and races [`Lifecycle::ended`] against its other work.

use std::sync::Arc;
use std::time::Duration;

use parley_media::{CloseReason, MediaEvent};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Connection state of one session.
pub struct Lifecycle {
    created: Instant,
    connect_deadline: Instant,
    connected: bool,
    stop: Arc<Notify>,
}

/// What a media event means for the driver.
pub enum Step {
    /// Handled here (connected, disconnected for now).
    Handled,
    /// The driver's to handle.
    Media(MediaEvent),
    /// The session is over, for this reason.
    End(&'static str),
}

impl Lifecycle {
    /// `created`: when the offer arrived; `stop`: notified when the client deletes the session.
    pub fn new(created: Instant, connect_timeout: Duration, stop: Arc<Notify>) -> Self {
        Self { created, connect_deadline: created + connect_timeout, connected: false, stop }
    }

    pub fn on_media(&mut self, event: Option<MediaEvent>) -> Step {
        match event {
            None => Step::End("media ended"),
            Some(MediaEvent::Connected) => {
                self.connected = true;
                let ms = self.created.elapsed().as_secs_f64() * 1e3;
                metrics::histogram!("parley_session_connect_ms").record(ms);
                tracing::info!("connected {ms:.0} ms after the offer");
                Step::Handled
            }
            Some(MediaEvent::Disconnected) => {
                tracing::info!("peer disconnected; waiting for it to come back");
                Step::Handled
            }
            Some(MediaEvent::Closed(CloseReason::Failed)) => Step::End("peer gone (ICE/DTLS timeout)"),
            Some(MediaEvent::Closed(_)) => Step::End("closed"),
            Some(other) => Step::Media(other),
        }
    }

    /// Resolves when the session must end for a reason other than its media: the client deleted it, or the
    /// peer has not connected by the deadline.
    pub fn ended(&self) -> impl Future<Output = &'static str> + 'static {
        let (connected, deadline, stop) = (self.connected, self.connect_deadline, self.stop.clone());
        async move {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline), if !connected => "the peer never connected",
                _ = stop.notified() => "deleted by the client",
            }
        }
    }
}
