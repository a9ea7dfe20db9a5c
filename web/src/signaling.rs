//! WHIP-style signaling: `POST /v1/sessions` with an SDP offer (`application/sdp`, as WHIP clients send it, or
//! `application/json` `{"sdp": ..., "session": {"instructions", "voice", "language"}}`) answers `201 Created`
//! with the SDP answer (every ICE candidate in it: no trickle) and `Location: /v1/sessions/{id}`;
//! `DELETE /v1/sessions/{id}` ends the session. Every refusal is a JSON `{"error": {"code", "message"}}` saying
//! what to fix: 400 bad SDP / no audio / no Opus / bad JSON, 413 body too large, 415 wrong content type,
//! 404 unknown session, 503 when every session place is taken.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_media::{MediaError, PeerSession};
use parley_pipeline::protocol::SessionOptions;
use serde::Deserialize;
use serde_json::json;

use crate::app_state::AppState;
use crate::sessions::Live;

/// The largest offer accepted.
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

/// The JSON variant of an offer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOffer {
    sdp: String,
    #[serde(default)]
    session: SessionOptions,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

/// `POST /v1/sessions`.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = tokio::time::Instant::now();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let json = if content_type.starts_with("application/sdp") {
        false
    } else if content_type.starts_with("application/json") {
        true
    } else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type `{content_type}` is not accepted; send the SDP offer as `application/sdp` (WHIP) or \
                 `application/json` {{\"sdp\": \"...\", \"session\": {{\"instructions\", \"voice\", \"language\"}}}}"
            ),
        );
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_OFFER_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the offer is larger than {MAX_OFFER_BYTES} bytes"),
        );
    };
    let Ok(text) = String::from_utf8(bytes.to_vec()) else {
        return error(StatusCode::BAD_REQUEST, "bad_encoding", "the body is not UTF-8 text");
    };
    let (sdp, options) = if json {
        match serde_json::from_str::<JsonOffer>(&text) {
            Ok(o) => (o.sdp, o.session),
            Err(e) => {
                return error(StatusCode::BAD_REQUEST, "invalid_json", format!("the JSON offer is not valid: {e}"));
            }
        }
    } else {
        (text, SessionOptions::default())
    };

    let Some(mut place) = state.sessions.admit() else {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_full",
            format!("all {} session places are in use; try again later", state.sessions.max()),
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    // The conversation pipeline also needs a place in the engine.
    let permit = match &state.engine {
        Some(engine) => match engine.open_session() {
            Ok(p) => Some(p),
            Err(e) => {
                let mut r =
                    error(StatusCode::SERVICE_UNAVAILABLE, "server_full", format!("the engine has no room: {e}"));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return r;
            }
        },
        None => None,
    };
    let (peer, events) = match PeerSession::answer(&state.peer_config, &sdp).await {
        Ok(p) => p,
        Err(e @ MediaError::BadSdp(_)) => return error(StatusCode::BAD_REQUEST, "bad_sdp", e.to_string()),
        Err(e @ MediaError::NoAudio) => return error(StatusCode::BAD_REQUEST, "no_audio", e.to_string()),
        Err(e @ MediaError::NoOpus) => return error(StatusCode::BAD_REQUEST, "no_opus", e.to_string()),
        Err(e) => {
            tracing::error!("session setup failed: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "webrtc_setup_failed",
                "the server could not set up WebRTC",
            );
        }
    };
    let id = new_session_id();
    let peer = Arc::new(peer);
    let stop = Arc::new(tokio::sync::Notify::new());
    place.register(&id, Live { peer: peer.clone(), stop: stop.clone() });
    let answer = peer.local_sdp().to_string();
    tracing::info!(session = %id, json, "session created in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let connect_timeout = Duration::from_millis(state.config.webrtc.connect_timeout_ms as u64);
    let span = tracing::info_span!("session", id = %id, pipeline = %state.config.pipeline.kind);
    match (permit, &state.engine) {
        (Some(permit), Some(engine)) => {
            let config = state.config.conversation.clone();
            let (engine, mailbox) = crate::engine_link::LinkedEngine::open(engine, &permit, config.reply_model);
            let driver = crate::conversation_session::ConversationSession {
                id: id.clone(),
                output: peer.audio_output().clone(),
                peer,
                stop,
                options,
                config,
                engine,
                mailbox,
                permit: Some(permit),
                connect_timeout,
                created: started,
            };
            tokio::spawn(tracing::Instrument::instrument(driver.run(events, place), span));
        }
        _ => {
            let driver = crate::echo_session::EchoSession {
                id: id.clone(),
                peer,
                stop,
                options,
                delay: Duration::from_millis(state.config.pipeline.echo_delay_ms as u64),
                connect_timeout,
                created: started,
            };
            tokio::spawn(tracing::Instrument::instrument(driver.run(events, place), span));
        }
    }

    let location = format!("/v1/sessions/{id}");
    let mut response = if json {
        (StatusCode::CREATED, axum::Json(json!({"id": id, "type": "answer", "sdp": answer, "location": location})))
            .into_response()
    } else {
        let mut r = (StatusCode::CREATED, answer).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
        r
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// `DELETE /v1/sessions/{id}`.
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.sessions.get(&id) {
        Some(live) => {
            live.stop.notify_one();
            live.peer.close().await;
            tracing::info!(session = %id, "session deleted by the client");
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "unknown_session", format!("no live session `{id}`")),
    }
}

fn new_session_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(std::time::SystemTime::now());
    let b = RandomState::new().hash_one(a);
    format!("{a:016x}{:08x}", b as u32)
}
