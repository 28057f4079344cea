//! What the bot is on a workspace (team, bot user, bot id), learnt from `auth.test`, and how
//! Slack ids become addresses and back: `slack[+session]:TEAM/ID;kind=…`.

use chatty_core::{Address, AddressKind};

use crate::PLATFORM;

/// The bot on one workspace, and how addresses are made.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    session: Option<String>,
    team: String,
    user: String,
    bot_id: String,
    own: Address,
}

/// Whether a Slack id can be part of an address (Slack's ids are upper-case letters and
/// digits; anything else is not an id).
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Mapper {
    /// A mapper for the bot user `user` (bot id `bot_id`) on team `team`, in the session named
    /// `name`.
    pub(crate) fn new(name: &str, team: &str, user: &str, bot_id: &str) -> Result<Self, String> {
        let session = (name != PLATFORM).then(|| name.to_owned());
        if !valid_id(team) {
            return Err(format!("`{team}` is not a Slack team id"));
        }
        let mut mapper = Mapper {
            session,
            team: team.to_owned(),
            user: user.to_owned(),
            bot_id: bot_id.to_owned(),
            own: Address::new(PLATFORM, "placeholder").map_err(|e| e.to_string())?,
        };
        mapper.own = mapper
            .address(user, AddressKind::Individual)
            .ok_or_else(|| format!("`{team}/{user}` is not a valid address id"))?;
        Ok(mapper)
    }

    /// The bot's own address, `slack:TEAM/USER;kind=individual`.
    pub(crate) fn own(&self) -> &Address {
        &self.own
    }

    /// Whether a message with this `user` and `bot_id` is the bot's own.
    pub(crate) fn is_bot(&self, user: Option<&str>, bot_id: Option<&str>) -> bool {
        user == Some(self.user.as_str())
            || (!self.bot_id.is_empty() && bot_id == Some(self.bot_id.as_str()))
    }

    /// `slack[+session]:TEAM/ID;kind=…`; `None` for an id that is not a Slack id.
    pub(crate) fn address(&self, id: &str, kind: AddressKind) -> Option<Address> {
        if !valid_id(id) {
            return None;
        }
        let full = format!("{}/{id}", self.team);
        let address = match &self.session {
            Some(s) => Address::with_session(PLATFORM, s, &full),
            None => Address::new(PLATFORM, &full),
        };
        address.ok().map(|a| a.with_kind(kind))
    }

    /// The kind of a Slack id, from its first letter (api.slack.com/changelog/2017-09-the-one-
    /// about-usernames: `U`/`W` users, `C` channels, `G` groups and group DMs, `D` DMs).
    pub(crate) fn kind_of_id(id: &str) -> AddressKind {
        match id.chars().next() {
            Some('U' | 'W' | 'B') => AddressKind::Individual,
            Some('C') => AddressKind::Channel,
            Some('G') => AddressKind::Group,
            Some('D') => AddressKind::Individual,
            _ => AddressKind::Unknown,
        }
    }

    /// The Slack id an address of this workspace names (the part after `TEAM/`).
    pub(crate) fn slack_id<'a>(&self, address: &'a Address) -> Result<&'a str, String> {
        if address.platform() != PLATFORM {
            return Err(format!("{address} is not a Slack address"));
        }
        let (team, id) = address
            .id()
            .split_once('/')
            .ok_or_else(|| format!("{address} is not of the form slack:TEAM/ID"))?;
        if team != self.team {
            return Err(format!(
                "{address} is in team {team}, this session serves team {}",
                self.team
            ));
        }
        if !valid_id(id) {
            return Err(format!("{address} does not name a Slack id"));
        }
        Ok(id)
    }

    /// The address of a conversation, by its id and `channel_type` where known.
    pub(crate) fn conversation(
        &self,
        channel: &str,
        channel_type: Option<&str>,
    ) -> Option<Address> {
        let kind = match channel_type {
            Some("channel" | "group") => AddressKind::Channel,
            Some("mpim") => AddressKind::Group,
            Some("im" | "app_home") => AddressKind::Individual,
            _ => Self::kind_of_id(channel),
        };
        self.address(channel, kind)
    }
}
