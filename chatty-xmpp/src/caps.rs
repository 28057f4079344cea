//! What each contact's client can receive: the disco#info (XEP-0030) of its online resources,
//! learnt through Entity Capabilities (XEP-0115) where a presence carries them, cached by their
//! verification string, and mapped to Chatty's [`Capabilities`].
//!
//! An address's capabilities are the union over its online resources that answered: a message to
//! the bare JID reaches them all (with carbons) or the most available one, and a feature any of
//! them shows is one the person can see. Until a resource has answered, the session's static
//! table stands in; a resource that does not answer gets the base of XMPP (RFC 6120/6121) only.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use chatty_core::driver::Recent;
use chatty_core::{Capabilities, Features, Signals};
use tokio_xmpp::jid::{BareJid, FullJid};
use tokio_xmpp::parsers::caps::{self, Caps};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult, Identity};
use tokio_xmpp::parsers::hashes::Algo;
use tokio_xmpp::parsers::ns;

use crate::config::ClientType;
use crate::ns::{NS_OOB, NS_RECEIPTS, NS_REPLY, NS_RETRACT, NS_SIGNAL};

/// What the session carries to a person or bot whose clients it does not know: choices degraded
/// (the question's form goes out, but whether a client shows it is not known; the numbered lines
/// in the body are there for all).
pub(crate) const CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::DOWNLOAD_FILE)
        .union(Signals::PRESENCE)
        .union(Signals::TYPING)
        .union(Signals::USER_DEFINED),
    Features::SUBJECT
        .union(Features::ATTACHMENTS)
        .union(Features::REPLIES)
        .union(Features::STATUS_MESSAGE)
        .union(Features::DELIVERY_REPORTS)
        .union(Features::EDITS)
        .union(Features::REACTIONS)
        .union(Features::ORDERED),
)
.with_degraded(Features::CHOICES);

/// What the session carries to a room (XEP-0045): a subject would set the room's topic, so
/// messages with one are refused as Unsupported; rooms give no delivery receipts. Choices are
/// degraded to numbered lines: a form is one person's to fill in, every occupant would get it,
/// and occupants' clients differ.
pub(crate) const ROOM_CAPABILITIES: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::TYPING)
        .union(Signals::USER_DEFINED)
        .union(Signals::IN_ROOM),
    Features::REPLIES
        .union(Features::ATTACHMENTS)
        .union(Features::EDITS)
        .union(Features::REACTIONS)
        .union(Features::ORDERED),
)
.with_degraded(Features::CHOICES);

/// The node of the bot's own entity capabilities (XEP-0115).
pub(crate) const OWN_NODE: &str = "https://crates.io/crates/chatty-xmpp";

/// How many verification strings the cache keeps (the oldest go first).
const MAX_VERSIONS: usize = 1024;
/// How many message senders (without presence) the session remembers as bots or not.
const MAX_SENDERS: usize = 4096;

/// The disco#info features the bot announces (XEP-0030).
const OWN_FEATURES: &[&str] = &[
    ns::CAPS,
    ns::DISCO_INFO,
    ns::PING,
    ns::CHATSTATES,
    NS_OOB,
    NS_RECEIPTS,
    ns::MUC,
    NS_REPLY,
    NS_SIGNAL,
    ns::MESSAGE_CORRECT,
    NS_RETRACT,
    ns::REACTIONS,
    ns::DATA_FORMS,
];

/// The session's own disco#info (its identity `client/TYPE`, `client/bot` for a bot), answered
/// to `node` (none, or its caps node#ver).
pub(crate) fn own_info(client_type: ClientType, node: Option<String>) -> DiscoInfoResult {
    DiscoInfoResult {
        node,
        identities: vec![Identity::new(
            "client",
            client_type.as_str(),
            "en",
            "Chatty",
        )],
        features: OWN_FEATURES.iter().map(|f| (*f).to_owned()).collect(),
        extensions: Vec::new(),
    }
}

/// The session's own entity capabilities and the node#ver that asks for them, per client type
/// (computed once: they never change while it runs).
static OWN_CAPS: LazyLock<Vec<(ClientType, Caps, Option<String>)>> = LazyLock::new(|| {
    ClientType::ALL
        .into_iter()
        .map(|client_type| {
            let info = own_info(client_type, None);
            let hash = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1)
                .expect("SHA-1 is supported");
            let caps = Caps::new(OWN_NODE, hash);
            let node = caps::query_caps(caps.clone()).node;
            (client_type, caps, node)
        })
        .collect()
});

