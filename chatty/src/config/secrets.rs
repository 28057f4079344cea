//! The secrets a config names (passwords, tokens, keys): listed for `chatty check`, and their
//! files (with the other paths a session reads) made relative to the config file's directory.

use std::path::Path;

use chatty_core::Secret;

use super::Config;

/// Every secret the sessions name, with the key it is at (for `chatty check`).
pub(crate) fn secrets(config: &Config) -> Vec<(String, &Secret)> {
    let mut out = Vec::new();
    for (name, session) in &config.sessions {
        #[cfg(feature = "xmpp")]
        if let Some(xmpp) = session.xmpp_config() {
            out.push((format!("sessions.{name}.xmpp.password"), &xmpp.password));
        }
        #[cfg(feature = "matrix")]
        if let Some(matrix) = session.matrix_config() {
            out.push((format!("sessions.{name}.matrix.password"), &matrix.password));
        }
        #[cfg(feature = "irc")]
        if let Some(irc) = session.irc_config() {
            irc_secrets(&format!("sessions.{name}.irc"), irc, &mut out);
        }
        #[cfg(feature = "email")]
        if let Some(email) = session.email_config() {
            out.push((format!("sessions.{name}.email.password"), &email.password));
        }
        #[cfg(feature = "slack")]
        if let Some(slack) = session.slack_config() {
            out.push((format!("sessions.{name}.slack.bot_token"), &slack.bot_token));
            out.push((format!("sessions.{name}.slack.app_token"), &slack.app_token));
        }
        #[cfg(feature = "nats")]
        if let Some(nats) = session.nats_config() {
            nats_secrets(&format!("sessions.{name}.nats"), nats, &mut out);
        }
        let _ = (name, session);
    }
    for (name, bot) in &config.bots {
        if let Some(token) = bot.web.as_ref().and_then(|w| w.token.as_ref()) {
            out.push((format!("bots.{name}.web.token"), token));
        }
        #[cfg(feature = "nats")]
        if let Some(nats) = bot.nats_config() {
            nats_secrets(&format!("bots.{name}.nats"), nats, &mut out);
        }
        if let Some(password) = bot.logger.as_ref().and_then(|l| l.password.as_ref()) {
            out.push((format!("bots.{name}.logger.password"), password));
        }
    }
    if let Some(password) = &config.journal.password {
        out.push(("journal.password".to_owned(), password));
    }
    if let Some(password) = config.state.as_ref().and_then(|s| s.password.as_ref()) {
        out.push(("state.password".to_owned(), password));
    }
    out
}

/// The server password, SASL password and channel keys of an IRC table at `table`.
#[cfg(feature = "irc")]
fn irc_secrets<'a>(
    table: &str,
    irc: &'a chatty_irc::IrcConfig,
    out: &mut Vec<(String, &'a Secret)>,
) {
    if let Some(password) = &irc.password {
        out.push((format!("{table}.password"), password));
    }
    if let Some(sasl) = &irc.sasl {
        out.push((format!("{table}.sasl.password"), &sasl.password));
    }
    for (i, channel) in irc.channels.iter().enumerate() {
        if let Some(key) = &channel.key {
            out.push((format!("{table}.channels[{i}].key"), key));
        }
    }
}

/// The password and token of a NATS hub's table at `table`.
#[cfg(feature = "nats")]
fn nats_secrets<'a>(
    table: &str,
    nats: &'a chatty_nats::NatsConfig,
    out: &mut Vec<(String, &'a Secret)>,
) {
    if let Some(password) = &nats.password {
        out.push((format!("{table}.password"), password));
    }
    if let Some(token) = &nats.token {
        out.push((format!("{table}.token"), token));
    }
}

/// Every secret the sessions name, to change.
fn secrets_mut(config: &mut Config) -> Vec<&mut Secret> {
    let mut out = Vec::new();
    for session in config.sessions.values_mut() {
        // Field by field: the three tables are borrowed apart.
        #[cfg(feature = "xmpp")]
        if let Some(xmpp) = session
            .xmpp
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_xmpp::XmppConfig>())
        {
            out.push(&mut xmpp.password);
        }
        #[cfg(feature = "matrix")]
        if let Some(matrix) = session
            .matrix
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_matrix::MatrixConfig>())
        {
            out.push(&mut matrix.password);
        }
        #[cfg(feature = "irc")]
        if let Some(irc) = session
            .irc
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_irc::IrcConfig>())
        {
            out.extend(irc.password.as_mut());
            out.extend(irc.sasl.as_mut().map(|s| &mut s.password));
            out.extend(irc.channels.iter_mut().filter_map(|c| c.key.as_mut()));
        }
        #[cfg(feature = "email")]
        if let Some(email) = session
            .email
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_email::EmailConfig>())
        {
            out.push(&mut email.password);
        }
        #[cfg(feature = "slack")]
        if let Some(slack) = session
            .slack
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_slack::SlackConfig>())
        {
            out.push(&mut slack.bot_token);
            out.push(&mut slack.app_token);
        }
        #[cfg(feature = "nats")]
        if let Some(nats) = session
            .nats
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_nats::NatsConfig>())
        {
            out.extend(nats.password.as_mut());
            out.extend(nats.token.as_mut());
        }
        let _ = session;
    }
    for bot in config.bots.values_mut() {
        #[cfg(feature = "nats")]
        if let Some(nats) = bot
            .nats
            .as_mut()
            .and_then(|t| t.get_mut::<chatty_nats::NatsConfig>())
        {
            out.extend(nats.password.as_mut());
            out.extend(nats.token.as_mut());
        }
        if let Some(token) = bot.web.as_mut().and_then(|w| w.token.as_mut()) {
            out.push(token);
        }
        if let Some(password) = bot.logger.as_mut().and_then(|l| l.password.as_mut()) {
            out.push(password);
        }
    }
    if let Some(password) = &mut config.journal.password {
        out.push(password);
    }
    if let Some(password) = config.state.as_mut().and_then(|s| s.password.as_mut()) {
        out.push(password);
    }
    out
}

/// Makes the relative paths of secret files (and of an email session's state file and an IRC or
/// Matrix session's CA file) relative to `dir` (the config file's directory).
pub(super) fn resolve_secret_files(config: &mut Config, dir: &Path) {
    #[cfg(feature = "matrix")]
    for session in config.sessions.values_mut() {
        if let Some(matrix) = session.matrix_config_mut()
            && let Some(path) = &mut matrix.ca_file
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
    #[cfg(feature = "irc")]
    for session in config.sessions.values_mut() {
        if let Some(irc) = session.irc_config_mut()
            && let Some(path) = &mut irc.ca_file
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
    #[cfg(feature = "email")]
    for session in config.sessions.values_mut() {
        if let Some(email) = session.email_config_mut()
            && let Some(path) = &mut email.state_path
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
    for secret in secrets_mut(config) {
        if let Secret::File(path) = secret
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
}
