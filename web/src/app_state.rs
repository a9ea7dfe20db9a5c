//! What the HTTP handlers share: built once by [`crate::server`], read by [`crate::signaling`] and the
//! server's own handlers.

use std::sync::Arc;

use parley_models::store::ModelStore;

use crate::config::Config;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<ModelStore>,
    pub(crate) sessions: Arc<crate::sessions::Sessions>,
    pub(crate) peer_config: Arc<parley_media::PeerConfig>,
    /// The shared engine, when the pipeline needs models (`conversation`).
    pub(crate) engine: Option<parley_models::engine::EngineHandle>,
}
