//! The bot's inbound stream, with the Logger's own error reports merged in.

use std::pin::Pin;
use std::task::{Context, Poll};

use chatty_core::{Inbound, Signal};
use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::StreamExt;

/// The recorded inbound stream merged with the Logger's [`SystemError`](chatty_core::SystemError)
/// reports. Reports come first (they are about what just happened); the merged stream ends when
/// the inbound stream ends, after the reports already waiting, even though the report channel
/// stays open as long as the bot holds its handle.
pub(super) struct WithReports {
    inbound: Inbound,
    reports: UnboundedReceiver<Signal>,
    ended: bool,
}

impl WithReports {
    pub(super) fn new(inbound: Inbound, reports: UnboundedReceiver<Signal>) -> Self {
        WithReports {
            inbound,
            reports,
            ended: false,
        }
    }
}

impl Stream for WithReports {
    type Item = Signal;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
        let this = self.get_mut();
        if let Ok(report) = this.reports.try_recv() {
            return Poll::Ready(Some(report));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        // Registers for reports that arrive while the inbound stream is pending. The channel
        // never closes while the Logger runs (it holds a sender), so `None` cannot come here.
        if let Poll::Ready(Some(report)) = this.reports.poll_next_unpin(cx) {
            return Poll::Ready(Some(report));
        }
        match this.inbound.poll_next_unpin(cx) {
            Poll::Ready(Some(signal)) => Poll::Ready(Some(signal)),
            Poll::Ready(None) => {
                this.ended = true;
                // Reports raised while recording the last signals still reach the bot.
                Poll::Ready(this.reports.try_recv().ok())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc;

    #[test]
    fn ends_with_the_inbound_stream_though_reports_stay_open() {
        futures::executor::block_on(async {
            let (tx, rx) = mpsc::unbounded();
            tx.unbounded_send(Signal::message("report")).unwrap();
            let inbound = futures::stream::iter([Signal::message("a")]).boxed();
            let merged: Vec<Signal> = WithReports::new(inbound, rx).collect().await;
            let texts: Vec<_> = merged
                .iter()
                .map(|s| match &s.body {
                    chatty_core::Body::Message(m) => m.text.clone(),
                    _ => String::new(),
                })
                .collect();
            assert_eq!(texts, ["report", "a"]);
            drop(tx);
        });
    }
}
