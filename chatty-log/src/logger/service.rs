//! The Logger as a bot: runs the inner bot on a recorded stream and a recording handle.

use chatty_core::journal::Acks;
use chatty_core::{Bot, BotError, Handle, Inbound};
use futures::StreamExt;
use futures::channel::mpsc;

use super::Logger;
use super::inbound::WithReports;
use super::outlet::LoggingOutlet;
use super::recorder::Recorder;

impl<B: Bot> Bot for Logger<B> {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let (reports_tx, reports_rx) = mpsc::unbounded();
        let recorder = Recorder::new(self.store, reports_tx);
        let recorded = {
            let recorder = recorder.clone();
            inbound
                .then(move |signal| {
                    let recorder = recorder.clone();
                    async move { recorder.inbound(signal).await }
                })
                .boxed()
        };
        let inbound = WithReports::new(recorded, reports_rx).boxed();
        let handle = Handle::new(LoggingOutlet {
            inner: handle,
            recorder,
        });
        self.inner.run(inbound, handle).await
    }

    fn acks(&self) -> Acks {
        self.inner.acks()
    }
}
