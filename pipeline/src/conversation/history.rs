//! The conversation as the LLM sees it: user turns as transcribed, assistant turns cut to the words the user
//! heard, oldest turns dropped first beyond a character budget.

use super::io::Role;

#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    turns: Vec<(Role, String)>,
    max_chars: usize,
}

impl History {
    pub(crate) fn new(max_chars: usize) -> Self {
        Self { turns: Vec::new(), max_chars }
    }

    pub(crate) fn turns(&self) -> &[(Role, String)] {
        &self.turns
    }

    /// Adds a turn (nothing for empty text) and drops the oldest beyond the budget.
    pub(crate) fn push(&mut self, role: Role, text: String) {
        if text.is_empty() {
            return;
        }
        self.turns.push((role, text));
        let mut total: usize = self.turns.iter().map(|(_, t)| t.len()).sum();
        let mut drop = 0;
        while self.turns.len() - drop > 1 && total > self.max_chars {
            total -= self.turns[drop].1.len();
            drop += 1;
        }
        self.turns.drain(..drop);
    }

    /// The messages of the next reply: the system prompt, then every turn.
    pub(crate) fn messages(&self, instructions: &str) -> Vec<(Role, String)> {
        let mut messages = Vec::with_capacity(self.turns.len() + 1);
        messages.push((Role::System, instructions.to_string()));
        messages.extend(self.turns.iter().cloned());
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_turns_go_first_and_the_newest_always_stays() {
        let mut h = History::new(10);
        h.push(Role::User, "hello".into());
        h.push(Role::Assistant, "".into());
        h.push(Role::Assistant, "hi there".into());
        assert_eq!(h.turns(), &[(Role::Assistant, "hi there".to_string())]);
        h.push(Role::User, "a much longer question".into());
        assert_eq!(h.turns().len(), 1, "the newest stays even over the budget");
        assert_eq!(h.messages("sys")[0], (Role::System, "sys".to_string()));
    }
}
