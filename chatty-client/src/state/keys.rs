//! Keys and the input line: editing, history, scrolling, switching conversations, and the
//! typing notifications that follow from what is typed.

use std::time::Instant;

use chatty_core::{Address, Signal, Status, StatusChange, TypingState};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::entries::Action;
use super::{ChatState, OwnTyping, SCROLL_PAGE, TYPING_REFRESH};

impl ChatState {
    /// Handles a key; returns what the client must do.
    pub fn input(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return vec![Action::Quit],
            KeyCode::Char('d') if ctrl && self.input.is_empty() => return vec![Action::Quit],
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.input.chars().count(),
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                self.cursor = 0;
                return self.after_edit();
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                let at = self.byte_index();
                self.input.insert(at, c);
                self.cursor += 1;
                return self.after_edit();
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_index();
                self.input.remove(at);
                return self.after_edit();
            }
            KeyCode::Delete if self.cursor < self.input.chars().count() => {
                let at = self.byte_index();
                self.input.remove(at);
                return self.after_edit();
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.input.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.input.chars().count(),
            KeyCode::Up => self.history_back(),
            KeyCode::Down => self.history_forward(),
            KeyCode::Tab => self.cycle(1),
            KeyCode::BackTab => self.cycle(-1),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_add(SCROLL_PAGE),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(SCROLL_PAGE),
            KeyCode::Esc => {
                self.input.clear();
                self.cursor = 0;
                self.history_pos = None;
                return self.after_edit();
            }
            KeyCode::Enter => return self.submit(),
            _ => {}
        }
        Vec::new()
    }

    /// Replaces the whole input line with `text` (control characters become spaces), the cursor
    /// at its end: how a window with its own input box (the web window) reports what the person
    /// types. Returns the typing notifications that follow, as for keys.
    pub fn set_input(&mut self, text: &str) -> Vec<Action> {
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text == self.input {
            return Vec::new();
        }
        self.input = text;
        self.cursor = self.input.chars().count();
        self.history_pos = None;
        self.after_edit()
    }

    /// Submits `line` as if it were typed and Enter pressed: a message to the current
    /// conversation, or a command (`/to`, `/join`, `/status`, …). The input line is cleared.
    pub fn submit_line(&mut self, line: &str) -> Vec<Action> {
        let line: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.cursor = line.chars().count();
        self.input = line;
        self.submit()
    }

    /// Inserts pasted text at the cursor (line breaks become spaces).
    pub fn paste(&mut self, text: &str) -> Vec<Action> {
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let at = self.byte_index();
        self.input.insert_str(at, &text);
        self.cursor += text.chars().count();
        self.after_edit()
    }

    /// Limits the scroll offset to what the conversation has: `max` lines above the window.
    pub fn clamp_scroll(&mut self, max: usize) {
        self.scroll = self.scroll.min(max);
    }

    fn byte_index(&self) -> usize {
        self.input
            .char_indices()
            .nth(self.cursor)
            .map_or(self.input.len(), |(i, _)| i)
    }

    fn cycle(&mut self, step: isize) {
        let n = self.conversations.len();
        if n == 0 {
            return;
        }
        let next = match self.current {
            Some(i) => (i as isize + step).rem_euclid(n as isize) as usize,
            None => 0,
        };
        self.switch_to(next);
    }

    fn history_back(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let pos = match self.history_pos {
            None => {
                self.draft = self.input.clone();
                self.history.len() - 1
            }
            Some(p) => p.saturating_sub(1),
        };
        self.history_pos = Some(pos);
        self.input = self.history[pos].clone();
        self.cursor = self.input.chars().count();
    }

    fn history_forward(&mut self) {
        let Some(pos) = self.history_pos else { return };
        if pos + 1 < self.history.len() {
            self.history_pos = Some(pos + 1);
            self.input = self.history[pos + 1].clone();
        } else {
            self.history_pos = None;
            self.input = std::mem::take(&mut self.draft);
        }
        self.cursor = self.input.chars().count();
    }

    /// Typing notifications after the input line changed.
    fn after_edit(&mut self) -> Vec<Action> {
        let Some(conversation) = self.current().map(|c| c.address.clone()) else {
            return Vec::new();
        };
        if self.input.trim().is_empty()
            || self.input.starts_with('/') && !self.input.starts_with("//")
        {
            return self.stop_typing(TypingState::Paused);
        }
        let at = Instant::now();
        match &mut self.own_typing {
            Some(t) if t.conversation == conversation => {
                t.last_key = at;
                if at.saturating_duration_since(t.sent_at) >= TYPING_REFRESH {
                    t.sent_at = at;
                    return vec![self.typing(&conversation, TypingState::Composing)];
                }
                Vec::new()
            }
            _ => {
                let mut actions = self.stop_typing(TypingState::Paused);
                self.own_typing = Some(OwnTyping {
                    conversation: conversation.clone(),
                    sent_at: at,
                    last_key: at,
                });
                actions.push(self.typing(&conversation, TypingState::Composing));
                actions
            }
        }
    }

    /// A typing notification for `conversation`, whose failure will not show.
    pub(super) fn typing(&mut self, conversation: &Address, state: TypingState) -> Action {
        let signal = Signal::new(StatusChange::new(Status::Typing {
            conversation: conversation.clone(),
            state,
        }));
        if self.quiet.len() >= 1024 {
            self.quiet.clear();
        }
        self.quiet.insert(signal.meta.id.clone());
        Action::Send(Box::new(signal))
    }

    pub(super) fn stop_typing(&mut self, state: TypingState) -> Vec<Action> {
        match self.own_typing.take() {
            Some(t) => vec![self.typing(&t.conversation, state)],
            None => Vec::new(),
        }
    }
}
