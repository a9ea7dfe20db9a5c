//! Runs the real parley HTTP server in-process on 127.0.0.1 with a chosen configuration, for integration
//! tests: the same router and handlers `parley serve` runs.

use parley_pipeline::conversation::ReplyModel;
use parley_web::config::{Config, PipelineKind};
use tokio::net::TcpListener;

/// A server for tests: WebRTC on loopback only, the echo pipeline (no models; [`start_with_engine`] switches
/// to the conversation).
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.pipeline.kind = PipelineKind::Echo;
    // The conversation tests reply with the fast model (CPU time); the browser test runs the defaults.
    config.conversation.reply_model = ReplyModel::Fast;
    config.server.host = "127.0.0.1".into();
    config.server.port = 0;
    config.webrtc.ice_ips = vec!["127.0.0.1".into()];
    config
}

/// Starts the server on a free port; returns its base URL (`http://127.0.0.1:PORT`). It runs until the
/// runtime ends.
pub async fn start(config: Config) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = parley_web::server::router(config);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// Starts the server with the conversation pipeline on `engine`.
pub async fn start_with_engine(
    mut config: Config,
    engine: parley_models::engine::EngineHandle,
) -> anyhow::Result<String> {
    config.pipeline.kind = PipelineKind::Conversation;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = parley_web::server::router_with_engine(config, Some(engine));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}
