//! Drawing the state with ratatui: conversation pane, side list, input line and status bar.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthChar;

use crate::state::{ChatState, EntryKind, availability_word};

/// The side list's width at most, in columns.
pub const SIDE_WIDTH: u16 = 28;

/// Below this width the side list is left out, so the conversation keeps its room.
pub const SIDE_MIN_TOTAL_WIDTH: u16 = 50;

/// The areas a frame is cut into: where each part of the window is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The conversation pane.
    pub conversation: Rect,
    /// The side list of conversations (empty when the terminal is too narrow).
    pub side: Rect,
    /// The input line.
    pub input: Rect,
    /// The status bar.
    pub status: Rect,
}

impl Areas {
    /// Cuts `area` into the window's parts.
    pub fn of(area: Rect) -> Areas {
        let [main, input, status] = Layout::vertical([
            Constraint::Min(0),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let side_width = if area.width >= SIDE_MIN_TOTAL_WIDTH {
            SIDE_WIDTH.min(area.width / 3)
        } else {
            0
        };
        let [conversation, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(side_width)]).areas(main);
        Areas {
            conversation,
            side,
            input,
            status,
        }
    }
}

/// Draws the whole window from `state`. Only the lines that fit the conversation pane (and the
/// scroll offset above them) are laid out, so a long conversation draws as fast as a short one.
pub fn render(state: &ChatState, frame: &mut Frame<'_>) {
    let areas = Areas::of(frame.area());
    render_conversation(state, frame, areas.conversation);
    if areas.side.width > 0 {
        render_side(state, frame, areas.side);
    }
    render_input(state, frame, areas.input);
    render_status(state, frame, areas.status);
}

/// How far the conversation can scroll up in a pane of `width` × `height`: the number of lines
/// above the pane when scrolled to the top, counted up to `limit` (so the cost stays bounded).
pub fn max_scroll(state: &ChatState, width: u16, height: u16, limit: usize) -> usize {
    let (lines, _) = tail_lines(state, usize::from(width), usize::from(height) + limit);
    lines.len().saturating_sub(usize::from(height))
}

/// The last `want` lines of the shown conversation wrapped at `width`, oldest first, with the
/// typing indicator last; and whether older lines were left out.
fn tail_lines(state: &ChatState, width: usize, want: usize) -> (VecDeque<Line<'static>>, bool) {
    let mut lines = VecDeque::new();
    if width == 0 || want == 0 {
        return (lines, false);
    }
    if let Some(conversation) = state.current() {
        let typing: Vec<String> = conversation
            .typing()
            .map(|a| state.display_name(a))
            .collect();
        if !typing.is_empty() {
            let verb = if typing.len() == 1 { "is" } else { "are" };
            let text = format!("{} {verb} typing…", typing.join(", "));
            let style = Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC);
            for piece in wrap(&text, width).into_iter().rev() {
                lines.push_front(Line::styled(piece, style));
            }
        }
    }
    for entry in state.shown_entries().iter().rev() {
        if lines.len() >= want {
            return (lines, true);
        }
        let style = match &entry.kind {
            EntryKind::Message { mine: true, .. } | EntryKind::File { mine: true, .. } => {
                Style::new().fg(Color::Cyan)
            }
            EntryKind::Message { .. } | EntryKind::File { .. } => Style::new(),
            EntryKind::Status(_) => Style::new().fg(Color::DarkGray),
            EntryKind::Error(_) => Style::new().fg(Color::Red),
            EntryKind::Info(_) => Style::new().fg(Color::Yellow),
        };
        for piece in wrap(&entry.text(), width).into_iter().rev() {
            lines.push_front(Line::styled(piece, style));
        }
    }
    (lines, false)
}

/// Wraps `text` to lines of at most `width` columns, at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for c in paragraph.chars() {
            let c = if c.is_control() { ' ' } else { c };
            let w = c.width().unwrap_or(0);
            if line_width + w > width && !line.is_empty() {
                // Break at the last space if there is one past the start.
                match line.rfind(' ').filter(|&i| i > 0) {
                    Some(i) if c != ' ' => {
                        let rest = line[i + 1..].to_owned();
                        line.truncate(i);
                        out.push(std::mem::take(&mut line));
                        line = rest;
                        line_width = line.chars().filter_map(UnicodeWidthChar::width).sum();
                    }
                    _ => {
                        out.push(std::mem::take(&mut line));
                        line_width = 0;
                    }
                }
                if c == ' ' && line.is_empty() {
                    continue;
                }
            }
            line.push(c);
            line_width += w;
        }
        out.push(line);
    }
    out
}

