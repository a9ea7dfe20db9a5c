//! The HTTP server: signaling (`/v1/sessions`, see [`crate::signaling`]), the browser demo client (`/`, plain ES
//! modules from `web/static/`, compiled into the binary), `/healthz` and `/metrics` (Prometheus).

use axum::{
    Json, Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse},
    routing::{delete, get, post},
};
use parley_models::store::{Manifest, ModelStore};
use serde_json::json;
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::app_state::AppState;
use crate::config::Config;

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const PROTOCOL_JS: &str = include_str!("../static/protocol.js");
const STYLE_CSS: &str = include_str!("../static/style.css");

fn javascript(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], body)
}

pub fn router(config: Config) -> Router {
    router_with_engine(config, None)
}

/// The router for a server whose sessions use `engine` (required by the conversation pipeline).
pub fn router_with_engine(config: Config, engine: Option<parley_models::engine::EngineHandle>) -> Router {
    let store = ModelStore::new(config.models_dir(), Manifest::default_cpu());
    let sessions = crate::sessions::Sessions::new(config.server.max_sessions as usize);
    let mut peer_config = config.peer_config();
    if let Some(engine) = &engine {
        // Replies are pushed at the voice's rate.
        peer_config.output_rate = engine.tts().sample_rate();
    }
    let peer_config = Arc::new(peer_config);
    let state = AppState { config: Arc::new(config), store: Arc::new(store), sessions, peer_config, engine };
    crate::metrics::prometheus();
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/app.js", get(|| async { javascript(APP_JS) }))
        .route("/protocol.js", get(|| async { javascript(PROTOCOL_JS) }))
        .route("/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE_CSS) }))
        .route("/v1/sessions", post(crate::signaling::create))
        .route("/v1/sessions/{id}", delete(crate::signaling::delete))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::render))
        .with_state(state)
}

/// 200 when every model is in the store, 503 otherwise, with what is present and where.
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let models = state.store.list();
    let complete = models.iter().all(|m| m.present);
    let body = json!({
        "status": if complete { "ok" } else { "models_missing" },
        "version": env!("CARGO_PKG_VERSION"),
        // Every model runs on the CPU (there is no CUDA backend yet), with these SIMD features.
        "device": format!("cpu ({})", parley_kernels::CpuFeatures::detect().describe()),
        "threads": state.config.threads(),
        "pipeline": state.config.pipeline.kind,
        "sessions": {"active": state.sessions.active(), "max": state.sessions.max()},
        "model_store": state.store.root().display().to_string(),
        "models": models.iter().map(|m| json!({"id": m.id, "stage": m.stage, "present": m.present})).collect::<Vec<_>>(),
        "hint": if complete { serde_json::Value::Null } else { json!("run `parley models fetch`") },
    });
    (if complete { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Binds, prints the address, and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.server.host, config.server.port);
    let listener = TcpListener::bind(&addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr}: {e}. Is another server using the port? Pick another with --port or \
             PARLEY_SERVER_PORT"
        )
    })?;
    let local = listener.local_addr()?;
    let store = ModelStore::new(config.models_dir(), Manifest::default_cpu());
    if !store.is_complete() {
        tracing::warn!(store = %store.root().display(), "some models are missing; run `parley models fetch`");
    }
    tracing::info!(
        threads = config.threads(),
        pipeline = %config.pipeline.kind,
        ice_ips = ?config.webrtc.ice_ips,
        "parley {} serving",
        env!("CARGO_PKG_VERSION")
    );
    let engine = if config.pipeline.kind == crate::config::PipelineKind::Conversation {
        let options = config.engine_options();
        let started = std::time::Instant::now();
        tracing::info!("loading the models (the conversation pipeline)...");
        let engine = tokio::task::spawn_blocking(move || parley_models::engine::EngineHandle::start(&store, options))
            .await?
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start the engine for the conversation pipeline: {e}. Run `parley models fetch` first \
                     (or `parley serve --pipeline echo` to test the transport without models)"
                )
            })?;
        tracing::info!("engine ready in {:.1} s", started.elapsed().as_secs_f64());
        Some(engine)
    } else {
        None
    };
    // The one line scripts and tests wait for.
    println!("parley listening on http://{local}");
    axum::serve(listener, router_with_engine(config, engine.clone())).with_graceful_shutdown(shutdown_signal()).await?;
    if let Some(engine) = engine {
        engine.shutdown();
    }
    tracing::info!("parley stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
