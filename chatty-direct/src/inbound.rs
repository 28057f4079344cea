//! Serving: what arrives for the endpoint reaches its bot. Other endpoints push to the bot's
//! sink themselves (their sends wait while its queue is full); `serve` hands over what waited
//! while the bot was away, attaches the sink, and pushes the endpoint's own reflections.

use std::collections::VecDeque;

use chatty_core::DeliveryStatus;
use chatty_core::driver::Link;

use crate::connect::Attachment;
use crate::state::{Port, Waiting};

/// Serves the endpoint of `port` until the driver says stop; then the endpoint goes offline
/// (the attachment is dropped).
pub(crate) async fn serve(port: &Port, attachment: Attachment, link: &Link) {
    let serving = async {
        if !attach(port, link).await {
            return;
        }
        while let Ok(signal) = port.reflected.recv().await {
            if link.push(signal).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        biased;
        () = link.stopping() => {}
        // The bot stopped listening: the driver says stop at once.
        () = serving => link.stopping().await,
    }
    drop(attachment);
}

/// Attaches the bot's sink, first handing it, in order, what waited while it was away; false
/// if the bot stopped listening meanwhile (what it did not take waits on).
async fn attach(port: &Port, link: &Link) -> bool {
    loop {
        let waiting = {
            let mut state = port.shared.lock();
            let Some(me) = state.endpoints.get_mut(&port.name) else {
                return false;
            };
            if me.waiting.is_empty() {
                me.sink = Some(link.sink().clone());
                return true;
            }
            std::mem::take(&mut me.waiting)
        };
        let mut waiting = VecDeque::from(waiting);
        while let Some(next) = waiting.pop_front() {
            if link.push(next.signal.clone()).await.is_err() {
                waiting.push_front(next);
                put_back(port, waiting);
                return false;
            }
            if let Some(sender) = next.sender.upgrade() {
                sender
                    .deliveries()
                    .advance(&next.signal.meta.id, DeliveryStatus::Delivered);
            }
        }
    }
}

/// Puts what the bot did not take back, before what came since.
fn put_back(port: &Port, mut waiting: VecDeque<Waiting>) {
    let mut state = port.shared.lock();
    if let Some(me) = state.endpoints.get_mut(&port.name) {
        waiting.extend(std::mem::take(&mut me.waiting));
        me.waiting = waiting.into();
    }
}
