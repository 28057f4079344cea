//! `chatty-local-slack`: serves a local Slack on 127.0.0.1 and prints what a bot needs (the
//! Web API URL and the tokens), so a Slack bot can run with no Slack account.
//!
//! ```sh
//! cargo run -p chatty-local-slack -- --port 9090
//! ```
//!
//! The workspace has a person `alice` (her user token is printed: post as her with the Web
//! API), an app `bot` and a public channel `#general` with both in it. `--without-scope
//! SCOPE` (repeatable) installs the app without that scope, as a workspace admin might, so
//! that the methods needing it answer `missing_scope`.

use std::net::{Ipv4Addr, SocketAddr};

use chatty_local_slack::{DEFAULT_SCOPES, LocalSlack};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut withheld: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => {
                port = args
                    .next()
                    .ok_or("--port needs a value")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?;
            }
            "--without-scope" => {
                let scope = args.next().ok_or("--without-scope needs a scope")?;
                if !DEFAULT_SCOPES.contains(&scope.as_str()) {
                    return Err(format!(
                        "--without-scope: `{scope}` is not one of the app's scopes ({})",
                        DEFAULT_SCOPES.join(", ")
                    )
                    .into());
                }
                withheld.push(scope);
            }
            "--help" | "-h" => {
                println!(
                    "usage: chatty-local-slack [--port PORT] [--without-scope SCOPE]...\n  \
                     --port PORT            default: a free port\n  \
                     --without-scope SCOPE  install the app without SCOPE (im:write, …)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`; try --help").into()),
        }
    }
    let slack = LocalSlack::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let alice = slack.add_user("alice");
    let scopes: Vec<&str> = DEFAULT_SCOPES
        .iter()
        .copied()
        .filter(|s| !withheld.iter().any(|w| w == s))
        .collect();
    let app = slack.add_app_with_scopes("bot", &scopes);
    let general = slack.create_channel("general", &alice, false);
    slack.join(&app.bot_user_id, &general);
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let user_token = slack.user_token(&alice).unwrap_or_default();
    println!(
        "local Slack on http://{} (team {})",
        slack.addr(),
        slack.team_id()
    );
    if !withheld.is_empty() {
        println!("the app has no {}", withheld.join(", "));
    }
    println!();
    println!("# chatty-slack configuration for the bot:");
    println!("api_url = \"{}\"", slack.api_url());
    println!("bot_token = {{ inline = \"{}\" }}", app.bot_token);
    println!("app_token = {{ inline = \"{}\" }}", app.app_token);
    println!();
    println!(
        "bot user {}, alice {}, #general {general}, DM alice-bot {dm}",
        app.bot_user_id, alice
    );
    println!("post as alice:");
    println!(
        "  curl -s -H 'Authorization: Bearer {user_token}' -H 'Content-Type: application/json' \\\n    -d '{{\"channel\": \"{dm}\", \"text\": \"hello\"}}' {}chat.postMessage",
        slack.api_url()
    );
    println!(
        "read the DM:\n  curl -s -H 'Authorization: Bearer {user_token}' '{}conversations.history?channel={dm}'",
        slack.api_url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