fn own_entry(client_type: ClientType) -> &'static (ClientType, Caps, Option<String>) {
    OWN_CAPS
        .iter()
        .find(|(t, _, _)| *t == client_type)
        .unwrap_or(&OWN_CAPS[0])
}

/// The session's own entity capabilities, for its presence.
pub(crate) fn own_caps(client_type: ClientType) -> Caps {
    own_entry(client_type).1.clone()
}

/// Whether a disco#info request for `node` asks about the session itself.
pub(crate) fn is_own_node(client_type: ClientType, node: Option<&str>) -> bool {
    node.is_none() || own_entry(client_type).2.as_deref() == node
}

/// What the base of XMPP carries to an individual, whatever its client supports: messages with
/// subjects, file URLs in the body (attachments degraded to a link), presence with status text,
/// all in order (RFC 6120, 10.1). Edits are degraded too: a client without XEP-0308 shows a
/// correction as a new message, and one without XEP-0424 shows a retraction's fallback text.
/// Choices are numbered lines in the body, for a client without data forms (XEP-0004).
const BASE: Capabilities = Capabilities::new(
    Signals::MESSAGE
        .union(Signals::FILE)
        .union(Signals::DOWNLOAD_FILE)
        .union(Signals::PRESENCE),
    Features::SUBJECT
        .union(Features::STATUS_MESSAGE)
        .union(Features::ORDERED),
)
.with_degraded(
    Features::ATTACHMENTS
        .union(Features::EDITS)
        .union(Features::CHOICES),
);

/// The capabilities of a client that announces `features`.
pub(crate) fn from_features(features: &BTreeSet<String>) -> Capabilities {
    let has = |f: &str| features.contains(f);
    let mut caps = BASE;
    if has(ns::CHATSTATES) {
        caps.signals |= Signals::TYPING;
    }
    if has(NS_SIGNAL) {
        caps.signals |= Signals::USER_DEFINED;
    }
    if has(NS_OOB) {
        caps.features |= Features::ATTACHMENTS;
        caps.degraded -= Features::ATTACHMENTS;
    }
    if has(NS_REPLY) {
        caps.features |= Features::REPLIES;
    }
    if has(ns::MESSAGE_CORRECT) && has(NS_RETRACT) {
        caps.features |= Features::EDITS;
        caps.degraded -= Features::EDITS;
    }
    if has(NS_RECEIPTS) {
        caps.features |= Features::DELIVERY_REPORTS;
    }
    if has(ns::REACTIONS) {
        caps.features |= Features::REACTIONS;
    }
    if has(ns::DATA_FORMS) {
        caps.features |= Features::CHOICES;
        caps.degraded -= Features::CHOICES;
    }
    caps
}

/// Whether a disco#info answer names the identity `client/bot` (XEP-0030's registry: "an
/// automated conversation bot"): what a bot's client says it is, as this session's own does.
pub(crate) fn has_bot_identity(info: &DiscoInfoResult) -> bool {
    info.identities
        .iter()
        .any(|i| i.category == "client" && i.type_ == "bot")
}

/// What a client said of itself in disco#info: its features, and whether it is a bot.
#[derive(Debug, Default, PartialEq)]
struct ClientInfo {
    features: BTreeSet<String>,
    bot: bool,
}

impl ClientInfo {
    /// From an answer, or from no answer (the base of XMPP, not a bot).
    fn from_answer(info: Option<&DiscoInfoResult>) -> Self {
        ClientInfo {
            features: info.map(|i| i.features.clone()).unwrap_or_default(),
            bot: info.is_some_and(has_bot_identity),
        }
    }
}

/// What is known of one online resource.
#[derive(Debug, Clone, Default)]
struct Resource {
    /// The verification string its presence carries (XEP-0115), if any.
    ver: Option<Vec<u8>>,
    /// What it said of itself, once it answered disco#info (nothing if it never did).
    info: Option<Arc<ClientInfo>>,
}

