//! The support desk: tickets per person, a priority to choose, a reminder; on every platform.
use chatty::dispatch::prelude::*;
use std::{collections::BTreeMap, time::Duration};

/// The desk's settings (`[bots.NAME] settings`).
#[derive(Debug, serde::Deserialize)]
pub struct Desk {
    /// Minutes from a ticket to its reminder.
    pub remind_after_minutes: Minutes,
}

/// Tickets for the support desk.
#[derive(clap::Parser)]
#[command(name = "ticket")]
enum Ticket {
    /// Opens a ticket: what is wrong.
    Open { text: Vec<String> },
    /// Lists your open tickets.
    List,
    /// Closes ticket N.
    Close { n: u64 },
}

async fn ticket(Command(cmd): Command<Ticket>, cx: Context) -> Result<Message, BotError> {
    let me = cx.person()?;
    let mut open: BTreeMap<u64, String> = me.get_or_default("open").await?;
    let reply = match cmd {
        Ticket::Open { text } => {
            let n = me.increment("count").await?;
            open.insert(n, format!("#{n} {}", text.join(" ")));
            cx.after(*cx.settings::<Duration>()?, "remind", &n).await?;
            let ask = format!("Opened #{n}. How urgent is it?");
            question(format!("priority/#{n}"), ask, ["Low", "Normal", "Urgent"])
        }
        Ticket::List if open.is_empty() => "No open tickets.".into(),
        Ticket::List => Vec::from_iter(open.values().cloned()).join("\n").into(),
        Ticket::Close { n } if open.remove(&n).is_some() => format!("Closed #{n}.").into(),
        Ticket::Close { n } => format!("You have no open ticket #{n}.").into(),
    };
    me.put("open", &open).await?;
    Ok(reply)
}

async fn remind(Fired(n): Fired<u64>, me: PersonState) -> Result<Option<String>, BotError> {
    let open: BTreeMap<u64, String> = me.get_or_default("open").await?;
    Ok(open.get(&n).map(|t| format!("Still open: {t}")))
}

/// The bot, made from its settings.
pub fn support_desk(desk: Desk) -> Dispatcher {
    let pick = |p: Picked<String>| async move { Some(format!("{} is {}.", p.tag()?, p.value)) };
    let after = Duration::from(desk.remind_after_minutes);
    let bot = Dispatcher::new().settings(after).timer("remind", remind);
    bot.command::<Ticket>().to(ticket).choice("priority", pick)
}
