//! The demo bot as a program the `chatty` runner drives: the same binary answers on XMPP, email,
//! Slack or all of them at once, depending only on its config file.
//!
//! ```sh
//! cargo run -p chatty-examples --bin demo-bot -- check examples/config/xmpp.toml
//! BOT_PASSWORD=… cargo run -p chatty-examples --bin demo-bot -- run examples/config/xmpp.toml
//! ```
//!
//! Its settings (`[bots.NAME] settings = { … }`): `typing_delay_ms` (0), and `send_files`
//! (`false`: `/send PATH` would hand out this machine's files to anyone who can reach the bot).

use std::process::ExitCode;
use std::time::Duration;

use chatty::{BotContext, Runner};
use chatty_examples::DemoBot;

/// The bot's settings in the config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    typing_delay_ms: u64,
    #[serde(default)]
    send_files: bool,
}

fn demo(ctx: &BotContext<'_>) -> Result<DemoBot, chatty::BotError> {
    let settings: Settings = ctx.settings()?;
    let bot = DemoBot::new().typing_delay(Duration::from_millis(settings.typing_delay_ms));
    Ok(if settings.send_files {
        bot
    } else {
        bot.without_files()
    })
}

fn main() -> ExitCode {
    Runner::new().bot("demo", demo).main()
}