fn render_conversation(state: &ChatState, frame: &mut Frame<'_>, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let height = usize::from(area.height);
    let (mut lines, _) = tail_lines(state, usize::from(area.width), height + state.scroll());
    // Scrolled up past the start: show the first page.
    let scroll = state.scroll().min(lines.len().saturating_sub(height));
    for _ in 0..scroll {
        lines.pop_back();
    }
    while lines.len() > height {
        lines.pop_front();
    }
    let mut lines: Vec<Line<'static>> = lines.into();
    if scroll > 0
        && let Some(last) = lines.last_mut()
    {
        *last = Line::styled(
            format!("-- {scroll} more lines below (Page Down) --"),
            Style::new().add_modifier(Modifier::REVERSED),
        );
    }
    // A chat reads from the bottom: a short conversation sits on the input line.
    let used = u16::try_from(lines.len())
        .unwrap_or(area.height)
        .min(area.height);
    let area = Rect {
        y: area.y + area.height - used,
        height: used,
        ..area
    };
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_side(state: &ChatState, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::new().borders(Borders::LEFT).title("chats");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    for (i, conversation) in state.conversations().iter().enumerate() {
        let current = state.current_index() == Some(i);
        let mut text = String::from(if current { "> " } else { "  " });
        if conversation.is_room() {
            text.push('#');
        }
        text.push_str(&state.display_name(conversation.address()));
        if let Some((availability, _)) = conversation.presence() {
            text.push_str(&format!(" [{}]", availability_word(*availability)));
        }
        if conversation.unread() > 0 {
            text.push_str(&format!(" ({})", conversation.unread()));
        }
        let style = if current {
            Style::new().add_modifier(Modifier::BOLD)
        } else if conversation.unread() > 0 {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
        if conversation.is_room() {
            for member in conversation.members() {
                lines.push(Line::styled(
                    format!("    {}", state.display_name(member)),
                    Style::new().fg(Color::DarkGray),
                ));
            }
        }
    }
    // Keep the current conversation in view.
    let skip = lines.len().saturating_sub(usize::from(inner.height));
    let first_current = state
        .current_index()
        .and_then(|_| lines.iter().position(|l| l.to_string().starts_with("> ")))
        .unwrap_or(0);
    let skip = skip.min(first_current);
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()),
        inner,
    );
}

fn render_input(state: &ChatState, frame: &mut Frame<'_>, area: Rect) {
    if area.width == 0 {
        return;
    }
    const PROMPT: &str = "> ";
    let prompt_width = PROMPT.len();
    let available = usize::from(area.width)
        .saturating_sub(prompt_width + 1)
        .max(1);
    // Scroll the line horizontally so the cursor stays visible.
    let chars: Vec<char> = state.input_line().chars().collect();
    let cursor = state.cursor().min(chars.len());
    let start = cursor.saturating_sub(available);
    let shown: String = chars[start..].iter().take(available + 1).collect();
    let line = Line::from(vec![
        Span::styled(PROMPT, Style::new().fg(Color::Green)),
        Span::raw(shown),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let before: usize = chars[start..cursor]
        .iter()
        .filter_map(|c| UnicodeWidthChar::width(*c))
        .sum();
    let x = area.x + (prompt_width + before).min(usize::from(area.width.saturating_sub(1))) as u16;
    frame.set_cursor_position(Position::new(x, area.y));
}

fn render_status(state: &ChatState, frame: &mut Frame<'_>, area: Rect) {
    let own = state
        .own_address()
        .map(|a| a.with_kind(chatty_core::AddressKind::Unknown).to_string())
        .unwrap_or_else(|| "not connected".to_owned());
    let with = state
        .current()
        .map(|c| state.display_name(c.address()))
        .unwrap_or_else(|| "nobody (/to ADDRESS)".to_owned());
    let unread: usize = state.conversations().iter().map(|c| c.unread()).sum();
    let mut text = format!(" {own} │ with {with} │ {}", state.connection());
    if unread > 0 {
        text.push_str(&format!(" │ {unread} unread"));
    }
    text.push_str(" │ /help");
    frame.render_widget(
        Paragraph::new(text).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}
