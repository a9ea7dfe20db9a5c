//! The data-channel protocol, version `parley.v1`: JSON text messages on the WebRTC data channel labelled
//! `events`, one event per message, each with a `type`. Names follow the OpenAI Realtime API where the meaning
//! matches, so clients written for it read naturally; parley's own additions are prefixed `parley.`. The
//! reference for client authors is `docs/protocol.md`; the demo client and the latency harness mirror these
//! types.
//!
//! A client message that is too large, not JSON, of an unknown type or with wrong fields is answered with an
//! [`ServerEvent::Error`] naming what was wrong ([`ServerEvent::for_protocol_error`]); the session goes on.

use serde::{Deserialize, Serialize};

/// The protocol version, sent in `session.created`.
pub const PROTOCOL_VERSION: &str = "parley.v1";

/// The largest client message accepted, in bytes.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// Options a client may set at the start (in the signaling request) or later (`session.update`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionOptions {
    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The voice to speak with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// The user's language (BCP 47, e.g. `en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// What the session runs with, as told to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub protocol: String,
    #[serde(flatten)]
    pub options: SessionOptions,
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    /// Spoken to the end.
    Completed,
    /// The user started speaking over it (barge-in).
    Interrupted,
    /// The client sent `response.cancel`.
    Cancelled,
    /// It failed; an `error` event says why.
    Failed,
}

/// One turn's latency marks, in ms from the user's end of speech (parley's addition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnLatency {
    pub end_of_turn_ms: f64,
    pub transcript_ms: f64,
    pub first_token_ms: f64,
    pub first_audio_ms: f64,
    /// The first reply audio packet went to the network.
    #[serde(default)]
    pub audio_sent_ms: f64,
}

/// Why the user's turn was taken as over.
/// Why speech was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoredReason {
    /// Primary-speaker focus: the voice is clearly not the enrolled one.
    OtherSpeaker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnEndReason {
    /// The end-of-turn model said the user had finished.
    Semantic,
    /// Silence long enough without the model (unavailable or still unsure) — the silence rule.
    Silence,
    /// The model kept saying "not finished" until the longest wait.
    MaxWait,
}

/// The body of an `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `invalid_request_error` (the client's message was wrong) or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A stable machine-readable code.
    pub code: String,
    /// What was wrong and what to do, for people.
    pub message: String,
    /// The `type` of the client event it answers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
}

/// Server → client events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    #[serde(rename = "session.created")]
    SessionCreated { session: SessionInfo },
    #[serde(rename = "session.updated")]
    SessionUpdated { session: SessionInfo },
    #[serde(rename = "input_audio_buffer.speech_started")]
    SpeechStarted { item_id: String, audio_start_ms: u64 },
    #[serde(rename = "input_audio_buffer.speech_stopped")]
    SpeechStopped { item_id: String, audio_end_ms: u64 },
    #[serde(rename = "conversation.item.input_audio_transcription.delta")]
    TranscriptDelta { item_id: String, delta: String },
    #[serde(rename = "conversation.item.input_audio_transcription.completed")]
    TranscriptCompleted { item_id: String, transcript: String },
    #[serde(rename = "response.created")]
    ResponseCreated { response_id: String },
    /// Text of the reply as it is spoken.
    #[serde(rename = "response.audio_transcript.delta")]
    ResponseTextDelta { response_id: String, delta: String },
    /// The end of a reply; `played_text` is what the user heard (the assistant's context keeps only that).
    #[serde(rename = "response.done")]
    ResponseDone { response_id: String, status: ResponseStatus, played_text: String },
    /// The user's turn ended; the reply starts.
    #[serde(rename = "parley.turn.ended")]
    TurnEnded { item_id: String, reason: TurnEndReason },
    /// The first audio of a reply went out.
    #[serde(rename = "output_audio_buffer.started")]
    AudioStarted { response_id: String },
    /// Speech that was heard and set aside (primary-speaker focus: another voice); no turn, no interruption.
    #[serde(rename = "parley.speech.ignored")]
    SpeechIgnored {
        item_id: String,
        reason: IgnoredReason,
        #[serde(skip_serializing_if = "Option::is_none")]
        similarity: Option<f32>,
    },
    #[serde(rename = "parley.turn.latency")]
    TurnLatency { item_id: String, latency: TurnLatency },
    #[serde(rename = "error")]
    Error { error: ErrorBody },
}

/// Client → server events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ClientEvent {
    /// Changes session options; answered by `session.updated`.
    #[serde(rename = "session.update")]
    SessionUpdate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
        session: SessionOptions,
    },
    /// Stops the reply being spoken now (audio stops at once); answered by `response.done` with `cancelled`.
    #[serde(rename = "response.cancel")]
    ResponseCancel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
    },
}

/// Why a client message was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message of {0} bytes is larger than the {MAX_CLIENT_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("message is not a JSON object: {0}")]
    NotJson(String),
    #[error("message has no string `type` field")]
    NoType,
    #[error("unknown event type `{0}`; this server speaks {PROTOCOL_VERSION}: session.update, response.cancel")]
    UnknownType(String),
    #[error("event `{event_type}` is malformed: {message}")]
    Malformed { event_type: String, message: String },
}

