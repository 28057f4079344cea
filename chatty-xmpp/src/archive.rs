//! The server's message archive (MAM, XEP-0313): queries for history, and for catching up on what
//! arrived while the session was away (from the account's archive, or a room's); the queries a
//! connection has in progress, and where its catch-up is.

use std::collections::{HashMap, VecDeque};

use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field};
use tokio_xmpp::parsers::delay::Delay;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::mam::{Fin, Query, QueryId, Result_};
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::rsm::{SetQuery, SetResult};

/// One archived message.
#[derive(Debug, Clone)]
pub(crate) struct ArchivedMessage {
    /// Its id in the archive (for paging).
    pub(crate) archive_id: String,
    /// The message as it was sent.
    pub(crate) message: Message,
    /// When it was archived.
    pub(crate) delay: Option<Delay>,
}

/// The messages an archive query found, and how it ended; or why it failed.
pub(crate) type ArchiveAnswer = Result<(Vec<ArchivedMessage>, Fin), String>;

/// How many archived messages one catch-up page asks for.
const CATCH_UP_PAGE: usize = 100;

/// Where the results of an archive query go.
pub(crate) enum Waiter {
    /// To a query of the bot's.
    Reply(oneshot::Sender<ArchiveAnswer>),
    /// To the catch-up (the bot's inbound signals, or where the catch-up starts).
    CatchUp,
    /// To the catch-up from the archive of a room (`inbound::room_catch_up`).
    RoomCatchUp(BareJid),
}

/// A catch-up page: the answer to a query of the account's catch-up, or of a room's.
pub(crate) enum CatchUpPage {
    /// Of the account's catch-up.
    Account(ArchiveAnswer),
    /// Of the catch-up from the archive of the room.
    Room(BareJid, ArchiveAnswer),
}

/// Where a connection's catch-up from the archive is (see `inbound::catch_up`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not catching up: live messages go to the bot as they come.
    #[default]
    Live,
    /// The account was asked whether it keeps an archive (disco#info): the request's IQ id.
    Discovering(String),
    /// The archive was asked for its newest id (a first start: the catch-up starts there).
    Newest,
    /// Pages of what was archived after the mark are coming.
    Paging,
}

/// How many live messages a catch-up holds back at most (see [`CatchUp::hold`]).
pub(crate) const HELD_LIMIT: usize = 10_000;

/// The hold-back limit the crate's own tests set (0: [`HELD_LIMIT`]), so that a test against
/// the server reaches it with a few messages.
#[cfg(test)]
pub(crate) static HELD_LIMIT_IN_TESTS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The hold-back limit: [`HELD_LIMIT`], or what a test of the crate set.
fn held_limit() -> usize {
    #[cfg(test)]
    {
        let set = HELD_LIMIT_IN_TESTS.load(std::sync::atomic::Ordering::Relaxed);
        if set > 0 {
            return set;
        }
    }
    HELD_LIMIT
}

/// A connection's catch-up (from the account's archive, or a room's): its phase, and the live
/// messages it holds back meanwhile, so that the bot gets the archived ones first.
#[derive(Debug, Default)]
pub(crate) struct CatchUp {
    /// Where it is.
    pub(crate) phase: Phase,
    /// Live messages that arrived while catching up, in their order, for after it (at most
    /// [`HELD_LIMIT`]).
    pub(crate) held: VecDeque<Message>,
    /// When the server is taken not to answer any more (the catch-up then ends, so that live
    /// messages are not held back for ever).
    pub(crate) deadline: Option<Instant>,
    /// Whether live messages the archive has were let go while paging (too many were held):
    /// the catch-up pages on past its last page, where the archive gives them again.
    pub(crate) overflowed: bool,
}

impl CatchUp {
    /// Whether live messages are held back now.
    pub(crate) fn holds(&self) -> bool {
        self.phase != Phase::Live
    }

