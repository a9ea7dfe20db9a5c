//! What an engine failure means for the conversation: end of turn failing is not fatal (the silence rule
//! takes over), a partial transcript or a voice check failing changes nothing the user sees, and a failed
//! final transcript or reply is told to the client (as "busy, say it again" when the engine was overloaded)
//! and ends the reply.

use super::io::RequestId;
use super::turn::{EotCheck, UserState};
use super::{Conversation, ResponseStatus, ServerEvent};
use crate::protocol::ErrorBody;

impl Conversation {
    pub(crate) fn on_engine_error(&mut self, id: RequestId, overloaded: bool, message: String) {
        if matches!(self.turn.state, UserState::Paused(p) if p.eot == EotCheck::Asked(id)) {
            return self.on_end_of_turn(id, None);
        }
        if self.partials.is(id) {
            self.partials.take();
            return;
        }
        if self.voice.pending == Some(id) {
            return self.on_speaker_embedding(id, None);
        }
        let in_reply = self.reply.as_ref().is_some_and(|r| r.llm == Some(id) || r.tts == Some(id));
        let in_turn = match self.turn.state {
            UserState::Transcribing { asr } => asr == id,
            UserState::Paused(p) => p.asr == Some(id),
            _ => false,
        };
        if !in_reply && !in_turn {
            return;
        }
        let code = if overloaded { "overloaded" } else { "engine_error" };
        let message = if overloaded {
            format!("parley is busy and could not answer this turn ({message}); please say it again in a moment")
        } else {
            format!("parley could not answer this turn: {message}")
        };
        self.event(ServerEvent::Error {
            error: ErrorBody { kind: "server_error".into(), code: code.into(), message, event_type: None },
        });
        if in_turn {
            match self.turn.pause_mut() {
                Some(p) => p.asr = None,
                None => self.turn.set_idle(),
            }
        }
        if in_reply && let Some(r) = self.reply.take() {
            self.stop_reply(&r, Some(id));
            self.event(ServerEvent::ResponseDone {
                response_id: r.response_id(),
                status: ResponseStatus::Failed,
                played_text: String::new(),
            });
        }
    }
}
