//! The assistant's reply: the final transcript goes into the history, the LLM is asked (with the model,
//! sampling and deadline from the settings), its text streams into a TTS stream, and each synthesized clause
//! is played as soon as it is ready. The reply is over when both are done and its last sample was sent; an
//! interruption ends it early, with the history cut to the words heard.

use std::time::Duration;

use super::io::{Output, RequestClass, RequestId, Role, Sampling, SpokenWord};
use super::playback::Marks;
use super::{Conversation, ResponseStatus, ServerEvent};

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) number: u64,
    /// The LLM request while it runs.
    pub(crate) llm: Option<RequestId>,
    /// The TTS stream while it runs.
    pub(crate) tts: Option<RequestId>,
    pub(crate) text: String,
    /// Output position (TTS samples, session-wide) where this reply's audio starts.
    pub(crate) start: Option<u64>,
    /// (offset of the chunk in the reply's audio, its words).
    pub(crate) chunks: Vec<(u64, Vec<SpokenWord>)>,
    /// Samples of this reply pushed to the output.
    pub(crate) pushed: u64,
    pub(crate) started_sent: bool,
    pub(crate) item_id: String,
    pub(crate) marks: Marks,
}

impl Reply {
    pub(crate) fn response_id(&self) -> String {
        format!("resp_{}", self.number)
    }
}

impl Conversation {
    pub(crate) fn start_reply(&mut self, text: String) {
        if self.reply.is_some() {
            self.interrupt(ResponseStatus::Interrupted);
        }
        self.history.push(Role::User, text);
        let messages = self.history.messages(&self.config.instructions);
        self.replies += 1;
        let (llm, tts) = (self.id(), self.id());
        let c = &self.config;
        let generate = Output::Generate {
            id: llm,
            messages,
            max_tokens: c.max_reply_tokens,
            model: c.reply_model,
            sampling: Sampling { temperature: c.reply_temperature, top_p: c.reply_top_p },
            class: RequestClass::Interactive,
            deadline: Duration::from_millis(c.reply_deadline_ms as u64),
        };
        self.outputs.push_back(Output::StartSpeech { id: tts });
        self.outputs.push_back(generate);
        let reply = Reply {
            number: self.replies,
            llm: Some(llm),
            tts: Some(tts),
            text: String::new(),
            start: None,
            chunks: Vec::new(),
            pushed: 0,
            started_sent: false,
            item_id: self.item_id(),
            marks: std::mem::take(&mut self.turn.marks),
        };
        let response_id = reply.response_id();
        self.reply = Some(reply);
        self.event(ServerEvent::ResponseCreated { response_id });
    }

    pub(crate) fn on_llm_text(&mut self, id: RequestId, text: String) {
        let now = self.now;
        let Some(r) = self.reply.as_mut().filter(|r| r.llm == Some(id)) else { return };
        r.marks.first_token.get_or_insert(now);
        r.text.push_str(&text);
        let (tts, response_id) = (r.tts, r.response_id());
        if let Some(tts) = tts {
            self.outputs.push_back(Output::SpeakText { id: tts, text: text.clone() });
        }
        self.event(ServerEvent::ResponseTextDelta { response_id, delta: text });
    }

    pub(crate) fn on_llm_done(&mut self, id: RequestId) {
        let Some(r) = self.reply.as_mut().filter(|r| r.llm == Some(id)) else { return };
        r.llm = None;
        if let Some(tts) = r.tts {
            self.outputs.push_back(Output::FinishSpeech { id: tts });
        }
    }

    pub(crate) fn on_tts_chunk(&mut self, id: RequestId, samples: Vec<f32>, words: Vec<SpokenWord>) {
        let now = self.now;
        let pushed = self.playback.pushed;
        let Some(r) = self.reply.as_mut().filter(|r| r.tts == Some(id)) else { return };
        r.marks.first_audio.get_or_insert(now);
        r.start.get_or_insert(pushed);
        r.chunks.push((r.pushed, words));
        r.pushed += samples.len() as u64;
        self.playback.pushed += samples.len() as u64;
        self.outputs.push_back(Output::PlayAudio { samples });
    }

    pub(crate) fn on_tts_done(&mut self, id: RequestId) {
        if let Some(r) = self.reply.as_mut().filter(|r| r.tts == Some(id)) {
            r.tts = None;
            self.outputs.push_back(Output::FinishAudio);
        }
        self.maybe_finish_reply();
    }

    /// The reply is over when the LLM and TTS are done and its last sample has been sent.
    pub(crate) fn maybe_finish_reply(&mut self) {
        let Some(r) = &self.reply else { return };
        if r.llm.is_some() || r.tts.is_some() || self.barge.is_some() {
            return;
        }
        let end = r.start.map_or(self.playback.played, |s| s + r.pushed);
        if self.playback.played < end {
            return;
        }
        let Some(r) = self.reply.take() else { return };
        let text = r.text.trim().to_string();
        self.history.push(Role::Assistant, text.clone());
        self.event(ServerEvent::ResponseDone {
            response_id: r.response_id(),
            status: ResponseStatus::Completed,
            played_text: text,
        });
    }

    /// Stops the reply now: flush, cancel, cut the history to what was heard.
    pub(crate) fn interrupt(&mut self, status: ResponseStatus) {
        self.barge = None;
        let Some(r) = self.reply.take() else { return };
        let heard = self.stop_reply(&r, None);
        self.history.push(Role::Assistant, heard.clone());
        self.event(ServerEvent::ResponseDone { response_id: r.response_id(), status, played_text: heard });
    }

    /// Flushes the reply's audio and cancels its requests (but `except`, which has ended on its own);
    /// returns the words the user heard.
    pub(crate) fn stop_reply(&mut self, r: &Reply, except: Option<RequestId>) -> String {
        self.outputs.push_back(Output::FlushAudio);
        for id in [r.llm, r.tts].into_iter().flatten().filter(|id| Some(*id) != except) {
            self.cancel(id);
        }
        let heard = self.playback.heard_text(r);
        // The output forgets unsent audio: what was pushed and not sent no longer counts.
        self.playback.forget_unsent();
        heard
    }
}