    /// Whether `iq` answers the catch-up's disco#info request.
    pub(crate) fn is_discovery(&self, iq: &Iq) -> bool {
        matches!(&self.phase, Phase::Discovering(id) if *id == crate::iq::iq_id(iq))
    }

    /// Holds the live `message` back, keeping at most [`HELD_LIMIT`]; the stream is read on
    /// all the same (the catch-up's own answers come on it). Returns the message to give the
    /// bot now, if one cannot wait.
    ///
    /// When the limit is reached while paging, the held messages that the archive being caught
    /// up has (a `stanza-id` by `archive`, the account's or the room's JID: archived before
    /// they came) are let go, and so is each such message after, until the catch-up's last page:
    /// the catch-up then asks for what came after the last message it gave, and so gives them
    /// in their place, once. What the archive does not have (typing notifications, receipts),
    /// and everything while asking for the newest id (a first start: nothing archived is
    /// given), is given to the bot oldest first once the limit is reached, ahead of the
    /// catch-up. While asking whether there is an archive (one round trip, given up after 30 s)
    /// nothing is let go: where the catch-up starts is not known yet, and a message given now
    /// would move it past what the archive has before it.
    pub(crate) fn hold(&mut self, message: Message, archive: &str) -> Option<Message> {
        self.hold_within(message, archive, held_limit())
    }

    /// [`hold`](Self::hold) with at most `limit` held.
    fn hold_within(&mut self, message: Message, archive: &str, limit: usize) -> Option<Message> {
        if matches!(self.phase, Phase::Discovering(_)) {
            self.held.push_back(message);
            return None;
        }
        if self.held.len() >= limit && self.phase == Phase::Paging {
            let before = self.held.len();
            self.held.retain(|m| stanza_id(m, archive).is_none());
            self.overflowed |= self.held.len() < before;
        }
        if self.overflowed && stanza_id(&message, archive).is_some() {
            // The archive gives it again, after the pages asked for so far.
            return None;
        }
        let now = if self.held.len() >= limit {
            self.held.pop_front()
        } else {
            None
        };
        self.held.push_back(message);
        now
    }

    /// Whether the catch-up pages on past a complete page, and no longer lets go of messages
    /// (see [`hold`](Self::hold)).
    pub(crate) fn pages_on(&mut self) -> bool {
        std::mem::take(&mut self.overflowed)
    }
}

