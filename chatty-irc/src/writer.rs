//! The writer task of one connection: the channel joins first, then the session's queue,
//! paced by the token bucket; urgent lines (`PONG`) go out at once, also while it waits for a
//! token, so that a long backlog does not get the bot disconnected for not answering a `PING`.

use std::sync::Arc;
use std::time::Instant;

use chatty_core::DeliveryStatus;
use tokio::io::{AsyncWriteExt as _, WriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::net::Io;
use crate::net::write_line;
use crate::parts::SessionParts;
use crate::proto::{Line, Pacer};
use crate::state::{Echo, Outgoing};

/// A write half and the lines that jump the queue.
struct Writer {
    write: WriteHalf<Box<dyn Io>>,
    urgent: mpsc::UnboundedReceiver<Line>,
    pacer: Pacer,
}

impl Writer {
    /// Writes `line` once the pacer allows, writing urgent lines while it waits.
    async fn paced(&mut self, line: &Line) -> Result<(), String> {
        let wait = self.pacer.reserve(Instant::now());
        // A timer rounds up to tokio's next 1 ms tick: a line the pacer allows now goes now.
        if wait.is_zero() {
            return self.write(line).await;
        }
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                Some(urgent) = self.urgent.recv() => self.write(&urgent).await?,
                () = &mut sleep => break,
            }
        }
        self.write(line).await
    }

    async fn write(&mut self, line: &Line) -> Result<(), String> {
        write_line(&mut self.write, line)
            .await
            .map_err(|e| e.cause().to_owned())
    }
}

/// Writes until a `QUIT` is written or a write fails.
pub(crate) async fn write_loop(
    session: Arc<SessionParts>,
    write: WriteHalf<Box<dyn Io>>,
    joins: Vec<Line>,
    urgent: mpsc::UnboundedReceiver<Line>,
) -> Result<(), String> {
    let shared = &session.shared;
    let pacer = Pacer::new(shared.config.pace_burst, shared.config.pace_interval());
    let mut writer = Writer {
        write,
        urgent,
        pacer,
    };
    for line in &joins {
        writer.paced(line).await?;
    }
    let mut queue = shared.queue.lock().await;
    loop {
        let next = tokio::select! {
            biased;
            Some(urgent) = writer.urgent.recv() => {
                writer.write(&urgent).await?;
                continue;
            }
            next = queue.recv() => next,
        };
        let Some(Outgoing {
            mut line,
            confirms,
            mut done,
        }) = next
        else {
            break;
        };
        let echoed = expect_echo(&session, &mut line, confirms.as_ref(), &mut done);
        // A failure (`401`) without a label is the last message's to that target (a reaction's
        // or typing's `TAGMSG` too).
        if let (Some(id), Some(target)) = (&confirms, line.param(0))
            && matches!(line.command.as_str(), "PRIVMSG" | "NOTICE" | "TAGMSG")
        {
            let mut live = session.shared.live();
            if live.sent_to.len() > 10_000 {
                live.sent_to.clear();
            }
            let target = live.fold(target);
            live.sent_to.insert(target, id.clone());
        }
        writer.paced(&line).await?;
        // Sent once written (as the XMPP session counts a stanza handed to its stream): the
        // server relays it to the addressee possibly before its echo comes back to the bot. The
        // echo (or, without echo-message, the write) is what the journal waits for.
        if let Some(id) = confirms {
            session
                .driver
                .deliveries()
                .advance(&id, DeliveryStatus::Sent);
        }
        if !echoed && let Some(done) = done {
            let _ = done.send(());
        }
        if line.command == "QUIT" {
            let _ = writer.write.flush().await;
            let _ = writer.write.shutdown().await;
            break;
        }
    }
    Ok(())
}

/// With echo-message, notes that `line` (a message) will come back, labeled when the server
/// has labeled-response, and who to tell then (`done`, taken); whether it will.
fn expect_echo(
    session: &SessionParts,
    line: &mut Line,
    confirms: Option<&chatty_core::SignalId>,
    done: &mut Option<oneshot::Sender<()>>,
) -> bool {
    let mut live = session.shared.live();
    let echoed = live.has("echo-message") && matches!(line.command.as_str(), "PRIVMSG" | "NOTICE");
    if echoed {
        let label = live.has("labeled-response").then(|| {
            live.next_label += 1;
            format!("c{}", live.next_label)
        });
        if let Some(label) = &label {
            *line = std::mem::take(line).with_tag("label", Some(label));
        }
        live.echoes.push_back(Echo {
            label,
            confirms: confirms.cloned(),
            done: done.take(),
        });
    }
    echoed
}
