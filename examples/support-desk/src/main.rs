//! `chatty-support-desk check|run CONFIG`: the support desk on the sessions the config names.
//! Its settings (`[bots.NAME] settings`): `remind_after_minutes`, from a ticket to its reminder.
use chatty::Runner;
use std::time::Duration;

#[derive(serde::Deserialize)]
struct Settings {
    remind_after_minutes: f64,
}

fn main() -> std::process::ExitCode {
    Runner::new()
        .bot("support-desk", |ctx| {
            let settings: Settings = ctx.settings()?;
            let remind_after = Duration::from_secs_f64(settings.remind_after_minutes * 60.0);
            Ok(chatty_support_desk::support_desk(remind_after, ctx.state()))
        })
        .main()
}