/// What the session knows of its contacts' clients.
#[derive(Debug)]
pub(crate) struct PeerCaps {
    /// Online resources by bare JID, then resource: looked up by an address's text on every
    /// send, without parsing it as a JID.
    resources: HashMap<String, HashMap<String, Resource>>,
    /// What clients said of themselves, by verification string: clients of one kind and
    /// version share one entry.
    by_ver: Recent<Vec<u8>, Arc<ClientInfo>>,
    /// Whether senders of messages whose presence the session does not see (no subscription,
    /// occupants of rooms) are bots, by full JID: `None` while their answer is awaited.
    senders: Recent<String, Option<bool>>,
}

impl Default for PeerCaps {
    fn default() -> Self {
        PeerCaps {
            resources: HashMap::new(),
            by_ver: Recent::new(MAX_VERSIONS),
            senders: Recent::new(MAX_SENDERS),
        }
    }
}

/// A disco#info request the session should send to learn a resource's features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Discover {
    /// The resource to ask.
    pub(crate) to: FullJid,
    /// The query: with the caps node#ver when the presence carried one.
    pub(crate) query: DiscoInfoQuery,
    /// The verification string to check the answer against.
    pub(crate) ver: Option<Vec<u8>>,
}

impl PeerCaps {
    /// A resource came online or changed its presence, with entity capabilities or without.
    /// Returns the disco#info request to send when its features are not known yet and the
    /// presence says how to ask (one carrying no caps is asked only when a query needs it).
    pub(crate) fn available(&mut self, from: FullJid, caps: Option<Caps>) -> Option<Discover> {
        let ver = caps.as_ref().map(|c| c.ver.clone());
        let known = ver.as_ref().and_then(|v| self.by_ver.get(v)).cloned();
        let entry = self
            .resources
            .entry(from.to_bare().to_string())
            .or_default()
            .entry(from.resource().to_string())
            .or_default();
        if entry.ver != ver || known.is_some() {
            entry.info = known.clone();
        }
        entry.ver.clone_from(&ver);
        match (caps, known) {
            (Some(caps), None) if caps.hash == Algo::Sha_1 => Some(Discover {
                to: from,
                query: caps::query_caps(caps),
                ver,
            }),
            _ => None,
        }
    }

    /// A resource went offline.
    pub(crate) fn unavailable(&mut self, from: &FullJid) {
        let bare = from.to_bare().to_string();
        if let Some(resources) = self.resources.get_mut(&bare) {
            resources.remove(from.resource().as_str());
            if resources.is_empty() {
                self.resources.remove(&bare);
            }
        }
    }

    /// A new stream: the server sends every contact's presence again.
    pub(crate) fn forget_resources(&mut self) {
        self.resources.clear();
    }

    /// `from` answered disco#info with `info` (or `None`: it did not answer). An answer to a
    /// caps query is cached by its verification string only if it hashes to it.
    pub(crate) fn learned(
        &mut self,
        from: &FullJid,
        ver: Option<&[u8]>,
        info: Option<&DiscoInfoResult>,
    ) {
        let known = Arc::new(ClientInfo::from_answer(info));
        if let (Some(ver), Some(info)) = (ver, info) {
            let hashed = caps::hash_caps(&caps::compute_disco(info), Algo::Sha_1);
            if hashed.is_ok_and(|h| h.hash == ver) {
                self.by_ver.insert(ver.to_vec(), known.clone());
            } else {
                tracing::debug!(%from, "disco#info does not match its entity capabilities hash");
            }
        }
        // Only for a resource still online (it may have left while the answer was coming).
        if let Some(resource) = self
            .resources
            .get_mut(from.to_bare().as_str())
            .and_then(|r| r.get_mut(from.resource().as_str()))
        {
            resource.info = Some(known);
        }
    }

    /// Whether the session should ask `sender` (a message came from it) what it is: not when
    /// its presence told already or will, nor when it was asked before. Marks it as asked.
    pub(crate) fn ask_sender(&mut self, sender: &FullJid) -> bool {
        if self.is_online(sender) || self.senders.contains(sender.as_str()) {
            return false;
        }
        self.senders.insert(sender.to_string(), None);
        true
    }