const CLIENT_TYPES: [&str; 2] = ["session.update", "response.cancel"];

impl ClientEvent {
    /// Parses one data-channel message.
    pub fn parse(text: &str) -> Result<ClientEvent, ProtocolError> {
        if text.len() > MAX_CLIENT_MESSAGE_BYTES {
            return Err(ProtocolError::TooLarge(text.len()));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
        let Some(object) = value.as_object() else {
            return Err(ProtocolError::NotJson("a JSON value that is not an object".into()));
        };
        let Some(event_type) = object.get("type").and_then(|t| t.as_str()) else {
            return Err(ProtocolError::NoType);
        };
        if !CLIENT_TYPES.contains(&event_type) {
            return Err(ProtocolError::UnknownType(event_type.to_string()));
        }
        serde_json::from_value(value.clone())
            .map_err(|e| ProtocolError::Malformed { event_type: event_type.to_string(), message: e.to_string() })
    }
}

impl ServerEvent {
    /// The `error` event answering a client message that was not understood.
    pub fn for_protocol_error(error: &ProtocolError) -> ServerEvent {
        let (code, event_type) = match error {
            ProtocolError::TooLarge(_) => ("message_too_large", None),
            ProtocolError::NotJson(_) => ("invalid_json", None),
            ProtocolError::NoType => ("missing_type", None),
            ProtocolError::UnknownType(t) => ("unknown_event_type", Some(t.clone())),
            ProtocolError::Malformed { event_type, .. } => ("invalid_event", Some(event_type.clone())),
        };
        ServerEvent::Error {
            error: ErrorBody {
                kind: "invalid_request_error".into(),
                code: code.into(),
                message: error.to_string(),
                event_type,
            },
        }
    }

    /// The JSON text of this event.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_events_parse_and_round_trip() {
        let e = ClientEvent::parse(r#"{"type":"response.cancel"}"#).unwrap();
        assert_eq!(e, ClientEvent::ResponseCancel { event_id: None });
        let e = ClientEvent::parse(
            r#"{"type":"session.update","event_id":"e1","session":{"instructions":"Be brief.","voice":"joe"}}"#,
        )
        .unwrap();
        let ClientEvent::SessionUpdate { event_id, session } = &e else { panic!("{e:?}") };
        assert_eq!(event_id.as_deref(), Some("e1"));
        assert_eq!(session.instructions.as_deref(), Some("Be brief."));
        assert_eq!(ClientEvent::parse(&serde_json::to_string(&e).unwrap()).unwrap(), e);
    }

    #[test]
    fn every_bad_message_becomes_an_error_event_naming_the_problem() {
        let cases = [
            ("not json".to_string(), "invalid_json"),
            ("[1,2]".to_string(), "invalid_json"),
            (r#"{"kind":"response.cancel"}"#.to_string(), "missing_type"),
            (r#"{"type":"response.create"}"#.to_string(), "unknown_event_type"),
            (r#"{"type":"session.update","session":{"temperature":2}}"#.to_string(), "invalid_event"),
            (r#"{"type":"session.update"}"#.to_string(), "invalid_event"),
            (format!(r#"{{"type":"response.cancel","event_id":"{}"}}"#, "x".repeat(70_000)), "message_too_large"),
        ];
        for (text, code) in cases {
            let err = ClientEvent::parse(&text).unwrap_err();
            let ServerEvent::Error { error } = ServerEvent::for_protocol_error(&err) else { unreachable!() };
            assert_eq!(error.code, code, "{}", &text[..text.len().min(80)]);
            assert_eq!(error.kind, "invalid_request_error");
            assert!(!error.message.is_empty());
        }
        let err = ClientEvent::parse(r#"{"type":"response.create"}"#).unwrap_err();
        assert!(err.to_string().contains("session.update"), "says what is understood: {err}");
    }

    #[test]
    fn server_events_serialise_with_realtime_names() {
        let cases = [
            (
                ServerEvent::SessionCreated {
                    session: SessionInfo {
                        id: "s1".into(),
                        protocol: PROTOCOL_VERSION.into(),
                        options: SessionOptions { voice: Some("joe".into()), ..Default::default() },
                    },
                },
                r#"{"type":"session.created","session":{"id":"s1","protocol":"parley.v1","voice":"joe"}}"#,
            ),
            (
                ServerEvent::SpeechStarted { item_id: "i1".into(), audio_start_ms: 1200 },
                r#"{"type":"input_audio_buffer.speech_started","item_id":"i1","audio_start_ms":1200}"#,
            ),
            (
                ServerEvent::ResponseDone {
                    response_id: "r1".into(),
                    status: ResponseStatus::Interrupted,
                    played_text: "Paris is".into(),
                },
                r#"{"type":"response.done","response_id":"r1","status":"interrupted","played_text":"Paris is"}"#,
            ),
        ];
        for (event, json) in cases {
            assert_eq!(event.to_json(), json);
            assert_eq!(serde_json::from_str::<ServerEvent>(json).unwrap(), event);
        }
    }
}
