//! Messages from the client on the data channel: session updates (instructions, voice, language) and
//! cancelling the reply; anything else is answered with a protocol error that says what to fix.

use super::{Conversation, ResponseStatus, ServerEvent};
use crate::protocol::ClientEvent;

impl Conversation {
    pub(crate) fn on_client_message(&mut self, text: &str) {
        match ClientEvent::parse(text) {
            Ok(ClientEvent::SessionUpdate { session, .. }) => {
                let o = &mut self.session.options;
                if let Some(i) = session.instructions {
                    self.config.instructions = i.clone();
                    o.instructions = Some(i);
                }
                if session.voice.is_some() {
                    o.voice = session.voice;
                }
                if session.language.is_some() {
                    o.language = session.language;
                }
                self.event(ServerEvent::SessionUpdated { session: self.session.clone() });
            }
            Ok(ClientEvent::ResponseCancel { .. }) => {
                if self.reply.is_some() {
                    self.interrupt(ResponseStatus::Cancelled);
                }
            }
            Err(e) => self.event(ServerEvent::for_protocol_error(&e)),
        }
    }
}
