//! Outbound: the stanzas that carry what the bot sends.

pub(crate) mod stanzas;
