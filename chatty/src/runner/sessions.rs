//! The sessions of a run, built from their config tables.

use std::sync::Arc;

use chatty_core::session::Session;

use super::hubs;
use crate::config::{self, BotConfig, LoadedConfig, SessionConfig};

/// The direct networks of one run, by name.
pub(super) struct Networks {
    #[cfg(feature = "direct")]
    pub(super) by_name: std::collections::BTreeMap<String, chatty_direct::Network>,
}

pub(super) fn build_session(
    name: &str,
    session: &SessionConfig,
    networks: &mut Networks,
    workers: &mut hubs::Workers,
    loaded: &LoadedConfig,
) -> Result<Arc<dyn Session>, String> {
    let platform = config::platform_of(&loaded.file, name, session).map_err(|e| e.to_string())?;
    let _ = &networks;
    match platform {
        #[cfg(feature = "direct")]
        "direct" => {
            let direct = session.direct.as_ref().ok_or("missing")?;
            let network = match networks.by_name.get(&direct.network) {
                Some(network) => network.clone(),
                None => {
                    let network = chatty_direct::Network::try_named(&direct.network)
                        .map_err(|e| format!("direct.network: `{}`: {e}", direct.network))?;
                    networks
                        .by_name
                        .insert(direct.network.clone(), network.clone());
                    network
                }
            };
            let endpoint = network
                .try_endpoint_with(&direct.endpoint, chatty_core::Capabilities::all())
                .map_err(|e| format!("direct.endpoint: `{}`: {e}", direct.endpoint))?;
            Ok(Arc::new(endpoint))
        }
        #[cfg(feature = "xmpp")]
        "xmpp" => {
            let xmpp = session.xmpp_config().cloned().ok_or("missing")?;
            let session = chatty_xmpp::XmppSession::new(xmpp).map_err(|e| format!("xmpp: {e}"))?;
            Ok(Arc::new(session))
        }
        #[cfg(feature = "irc")]
        "irc" => {
            let irc = session.irc_config().cloned().ok_or("missing")?;
            let session = chatty_irc::IrcSession::new(irc).map_err(|e| format!("irc: {e}"))?;
            Ok(Arc::new(session))
        }
        #[cfg(feature = "matrix")]
        "matrix" => {
            let matrix = session.matrix_config().cloned().ok_or("missing")?;
            let session =
                chatty_matrix::MatrixSession::new(matrix).map_err(|e| format!("matrix: {e}"))?;
            Ok(Arc::new(session))
        }
        #[cfg(feature = "email")]
        "email" => {
            let email = session.email_config().cloned().ok_or("missing")?;
            let session =
                chatty_email::EmailSession::new(email).map_err(|e| format!("email: {e}"))?;
            Ok(Arc::new(session))
        }
        #[cfg(feature = "slack")]
        "slack" => {
            let slack = session.slack_config().cloned().ok_or("missing")?;
            let session =
                chatty_slack::SlackSession::new(slack).map_err(|e| format!("slack: {e}"))?;
            Ok(Arc::new(session))
        }
        "nats" => workers.build(name, session),
        other => Err(format!(
            "the platform `{other}` is not compiled into this program: build chatty with the feature `{other}`"
        )),
    }
}

/// The `command_prefix` each session of the bot `name` sets, as (session name, prefix); an
/// error (key, message) where one is set and the bot does not read prefixes (`takes_prefixes`:
/// it was registered with `Runner::dispatcher`).
pub(super) fn command_prefixes(
    name: &str,
    bot: &BotConfig,
    takes_prefixes: bool,
    sessions: &std::collections::BTreeMap<&str, Arc<dyn Session>>,
    loaded: &LoadedConfig,
) -> Result<Vec<(String, String)>, (String, String)> {
    let mut prefixes = Vec::new();
    for key in &bot.sessions {
        let prefix = loaded
            .config
            .sessions
            .get(key)
            .and_then(|s| s.command_prefix.as_ref());
        let (Some(prefix), Some(session)) = (prefix, sessions.get(key.as_str())) else {
            continue;
        };
        if !takes_prefixes {
            return Err((
                format!("sessions.{key}.command_prefix"),
                format!(
                    "the bot `{name}` does not read command prefixes: only a bot registered with Runner::dispatcher does"
                ),
            ));
        }
        prefixes.push((session.name().to_owned(), prefix.clone()));
    }
    Ok(prefixes)
}
