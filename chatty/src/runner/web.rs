//! The web chat window as a bot kind (`[bots.X] web = {…}`): its settings checked as a whole, for
//! `chatty check` and `chatty run` alike, and the window opened for a run.

#[cfg(feature = "client")]
use chatty_core::Address;
use chatty_core::BoxBot;

use crate::config::BotConfig;

/// A web chat window's settings, checked as a whole (bind address, token, public names, first
/// conversation): the one check that `chatty check` and `chatty run` share.
#[cfg(feature = "client")]
fn web_options(
    config: &BotConfig,
) -> Result<(chatty_client::web::WebOptions, Option<Address>), String> {
    use chatty_client::WebError;

    let web = config.web.as_ref().ok_or("missing")?;
    let bind: std::net::SocketAddr = web.bind.parse().map_err(|e| {
        format!(
            "bind: `{}` is not an address like 127.0.0.1:8080: {e}",
            web.bind
        )
    })?;
    let talk_to = match &web.talk_to {
        Some(to) => Some(
            to.parse()
                .map_err(|e| format!("talk_to: `{to}` is not an address: {e}"))?,
        ),
        None => None,
    };
    let options = chatty_client::web::WebOptions {
        bind,
        token: web.token.clone(),
        public_names: web.public_names.clone(),
    };
    options.check().map_err(|e| match e {
        WebError::NeedsToken { .. } => format!(
            "bind: {bind} is reachable from other machines: set a token (token = {{ env = \"…\" }})"
        ),
        WebError::BadToken(why) => format!("token: {why}"),
        WebError::Token(e) => format!("token: {e}"),
        WebError::PublicNamesNeedToken => {
            "public_names: they make the window reachable from other machines: set a token (token = { env = \"…\" })".to_owned()
        }
        WebError::BadPublicName(why) => format!("public_names: {why}"),
        other => other.to_string(),
    })?;
    Ok((options, talk_to))
}

/// A web chat window as the bot; it listens only when the run starts (`listen`), not for
/// `check`. The URL it prints never carries the token: it says where the token comes from.
#[cfg(feature = "client")]
pub(super) async fn make_web(config: &BotConfig, listen: bool) -> Result<BoxBot, String> {
    let (options, talk_to) = web_options(config)?;
    if !listen {
        return Ok(BoxBot::new(crate::EchoBot));
    }
    let token_from = options.token.as_ref().map(|t| match t {
        chatty_core::Secret::Inline(_) => "the token written in the config file".to_owned(),
        other => format!("the token from {}", other.source()),
    });
    let mut client = chatty_client::WebClient::open(options)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(to) = talk_to {
        client = client.talk_to(to);
    }
    let url = client.url();
    tracing::info!(%url, "web chat window");
    match token_from {
        Some(from) => eprintln!(
            "chatty: the web chat window is at {url}: open it with ?token=TOKEN added, {from}"
        ),
        None => eprintln!("chatty: the web chat window is at {url}"),
    }
    Ok(BoxBot::new(client))
}

#[cfg(not(feature = "client"))]
pub(super) async fn make_web(_: &BotConfig, _: bool) -> Result<BoxBot, String> {
    Err("the chat windows are not compiled into this program: build chatty with the feature `client`".into())
}