    /// `sender` answered disco#info with `info`, or did not answer (`None`: not a bot).
    pub(crate) fn learned_sender(&mut self, sender: &FullJid, info: Option<&DiscoInfoResult>) {
        if let Some(known) = self.senders.get_mut(sender.as_str()) {
            *known = Some(info.is_some_and(has_bot_identity));
        }
    }

    /// Forgets what `sender` is (an occupant who left a room: its nickname may come back as
    /// someone else).
    pub(crate) fn forget_sender(&mut self, sender: &FullJid) {
        self.senders.remove(sender.as_str());
    }

    /// Whether `jid` (a full JID) is a bot's client, as far as the session knows: from the
    /// disco#info of an online resource, or of a sender asked earlier.
    pub(crate) fn is_bot(&self, bare: &str, resource: &str) -> bool {
        let online = self
            .resources
            .get(bare)
            .and_then(|r| r.get(resource))
            .and_then(|r| r.info.as_ref());
        match online {
            Some(info) => info.bot,
            None => self
                .senders
                .get(&format!("{bare}/{resource}"))
                .copied()
                .flatten()
                .unwrap_or(false),
        }
    }

    /// The online resources of `bare` whose features are not known yet.
    pub(crate) fn unknown(&self, bare: &BareJid) -> Vec<FullJid> {
        let Some(resources) = self.resources.get(bare.as_str()) else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, r)| r.info.is_none())
            .filter_map(|(resource, _)| FullJid::new(&format!("{bare}/{resource}")).ok())
            .collect()
    }

    /// Whether `jid` is online as far as presence says.
    pub(crate) fn is_online(&self, jid: &FullJid) -> bool {
        self.resources
            .get(jid.to_bare().as_str())
            .is_some_and(|r| r.contains_key(jid.resource().as_str()))
    }

    /// The capabilities of the known online resources of `bare` (their union), or of the one
    /// `resource` names; `None` when none is known.
    pub(crate) fn capabilities(&self, bare: &str, resource: Option<&str>) -> Option<Capabilities> {
        let mut union: Option<Capabilities> = None;
        for (name, known) in self.resources.get(bare)? {
            if resource.is_some_and(|r| r != name) {
                continue;
            }
            let Some(info) = &known.info else {
                continue;
            };
            let caps = from_features(&info.features);
            union = Some(match union {
                None => caps,
                Some(u) => Capabilities::new(u.signals | caps.signals, u.features | caps.features)
                    .with_degraded((u.degraded | caps.degraded) - (u.features | caps.features)),
            });
        }
        union
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> FullJid {
        FullJid::new(s).unwrap()
    }

    fn info(features: &[&str]) -> DiscoInfoResult {
        DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("client", "pc", "en", "Some client")],
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            extensions: Vec::new(),
        }
    }

    fn caps_of(info: &DiscoInfoResult) -> Caps {
        Caps::new(
            "https://example.org/client",
            caps::hash_caps(&caps::compute_disco(info), Algo::Sha_1).unwrap(),
        )
    }

    #[test]
    fn features_map_to_capabilities() {
        let bare = from_features(&BTreeSet::new());
        assert_eq!(bare, BASE);
        assert!(bare.degraded.contains(Features::ATTACHMENTS));
        assert!(
            bare.degraded.contains(Features::CHOICES),
            "no data forms: numbered lines in the body"
        );
        assert!(!bare.features.contains(Features::CHOICES));
        assert!(!bare.signals.contains(Signals::TYPING));
        assert!(!bare.signals.contains(Signals::USER_DEFINED));

        let all: BTreeSet<String> = OWN_FEATURES.iter().map(|f| (*f).to_owned()).collect();
        let full = from_features(&all);
        assert!(
            full.signals
                .contains(Signals::TYPING | Signals::USER_DEFINED)
        );
        assert!(
            full.features
                .contains(Features::ATTACHMENTS | Features::REPLIES | Features::DELIVERY_REPORTS)
        );
        assert!(full.features.contains(Features::EDITS | Features::ORDERED));
        assert!(full.features.contains(Features::REACTIONS), "XEP-0444");
        assert!(!bare.features.contains(Features::REACTIONS));
        assert!(
            !bare.carries(Features::REACTIONS),
            "no fallback for reactions"
        );
        assert!(full.features.contains(Features::CHOICES), "data forms");
        assert!(full.degraded.is_empty());

        // Data forms alone: choices as forms, nothing else beyond the base.
        let forms: BTreeSet<String> = [ns::DATA_FORMS.to_owned()].into();
        let with_forms = from_features(&forms);
        assert!(with_forms.features.contains(Features::CHOICES));
        assert!(!with_forms.degraded.contains(Features::CHOICES));
        assert_eq!(with_forms.signals, BASE.signals);

        // Corrections without retractions: edits stay degraded (a retraction shows its
        // fallback text).
        let corrections: BTreeSet<String> = [ns::MESSAGE_CORRECT.to_owned()].into();
        let partial = from_features(&corrections);
        assert!(!partial.features.contains(Features::EDITS));
        assert!(partial.carries(Features::EDITS));
    }

    #[test]
    fn own_caps_answer_to_their_node() {
        let bot = ClientType::Bot;
        let node = caps::query_caps(own_caps(bot)).node.unwrap();
        assert!(node.starts_with(OWN_NODE));
        assert!(is_own_node(bot, None));
        assert!(is_own_node(bot, Some(&node)));
        assert!(!is_own_node(bot, Some("https://example.org/other#abc")));
        // The hash covers what the bot answers.
        let info = own_info(bot, Some(node));
        assert!(has_bot_identity(&info));
        let again = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1);
        assert_eq!(again.unwrap().hash, own_caps(bot).ver);
        // A session standing in for a person says so, with caps of its own.
        let pc = ClientType::Pc;
        let info = own_info(pc, None);
        assert!(!has_bot_identity(&info));
        assert_eq!(info.identities[0].type_, "pc");
        assert_ne!(own_caps(pc).ver, own_caps(bot).ver);
        let pc_node = caps::query_caps(own_caps(pc)).node.unwrap();
        assert!(is_own_node(pc, Some(&pc_node)));
        assert!(!is_own_node(bot, Some(&pc_node)));
    }

    #[test]
    fn a_caps_presence_is_asked_once_per_version_and_cached() {
        let mut peers = PeerCaps::default();
        let client = info(&[ns::CHATSTATES, ns::DISCO_INFO]);
        let caps = caps_of(&client);
        let alice = BareJid::new("alice@example.org").unwrap();
        let alice_s = alice.as_str();

        let ask = peers
            .available(jid("alice@example.org/phone"), Some(caps.clone()))
            .expect("unknown version: ask");
        assert_eq!(ask.to, jid("alice@example.org/phone"));
        assert_eq!(ask.query, caps::query_caps(caps.clone()));
        assert_eq!(peers.capabilities(alice_s, None), None, "not answered yet");
        assert_eq!(peers.unknown(&alice), [jid("alice@example.org/phone")]);

        peers.learned(&ask.to, ask.ver.as_deref(), Some(&client));
        let known = peers.capabilities(alice_s, None).unwrap();
        assert!(known.signals.contains(Signals::TYPING));
        assert!(!known.signals.contains(Signals::USER_DEFINED));
        assert!(peers.unknown(&alice).is_empty());

        // A second client of the same version is known at once.
        assert_eq!(
            peers.available(jid("bob@example.org/desk"), Some(caps)),
            None
        );
        assert_eq!(peers.capabilities("bob@example.org", None), Some(known));

        // Offline: forgotten.
        peers.unavailable(&jid("alice@example.org/phone"));
        assert_eq!(peers.capabilities(alice_s, None), None);
    }

    #[test]
    fn choices_are_forms_only_where_a_client_announces_data_forms() {
        // The static tables: degraded to numbered lines for a person not known yet, and in rooms.
        for table in [CAPABILITIES, ROOM_CAPABILITIES] {
            assert!(table.degraded.contains(Features::CHOICES));
            assert!(!table.features.contains(Features::CHOICES));
        }
        let mut peers = PeerCaps::default();
        let (phone, desk) = (jid("erin@example.org/phone"), jid("erin@example.org/desk"));
        assert!(peers.available(phone.clone(), None).is_none());
        assert!(peers.available(desk.clone(), None).is_none());
        peers.learned(&phone, None, Some(&info(&[ns::CHATSTATES])));
        let erin = "erin@example.org";
        let plain = peers.capabilities(erin, None).unwrap();
        assert!(plain.degraded.contains(Features::CHOICES));
        assert!(!plain.features.contains(Features::CHOICES));
        // A client with data forms (XEP-0004) shows them: the person can answer by the form.
        peers.learned(&desk, None, Some(&info(&[ns::DATA_FORMS])));
        let both = peers.capabilities(erin, None).unwrap();
        assert!(both.features.contains(Features::CHOICES));
        assert!(!both.degraded.contains(Features::CHOICES));
        let only_phone = peers.capabilities(erin, Some("phone")).unwrap();
        assert!(!only_phone.features.contains(Features::CHOICES));
        // The bot announces data forms itself: Chatty bots carry choices to each other as forms.
        let own: BTreeSet<String> = own_info(ClientType::Bot, None)
            .features
            .into_iter()
            .collect();
        assert!(from_features(&own).features.contains(Features::CHOICES));
    }

    #[test]
    fn a_wrong_hash_is_not_cached_and_resources_unite() {
        let mut peers = PeerCaps::default();
        let honest = info(&[NS_SIGNAL]);
        let mut caps = caps_of(&honest);
        caps.ver = vec![1, 2, 3];
        let ask = peers
            .available(jid("carol@example.org/a"), Some(caps.clone()))
            .unwrap();
        peers.learned(&ask.to, ask.ver.as_deref(), Some(&honest));
        assert!(
            peers
                .available(jid("carol@example.org/b"), Some(caps))
                .is_some(),
            "a version whose answer did not hash to it is asked again"
        );
        peers.learned(
            &jid("carol@example.org/b"),
            None,
            Some(&info(&[ns::CHATSTATES])),
        );
        let carol = "carol@example.org";
        let union = peers.capabilities(carol, None).unwrap();
        assert!(
            union
                .signals
                .contains(Signals::USER_DEFINED | Signals::TYPING)
        );
        let only_a = peers.capabilities(carol, Some("a")).unwrap();
        assert!(!only_a.signals.contains(Signals::TYPING));

        // No answer at all: the base of XMPP.
        assert!(peers.available(jid("dave@example.org/x"), None).is_none());
        peers.learned(&jid("dave@example.org/x"), None, None);
        assert_eq!(peers.capabilities("dave@example.org", None), Some(BASE));

        // A new stream forgets who was online.
        peers.forget_resources();
        assert_eq!(peers.capabilities(carol, None), None);
    }

    #[test]
    fn senders_are_asked_once_and_remembered_as_bots_or_not() {
        let mut peers = PeerCaps::default();
        let bot = DiscoInfoResult {
            identities: vec![Identity::new("client", "bot", "en", "Echo")],
            ..info(&[])
        };
        let echo = jid("echo@example.org/x");
        assert!(peers.ask_sender(&echo));
        assert!(!peers.ask_sender(&echo), "asked once");
        assert!(
            !peers.is_bot("echo@example.org", "x"),
            "not while the answer is awaited"
        );
        peers.learned_sender(&echo, Some(&bot));
        assert!(peers.is_bot("echo@example.org", "x"));
        assert!(
            !peers.is_bot("echo@example.org", "y"),
            "one client, not the account"
        );
        peers.forget_sender(&echo);
        assert!(!peers.is_bot("echo@example.org", "x"));
        assert!(peers.ask_sender(&echo), "forgotten: asked again");
        // No answer: not a bot, and not asked again.
        let quiet = jid("quiet@example.org/x");
        assert!(peers.ask_sender(&quiet));
        peers.learned_sender(&quiet, None);
        assert!(!peers.is_bot("quiet@example.org", "x"));
        assert!(!peers.ask_sender(&quiet));
        // A client online with presence is learnt through it, not asked as a sender; its
        // answer by caps says whether it is a bot.
        let caps = caps_of(&bot);
        let online = jid("daemon@example.org/d");
        let ask = peers.available(online.clone(), Some(caps)).unwrap();
        assert!(!peers.ask_sender(&online));
        peers.learned(&ask.to, ask.ver.as_deref(), Some(&bot));
        assert!(peers.is_bot("daemon@example.org", "d"));
        // The cache is bounded.
        for i in 0..MAX_SENDERS + 1 {
            peers.ask_sender(&jid(&format!("s{i}@example.org/x")));
        }
        assert!(peers.senders.len() <= MAX_SENDERS);
    }
}