/// Resolves once `deadline` has passed; never without one.
pub(crate) async fn expiry(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// An archive query in progress: its IQ's id, what it found so far, and who waits.
struct Pending {
    iq_id: String,
    found: Vec<ArchivedMessage>,
    waiter: Waiter,
}

/// The archive queries a connection has in progress, by query id.
#[derive(Default)]
pub(crate) struct Queries(HashMap<String, Pending>);

impl Queries {
    /// Records the query `query_id`, sent as `iq`, whose results go to `waiter`.
    pub(crate) fn insert(&mut self, query_id: String, iq: &Iq, waiter: Waiter) {
        let pending = Pending {
            iq_id: crate::iq::iq_id(iq),
            found: Vec::new(),
            waiter,
        };
        self.0.insert(query_id, pending);
    }

    /// Keeps the result `message` carries for its query; `false` if it is no archive result.
    pub(crate) fn collect(&mut self, message: &Message) -> bool {
        let Some(query_id) = result_query_id(message) else {
            return false;
        };
        if let Some(pending) = self.0.get_mut(query_id) {
            match result_for(message, query_id) {
                Some(Ok(item)) => pending.found.push(item),
                Some(Err(e)) => tracing::warn!("{e}"),
                None => {}
            }
        }
        true
    }

    /// Whether `message` is a result of a query whose answer goes to someone waiting (a query
    /// of the bot's, or a session's lookup), not to a catch-up.
    pub(crate) fn is_result_for_reply(&self, message: &Message) -> bool {
        result_query_id(message)
            .and_then(|query_id| self.0.get(query_id))
            .is_some_and(|p| matches!(p.waiter, Waiter::Reply(_)))
    }

    /// Whether `iq` ends a query whose answer goes to someone waiting (not a catch-up's).
    pub(crate) fn ends_reply(&self, iq: &Iq) -> bool {
        let id = crate::iq::iq_id(iq);
        self.0
            .values()
            .any(|p| p.iq_id == id && matches!(p.waiter, Waiter::Reply(_)))
    }

    /// Whether a query of the bot's still waits for its answer.
    pub(crate) fn replies_waiting(&self) -> bool {
        self.0
            .values()
            .any(|p| matches!(&p.waiter, Waiter::Reply(reply) if !reply.is_closed()))
    }

    /// Forgets the account's catch-up queries (a fresh stream: the old one's answers will not
    /// come).
    pub(crate) fn forget_catch_ups(&mut self) {
        self.0.retain(|_, p| !matches!(p.waiter, Waiter::CatchUp));
    }

    /// Forgets the queries of the catch-up from `room`'s archive (a fresh join, or one given
    /// up); of every room's when `None` (a fresh stream).
    pub(crate) fn forget_room_catch_ups(&mut self, room: Option<&BareJid>) {
        self.0.retain(|_, p| match &p.waiter {
            Waiter::RoomCatchUp(of) => room.is_some_and(|room| room != of),
            _ => true,
        });
    }

    /// The answer `iq` to a query in progress: the query ends, and a query of the bot's has its
    /// answer; a catch-up page's is returned.
    pub(crate) fn finish(&mut self, iq: Iq) -> Option<CatchUpPage> {
        let id = crate::iq::iq_id(&iq);
        let query = self
            .0
            .iter()
            .find(|(_, p)| p.iq_id == id)
            .map(|(q, _)| q.clone());
        let pending = self.0.remove(&query?)?;
        let answer = answer(iq, pending.found);
        match pending.waiter {
            Waiter::Reply(reply) => {
                let _ = reply.send(answer);
                None
            }
            Waiter::CatchUp => Some(CatchUpPage::Account(answer)),
            Waiter::RoomCatchUp(room) => Some(CatchUpPage::Room(room, answer)),
        }
    }
}

/// The query for a catch-up page: every message archived after `after` (from the start of the
/// archive when `None`), in the account's archive, or in `room`'s.
pub(crate) fn catch_up(room: Option<&BareJid>, after: Option<String>) -> (String, Iq) {
    let query_id = format!("catchup-{}", chatty_core::SignalId::generate());
    let set = SetQuery {
        max: Some(CATCH_UP_PAGE),
        after,
        before: None,
        index: None,
    };
    let iq = addressed(query(&query_id, None, set), room);
    (query_id, iq)
}

/// The query for the newest archived message (the last page, of one), in the account's archive,
/// or in `room`'s.
pub(crate) fn newest(room: Option<&BareJid>) -> (String, Iq) {
    let query_id = format!("newest-{}", chatty_core::SignalId::generate());
    let set = SetQuery {
        max: Some(1),
        after: None,
        before: Some(String::new()),
        index: None,
    };
    let iq = addressed(query(&query_id, None, set), room);
    (query_id, iq)
}

/// `iq` sent to `room` (a room's archive), or to the account's own when `None`.
pub(crate) fn addressed(iq: Iq, room: Option<&BareJid>) -> Iq {
    match room {
        Some(room) => iq.with_to(Jid::from(room.clone())),
        None => iq,
    }
}

/// The IQ asking the own archive for messages with `with` (all when `None`), paged by `set`.
pub(crate) fn query(query_id: &str, with: Option<&Jid>, set: SetQuery) -> Iq {
    let form = with.map(|with| {
        DataForm::new(
            DataFormType::Submit,
            ns::MAM,
            vec![Field::text_single("with", with.as_str())],
        )
    });
    let query = Query {
        queryid: Some(QueryId(query_id.to_owned())),
        node: None,
        form,
        set: Some(set),
        flip_page: false,
    };
    Iq::from_set(format!("mam-{query_id}"), query)
}

/// The archived message a result message carries, if it answers the query `query_id`.
pub(crate) fn result_for(
    message: &Message,
    query_id: &str,
) -> Option<Result<ArchivedMessage, String>> {
    let element: &Element = message.payloads.iter().find(|p| p.is("result", ns::MAM))?;
    if element.attr("queryid") != Some(query_id) {
        return None;
    }
    Some(
        Result_::try_from(element.clone())
            .map(|result| ArchivedMessage {
                archive_id: result.id,
                message: result.forwarded.message,
                delay: result.forwarded.delay,
            })
            .map_err(|e| format!("a malformed archive result: {e}")),
    )
}

/// The query id of an archive result message, if it is one.
pub(crate) fn result_query_id(message: &Message) -> Option<&str> {
    message
        .payloads
        .iter()
        .find(|p| p.is("result", ns::MAM))
        .and_then(|e| e.attr("queryid"))
}

/// The end of an answered query (`<fin>`), from the IQ result.
pub(crate) fn fin(iq: Iq) -> Result<Fin, String> {
    match iq {
        Iq::Result {
            payload: Some(payload),
            ..
        } => Fin::try_from(payload).map_err(|e| format!("a malformed archive answer: {e}")),
        Iq::Error { error, .. } => Err(format!(
            "the archive refused the query: {:?}",
            error.defined_condition
        )),
        _ => Err("the archive answered with nothing".into()),
    }
}

/// The answer `iq` to a query whose results were `found`. A result whose `<fin/>` does not
/// parse, after results, gives those results as a page that is not complete and ends at the
/// last of them, so that a catch-up goes on after them; before, the page's results were
/// dropped with the error, and the catch-up jumped to the newest message.
fn answer(iq: Iq, found: Vec<ArchivedMessage>) -> ArchiveAnswer {
    let answered = matches!(
        iq,
        Iq::Result {
            payload: Some(_),
            ..
        }
    );
    match fin(iq) {
        Ok(fin) => Ok((found, fin)),
        Err(e) if answered && !found.is_empty() => {
            tracing::warn!(
                "{e}: its {} results are kept, the next page is after them",
                found.len()
            );
            let last = found.last().map(|item| item.archive_id.clone());
            let set = SetResult {
                first: None,
                last,
                count: None,
            };
            let fin = Fin {
                complete: false,
                set,
            };
            Ok((found, fin))
        }
        Err(e) => Err(e),
    }
}

/// The archive id an archive gave an inbound message (`<stanza-id by='own@domain' id=…/>`, or
/// `by` a room's JID): `by` the archive's JID.
pub(crate) fn stanza_id(message: &Message, by: &str) -> Option<String> {
    message
        .payloads
        .iter()
        .find(|p| p.is("stanza-id", ns::SID) && p.attr("by") == Some(by))
        .and_then(|p| p.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result message of the query `query_id`, archived as `id`.
    fn result(query_id: &str, id: &str) -> Message {
        let xml = format!(
            "<message xmlns='jabber:client' to='bot@example.org'>\
             <result xmlns='urn:xmpp:mam:2' queryid='{query_id}' id='{id}'>\
             <forwarded xmlns='urn:xmpp:forward:0'>\
             <message xmlns='jabber:client' from='alice@example.org/x' type='chat'>\
             <body>old</body></message></forwarded></result></message>"
        );
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    /// The IQ ending the query sent as `iq`, complete or not.
    fn fin_of(iq: &Iq, complete: bool, last: &str) -> Iq {
        let xml = format!(
            "<iq xmlns='jabber:client' type='result' id='{}'>\
             <fin xmlns='urn:xmpp:mam:2' complete='{complete}'>\
             <set xmlns='http://jabber.org/protocol/rsm'><first>A1</first><last>{last}</last>\
             </set></fin></iq>",
            crate::iq::iq_id(iq)
        );
        Iq::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn queries_in_progress_collect_their_results_until_their_end() {
        let mut queries = Queries::default();
        let (tx, mut rx) = oneshot::channel();
        let asked = query(
            "q1",
            None,
            SetQuery {
                max: Some(10),
                after: None,
                before: Some(String::new()),
                index: None,
            },
        );
        queries.insert("q1".into(), &asked, Waiter::Reply(tx));
        let (catch_up_id, catching_up) = catch_up(None, Some("A0".into()));
        queries.insert(catch_up_id.clone(), &catching_up, Waiter::CatchUp);

        assert!(queries.collect(&result("q1", "A1")));
        assert!(queries.collect(&result(&catch_up_id, "A2")));
        assert!(
            queries.collect(&result("unknown", "A3")),
            "an archive result all the same"
        );
        let live = Message::try_from(
            "<message xmlns='jabber:client' from='a@example.org/x'><body>hi</body></message>"
                .parse::<Element>()
                .unwrap(),
        )
        .unwrap();
        assert!(!queries.collect(&live));

        assert!(
            queries.finish(fin_of(&asked, true, "A1")).is_none(),
            "answered to the bot"
        );
        let (found, fin) = rx.try_recv().unwrap().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].archive_id, "A1");
        assert!(fin.complete);
        let Some(CatchUpPage::Account(page)) = queries.finish(fin_of(&catching_up, false, "A2"))
        else {
            panic!("a page of the account's catch-up");
        };
        let (found, fin) = page.unwrap();
        assert_eq!(found[0].archive_id, "A2");
        assert!(!fin.complete);
        assert!(
            queries.finish(fin_of(&asked, true, "A1")).is_none(),
            "ended already"
        );
    }

    /// A `<fin/>` that does not parse ends a page with results all the same: the results are
    /// kept, and the page is not complete and ends at the last of them.
    #[test]
    fn a_malformed_end_of_a_page_keeps_the_page_s_results() {
        let mut queries = Queries::default();
        let (id, asked) = catch_up(None, Some("A0".into()));
        queries.insert(id.clone(), &asked, Waiter::CatchUp);
        assert!(queries.collect(&result(&id, "A1")));
        assert!(queries.collect(&result(&id, "A2")));
        let (found, fin) = finish_malformed(&mut queries, &asked).expect("the results kept");
        let ids: Vec<&str> = found.iter().map(|f| f.archive_id.as_str()).collect();
        assert_eq!(ids, ["A1", "A2"]);
        assert!(!fin.complete);
        assert_eq!(fin.set.last.as_deref(), Some("A2"));

        // Without results, it is the error it was.
        let (id, asked) = catch_up(None, Some("A2".into()));
        queries.insert(id, &asked, Waiter::CatchUp);
        assert!(finish_malformed(&mut queries, &asked).is_err());
    }

    /// The account catch-up's page ended by a `<fin/>` that does not parse, for the query sent
    /// as `asked`.
    fn finish_malformed(queries: &mut Queries, asked: &Iq) -> ArchiveAnswer {
        let xml = format!(
            "<iq xmlns='jabber:client' type='result' id='{}'>\
             <fin xmlns='urn:xmpp:mam:2' complete='perhaps'/></iq>",
            crate::iq::iq_id(asked)
        );
        let malformed = Iq::try_from(xml.parse::<Element>().unwrap()).unwrap();
        let Some(CatchUpPage::Account(page)) = queries.finish(malformed) else {
            panic!("a page of the account's catch-up");
        };
        page
    }

    /// A live chat message `n`, with the account's archive id `A<n>` when `archived`.
    fn live(n: usize, archived: bool) -> Message {
        let id = if archived {
            format!("<stanza-id xmlns='urn:xmpp:sid:0' by='bot@example.org' id='A{n}'/>")
        } else {
            String::new()
        };
        let xml = format!(
            "<message xmlns='jabber:client' from='a@example.org/x' type='chat' id='m{n}'>\
             <body>{n}</body>{id}</message>"
        );
        Message::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    /// The ids of the messages `held`.
    fn ids(held: &VecDeque<Message>) -> Vec<String> {
        held.iter()
            .filter_map(|m| m.id.as_ref().map(|id| id.0.clone()))
            .collect()
    }

    #[test]
    fn holding_back_while_paging_lets_go_of_what_the_archive_gives_again_past_the_limit() {
        let own = "bot@example.org";
        let mut catch_up = CatchUp {
            phase: Phase::Paging,
            ..CatchUp::default()
        };
        for n in 0..3 {
            assert!(catch_up.hold_within(live(n, n != 1), own, 3).is_none());
        }
        // Full: the archived ones go (the archive gives them again), the rest stays.
        assert!(catch_up.hold_within(live(3, true), own, 3).is_none());
        assert_eq!(ids(&catch_up.held), ["m1"]);
        assert!(catch_up.overflowed);
        assert!(catch_up.hold_within(live(4, false), own, 3).is_none());
        assert!(
            catch_up.hold_within(live(5, true), own, 3).is_none(),
            "let go"
        );
        assert!(catch_up.hold_within(live(6, false), own, 3).is_none());
        // Full of what the archive does not have: the oldest goes to the bot now.
        let now = catch_up.hold_within(live(7, false), own, 3);
        assert_eq!(now.and_then(|m| m.id).map(|id| id.0).as_deref(), Some("m1"));
        assert_eq!(ids(&catch_up.held), ["m4", "m6", "m7"]);
        assert!(catch_up.pages_on(), "the catch-up pages on");
        assert!(!catch_up.pages_on(), "once");
    }

    #[test]
    fn holding_back_while_asking_for_the_newest_id_gives_the_oldest_past_the_limit() {
        let own = "bot@example.org";
        let mut catch_up = CatchUp {
            phase: Phase::Newest,
            ..CatchUp::default()
        };
        for n in 0..2 {
            assert!(catch_up.hold_within(live(n, true), own, 2).is_none());
        }
        let now = catch_up.hold_within(live(2, true), own, 2);
        assert_eq!(now.and_then(|m| m.id).map(|id| id.0).as_deref(), Some("m0"));
        assert_eq!(ids(&catch_up.held), ["m1", "m2"]);
        assert!(!catch_up.pages_on());
        // While asking whether there is an archive, nothing is let go or given early.
        catch_up.phase = Phase::Discovering("d".into());
        assert!(catch_up.hold_within(live(3, true), own, 2).is_none());
        assert_eq!(ids(&catch_up.held), ["m1", "m2", "m3"]);
    }

    #[test]
    fn a_query_filters_by_address_and_pages() {
        let set = SetQuery {
            max: Some(10),
            after: None,
            before: Some(String::new()),
            index: None,
        };
        let iq = query("q1", Some(&Jid::new("alice@example.org").unwrap()), set);
        let xml = String::from(&Element::from(iq));
        assert!(xml.contains("queryid='q1'"), "{xml}");
        assert!(xml.contains("<value>alice@example.org</value>"), "{xml}");
        assert!(xml.contains("<max>10</max>"), "{xml}");
    }

    #[test]
    fn results_are_matched_to_their_query() {
        let xml = "<message xmlns='jabber:client' to='bot@example.org'>\
            <result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'>\
            <forwarded xmlns='urn:xmpp:forward:0'>\
            <delay xmlns='urn:xmpp:delay' stamp='2026-01-01T10:00:00Z'/>\
            <message xmlns='jabber:client' from='alice@example.org/x' to='bot@example.org' type='chat'>\
            <body>old</body></message></forwarded></result></message>";
        let message = Message::try_from(xml.parse::<Element>().unwrap()).unwrap();
        assert_eq!(result_query_id(&message), Some("q1"));
        assert!(result_for(&message, "q2").is_none());
        let archived = result_for(&message, "q1").unwrap().unwrap();
        assert_eq!(archived.archive_id, "A1");
        assert!(archived.delay.is_some());
        assert_eq!(
            archived
                .message
                .get_best_body(vec![])
                .map(|(_, b)| b.as_str()),
            Some("old")
        );
    }
}
