//! What the router remembers of inbound traffic: which session delivered which file URL, so that a
//! download request goes to that session only.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::signal::{Body, Content, File, Signal};

/// How many file URLs are remembered; the oldest are forgotten first.
const REMEMBERED: usize = 10_000;

/// File URLs by the session (its index in the router) that delivered them.
#[derive(Debug, Default)]
pub(super) struct DeliveredFiles(Mutex<Urls>);

#[derive(Debug, Default)]
struct Urls {
    by_url: HashMap<String, usize>,
    order: VecDeque<String>,
}

impl DeliveredFiles {
    /// Remembers the URLs of the files `signal` carries, as delivered by session `session`.
    pub(super) fn record(&self, session: usize, signal: &Signal) {
        let files: Vec<&File> = match &signal.body {
            Body::File(file) => vec![file],
            Body::Message(m) => m
                .attachments
                .iter()
                .chain(m.media.iter().map(|media| &media.file))
                .collect(),
            _ => return,
        };
        let mut urls = files.into_iter().filter_map(|f| match &f.content {
            Content::Url { url, .. } => Some(url),
            Content::Bytes { .. } => None,
        });
        let Some(first) = urls.next() else {
            return;
        };
        let mut memory = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for url in std::iter::once(first).chain(urls) {
            if memory.by_url.insert(url.clone(), session).is_none() {
                memory.order.push_back(url.clone());
            }
            if memory.order.len() > REMEMBERED
                && let Some(oldest) = memory.order.pop_front()
            {
                memory.by_url.remove(&oldest);
            }
        }
    }

    /// The session that delivered a file at `url`, if it is remembered.
    pub(super) fn source(&self, url: &str) -> Option<usize> {
        let memory = self.0.lock().unwrap_or_else(|p| p.into_inner());
        memory.by_url.get(url).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{Media, Message};

    #[test]
    fn remembers_files_messages_and_media_by_url() {
        let files = DeliveredFiles::default();
        files.record(0, &Signal::new(File::url("a.png", None, "https://a/1")));
        let message = Message::text("see")
            .with_attachment(File::url("b.pdf", None, "https://b/2"))
            .with_media(Media {
                id: None,
                file: File::url("c.png", None, "https://c/3"),
            })
            .with_attachment(File::bytes("d.txt", None, &b"d"[..]));
        files.record(1, &Signal::new(message));
        assert_eq!(files.source("https://a/1"), Some(0));
        assert_eq!(files.source("https://b/2"), Some(1));
        assert_eq!(files.source("https://c/3"), Some(1));
        assert_eq!(files.source("https://elsewhere"), None);
    }

    #[test]
    fn forgets_the_oldest_past_its_size() {
        let files = DeliveredFiles::default();
        for i in 0..=REMEMBERED {
            files.record(0, &Signal::new(File::url("f", None, format!("u{i}"))));
        }
        assert_eq!(files.source("u0"), None);
        assert_eq!(files.source(&format!("u{REMEMBERED}")), Some(0));
    }
}
