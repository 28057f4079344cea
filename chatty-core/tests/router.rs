//! The router's own behaviour, with scripted sessions: routing by platform and session,
//! lifecycle repair, broadcast, capability refusals and query merging.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::reexports::futures::future::BoxFuture;
use chatty_core::reexports::futures::{FutureExt, StreamExt};
use chatty_core::session::{InboundSink, Refusal, Session, SessionError};
use chatty_core::{
    Address, Answer, AnswerLimit, Availability, Body, Bot, BotError, Capabilities, DeliveryStatus,
    DownloadFile, FailureKind, Features, File, Handle, Inbound, Query, QueryError, Router,
    SendError, Signal, SignalKind, Signals, Status, StatusChange,
};
use tokio::sync::{mpsc, oneshot};

/// What a scripted session does when run.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// Starts, then ends properly when asked.
    WhenAsked,
    /// Starts, then returns without `SessionEnded`.
    Silently,
    /// Starts, then fails.
    WithError,
}

struct Scripted {
    name: String,
    platform: String,
    capabilities: Capabilities,
    ending: Ending,
    delivery: Option<DeliveryStatus>,
    sent: Arc<Mutex<Vec<Signal>>>,
    /// The URLs of the files it fetched.
    downloads: Arc<Mutex<Vec<String>>>,
    /// Pushed to the bot once the session has started.
    inbound: Vec<Signal>,
    /// The platforms it relays to ([`Session::relays`]).
    relays: Vec<String>,
    end: Mutex<Option<oneshot::Sender<()>>>,
    ended: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Scripted {
    fn new(platform: &str, name: &str) -> Self {
        let (tx, rx) = oneshot::channel();
        Scripted {
            name: name.into(),
            platform: platform.into(),
            capabilities: Capabilities::all(),
            ending: Ending::WhenAsked,
            delivery: None,
            sent: Arc::default(),
            downloads: Arc::default(),
            inbound: Vec::new(),
            relays: Vec::new(),
            end: Mutex::new(Some(tx)),
            ended: Mutex::new(Some(rx)),
        }
    }

    fn own(&self) -> Address {
        Address::with_session(&self.platform, &self.name, "me").unwrap()
    }
}

impl Session for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &str {
        &self.platform
    }

    fn capabilities(&self, _address: Option<&Address>) -> Capabilities {
        self.capabilities
    }

    fn relays(&self, address: &Address) -> bool {
        self.relays.iter().any(|p| p == address.platform())
    }

    fn run(self: Arc<Self>, inbound: InboundSink) -> BoxFuture<'static, Result<(), SessionError>> {
        async move {
            inbound.started(&self.platform, Some(self.own())).await.ok();
            for signal in &self.inbound {
                inbound.send(signal.clone()).await.ok();
            }
            match self.ending {
                Ending::Silently => return Ok(()),
                Ending::WithError => {
                    return Err(SessionError::new(&self.name, "server went away"));
                }
                Ending::WhenAsked => {}
            }
            let ended = self.ended.lock().unwrap().take();
            if let Some(ended) = ended {
                let _ = ended.await;
            }
            inbound.ending(Some(self.own()), None).await.ok();
            Ok(())
        }
        .boxed()
    }

    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
        async move {
            if matches!(signal.body, Body::InitiateSessionEnd(_)) {
                if let Some(end) = self.end.lock().unwrap().take() {
                    let _ = end.send(());
                }
                return Ok(());
            }
            if signal.meta.addressees.iter().any(|a| a.id() == "refuse") {
                return Err(Refusal::new(FailureKind::Rejected, "refused").with_code("550"));
            }
            self.sent.lock().unwrap().push(signal);
            Ok(())
        }
        .boxed()
    }

    fn download(&self, file: File) -> BoxFuture<'_, Result<File, Refusal>> {
        async move {
            let chatty_core::Content::Url { url, .. } = &file.content else {
                return Err(Refusal::new(FailureKind::Rejected, "bytes already"));
            };
            self.downloads.lock().unwrap().push(url.clone());
            Ok(File::bytes(
                file.name.clone(),
                None,
                url.as_bytes().to_vec(),
            ))
        }
        .boxed()
    }

    fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        async move {
            match (&query, &self.delivery) {
                (Query::DeliveryStatus { .. }, Some(status)) => {
                    Ok(Answer::DeliveryStatus(status.clone()))
                }
                _ => Err(QueryError::not_supported(&query, "scripted")),
            }
        }
        .boxed()
    }
}

/// A bot that forwards what it receives and hands out its handle.
struct Forward {
    handle: oneshot::Sender<Handle>,
    seen: mpsc::UnboundedSender<Signal>,
}

impl Bot for Forward {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let _ = self.handle.send(handle);
        while let Some(signal) = inbound.next().await {
            let _ = self.seen.send(signal);
        }
        Ok(())
    }
}

struct Running {
    handle: Handle,
    seen: mpsc::UnboundedReceiver<Signal>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

async fn run(sessions: Vec<Arc<dyn Session>>) -> Running {
    run_with(Router::new(), sessions).await
}

async fn run_with(router: Router, sessions: Vec<Arc<dyn Session>>) -> Running {
    let (handle_tx, handle_rx) = oneshot::channel();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = sessions
        .into_iter()
        .fold(router, |r, s| r.shared_session(s));
    let bot = Forward {
        handle: handle_tx,
        seen: seen_tx,
    };
    let task = tokio::spawn(async move {
        router
            .run_until(bot, async move {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
    });
    Running {
        handle: handle_rx.await.unwrap(),
        seen,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn next(&mut self) -> Signal {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("a signal in time")
            .expect("the bot is running")
    }

    async fn next_of(&mut self, kind: SignalKind) -> Signal {
        loop {
            let s = self.next().await;
            if s.kind() == kind {
                return s;
            }
        }
    }

    async fn finish(mut self) -> Vec<SignalKind> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut kinds = Vec::new();
        while let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(5), self.seen.recv()).await
        {
            kinds.push(s.kind());
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the run ends")
            .unwrap()
            .unwrap();
        kinds
    }
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

#[tokio::test]
async fn routes_by_platform_and_session_qualifier() {
    let work = Arc::new(Scripted::new("xmpp", "work"));
    let home = Arc::new(Scripted::new("xmpp", "home"));
    let mail = Arc::new(Scripted::new("mailto", "mailto"));
    let r = run(vec![work.clone(), home.clone(), mail.clone()]).await;
    r.handle.say(&addr("xmpp+work:a@x"), "1").await.unwrap();
    r.handle.say(&addr("xmpp+home:a@x"), "2").await.unwrap();
    r.handle.say(&addr("mailto:b@x"), "3").await.unwrap();
    assert_eq!(work.sent.lock().unwrap().len(), 1);
    assert_eq!(home.sent.lock().unwrap().len(), 1);
    assert_eq!(mail.sent.lock().unwrap().len(), 1);

    // Two xmpp sessions and no qualifier: ambiguous, an error of the send, not a guess.
    let refused = r.handle.say(&addr("xmpp:a@x"), "?").await.unwrap_err();
    assert_eq!(
        refused,
        SendError::NoRoute {
            address: addr("xmpp:a@x")
        }
    );
    // Nothing is sent when one addressee of several has no session.
    let partly = Signal::message("partly")
        .to(addr("xmpp+work:a@x"))
        .to(addr("irc:b@x"));
    assert!(matches!(
        r.handle.send(partly).await,
        Err(SendError::NoRoute { .. })
    ));
    assert_eq!(work.sent.lock().unwrap().len(), 1);

    // One signal for two sessions: each gets the addressees it serves.
    let both = Signal::message("both")
        .to(addr("xmpp+work:a@x"))
        .to(addr("mailto:b@x"));
    r.handle.send(both).await.unwrap();
    let to_work = work.sent.lock().unwrap().last().cloned().unwrap();
    let to_mail = mail.sent.lock().unwrap().last().cloned().unwrap();
    assert_eq!(to_work.meta.id, to_mail.meta.id);
    assert_eq!(to_work.meta.addressees, vec![addr("xmpp+work:a@x")]);
    assert_eq!(to_mail.meta.addressees, vec![addr("mailto:b@x")]);
    assert!(to_work.meta.sent.is_some());
    r.finish().await;
}

#[tokio::test]
async fn a_session_that_relays_carries_other_platforms_but_never_before_their_own() {
    let mut hub = Scripted::new("nats", "hub");
    hub.relays = vec!["xmpp".into(), "slack".into()];
    let hub = Arc::new(hub);
    let mail = Arc::new(Scripted::new("mailto", "mailto"));
    let r = run(vec![hub.clone(), mail.clone()]).await;
    // Addresses of the platforms it relays to, qualified by a session elsewhere or not.
    r.handle.say(&addr("xmpp:a@x"), "1").await.unwrap();
    r.handle.say(&addr("slack+acme:U1"), "2").await.unwrap();
    // A platform with a session of its own goes there, and one nobody carries has no route.
    r.handle.say(&addr("mailto:b@x"), "3").await.unwrap();
    assert_eq!(
        r.handle.say(&addr("irc:c@x"), "4").await.unwrap_err(),
        SendError::NoRoute {
            address: addr("irc:c@x")
        }
    );
    let to_hub: Vec<Vec<Address>> = hub
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.meta.addressees.clone())
        .collect();
    assert_eq!(
        to_hub,
        vec![vec![addr("xmpp:a@x")], vec![addr("slack+acme:U1")]]
    );
    assert_eq!(mail.sent.lock().unwrap().len(), 1);
    r.finish().await;

    // A local session of the platform wins over a relay.
    let mut hub = Scripted::new("nats", "hub");
    hub.relays = vec!["xmpp".into()];
    let hub = Arc::new(hub);
    let xmpp = Arc::new(Scripted::new("xmpp", "xmpp"));
    let r = run(vec![hub.clone(), xmpp.clone()]).await;
    r.handle.say(&addr("xmpp:a@x"), "local").await.unwrap();
    assert_eq!(xmpp.sent.lock().unwrap().len(), 1);
    assert!(hub.sent.lock().unwrap().is_empty());
    r.finish().await;
}

#[tokio::test]
async fn a_refusal_becomes_a_send_failure_with_the_platform_code() {
    let s = Arc::new(Scripted::new("xmpp", "xmpp"));
    let mut r = run(vec![s]).await;
    let id = r.handle.say(&addr("xmpp:refuse"), "no").await.unwrap();
    let failure = r.next_of(SignalKind::SendFailure).await;
    assert_eq!(failure.meta.response_to, Some(id.clone()));
    match failure.body {
        Body::SendFailure(f) => {
            assert_eq!(f.failed, id);
            assert_eq!(f.kind, FailureKind::Rejected);
            assert_eq!(f.code.as_deref(), Some("550"));
        }
        _ => unreachable!(),
    }
    r.finish().await;
}

#[tokio::test]
async fn own_presence_goes_to_every_session_that_carries_it() {
    let xmpp = Arc::new(Scripted::new("xmpp", "xmpp"));
    let mut mail = Scripted::new("mailto", "mailto");
    mail.capabilities = Capabilities::new(Signals::MESSAGE, Features::SUBJECT);
    let mail = Arc::new(mail);
    let r = run(vec![xmpp.clone(), mail.clone()]).await;
    let away = Signal::new(StatusChange::new(Status::Presence {
        availability: Availability::Away,
    }));
    r.handle.send(away).await.unwrap();
    assert_eq!(xmpp.sent.lock().unwrap().len(), 1);
    assert!(mail.sent.lock().unwrap().is_empty());
    // Carried by one session: sent. Carried by none: an error of the send.
    let only_mail = Arc::new({
        let mut s = Scripted::new("mailto", "mailto");
        s.capabilities = Capabilities::new(Signals::MESSAGE, Features::empty());
        s
    });
    let r2 = run(vec![only_mail]).await;
    let refused = r2
        .handle
        .send(Signal::new(StatusChange::new(Status::Presence {
            availability: Availability::Busy,
        })))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SendError::Unsupported { .. }),
        "{refused:?}"
    );
    r2.finish().await;
    let kinds = r.finish().await;
    assert!(!kinds.contains(&SignalKind::Unsupported), "{kinds:?}");
}

#[tokio::test]
async fn delivery_status_is_the_furthest_any_session_knows() {
    let mut a = Scripted::new("xmpp", "a");
    a.delivery = Some(DeliveryStatus::Sent);
    let mut b = Scripted::new("xmpp", "b");
    b.delivery = Some(DeliveryStatus::Read);
    let c = Scripted::new("mailto", "mailto");
    let r = run(vec![Arc::new(a), Arc::new(b), Arc::new(c)]).await;
    let status = r.handle.delivery_status(&"x".into()).await.unwrap();
    assert_eq!(status, DeliveryStatus::Read);
    // Supported signals and features come from the declared capabilities.
    let signals = r.handle.supported_signals(&addr("xmpp+a:z")).await.unwrap();
    assert_eq!(signals, Signals::all());
    assert!(matches!(
        r.handle.members(&addr("slack:T/C")).await,
        Err(QueryError::NoRoute { .. })
    ));
    assert!(
        r.handle
            .members(&addr("mailto:z"))
            .await
            .unwrap_err()
            .is_not_supported()
    );
    r.finish().await;
}

#[tokio::test]
async fn lifecycle_is_repaired_for_sessions_that_end_badly() {
    let mut silent = Scripted::new("xmpp", "silent");
    silent.ending = Ending::Silently;
    let mut failing = Scripted::new("xmpp", "failing");
    failing.ending = Ending::WithError;
    let mut r = run(vec![Arc::new(silent), Arc::new(failing)]).await;
    let mut kinds = Vec::new();
    // Both sessions end on their own: the run ends, and the bot's stream with it.
    while let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(5), r.seen.recv()).await {
        if let Body::SystemError(e) = &s.body {
            assert!(e.message.contains("server went away"), "{}", e.message);
        }
        kinds.push(s.kind());
    }
    let ended = kinds
        .iter()
        .filter(|k| **k == SignalKind::SessionEnded)
        .count();
    assert_eq!(ended, 2, "{kinds:?}");
    assert!(kinds.contains(&SignalKind::SystemError), "{kinds:?}");
    // The bot's sends now fail with Closed.
    assert!(r.handle.say(&addr("xmpp+silent:a"), "late").await.is_err());
}

#[tokio::test]
async fn shutdown_ends_every_session_in_order() {
    let s = Arc::new(Scripted::new("xmpp", "xmpp"));
    let mut r = run(vec![s]).await;
    assert_eq!(r.next().await.kind(), SignalKind::SessionStarted);
    let kinds = r.finish().await;
    assert_eq!(
        kinds,
        [SignalKind::SessionAboutToEnd, SignalKind::SessionEnded]
    );
}

/// Says goodbye to `to` when told its session is about to end.
struct Goodbye {
    to: Address,
}

impl Bot for Goodbye {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if matches!(signal.body, Body::SessionAboutToEnd(_)) {
                handle.say(&self.to, "goodbye").await?;
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn session_about_to_end_is_the_last_chance_to_send() {
    let session = Arc::new(Scripted::new("xmpp", "xmpp"));
    let sent = session.sent.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().shared_session(session);
    let run = tokio::spawn(router.run_until(
        Goodbye {
            to: addr("xmpp:alice@x"),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends")
        .unwrap();
    assert!(result.is_ok(), "the goodbye went through: {result:?}");
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert!(matches!(&sent[0].body, Body::Message(m) if m.text == "goodbye"));
}

#[tokio::test]
async fn a_download_goes_to_the_session_that_delivered_the_file_only() {
    let picture = File::url("p.png", Some("image/png"), "https://files.example/p.png");
    let mut xmpp = Scripted::new("xmpp", "xmpp");
    let mut delivered = Signal::new(picture.clone());
    delivered.meta.origin = Some(addr("xmpp:alice@x"));
    xmpp.inbound.push(delivered);
    let xmpp = Arc::new(xmpp);
    let slack = Arc::new(Scripted::new("slack", "slack"));
    let mut r = run(vec![slack.clone(), xmpp.clone()]).await;
    r.next_of(SignalKind::File).await;

    // As a call: the file comes back with its bytes, fetched by the session that delivered it.
    let fetched = r.handle.download(&picture).await.unwrap();
    assert!(
        matches!(&fetched.content, chatty_core::Content::Bytes { data } if &data[..] == b"https://files.example/p.png")
    );
    // As a signal (the record form): the file comes back as a file signal answering it.
    let request = Signal::new(DownloadFile::new(picture));
    let id = r.handle.send(request).await.unwrap();
    let answer = r.next_of(SignalKind::File).await;
    assert_eq!(answer.meta.response_to, Some(id));
    assert_eq!(xmpp.downloads.lock().unwrap().len(), 2);
    assert!(
        slack.downloads.lock().unwrap().is_empty(),
        "Slack must not fetch it"
    );

    // A URL no session delivered, with several that could fetch it: refused at once, and no
    // session fetches it.
    let stranger = File::url("x", None, "https://elsewhere.example/x");
    let refused = r
        .handle
        .send(Signal::new(DownloadFile::new(stranger.clone())))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SendError::Refused(f) if f.kind == FailureKind::UnknownAddressee),
        "{refused:?}"
    );
    assert!(r.handle.download(&stranger).await.is_err());
    // Unless the bot says which session to fetch it with.
    r.handle
        .download_via(&stranger, &addr("slack:U1"))
        .await
        .unwrap();
    assert_eq!(slack.downloads.lock().unwrap().len(), 1);
    assert_eq!(xmpp.downloads.lock().unwrap().len(), 2);
    r.finish().await;

    // With one session that can download, a URL it did not deliver goes to it.
    let mut only = Scripted::new("xmpp", "xmpp");
    only.capabilities = Capabilities::all();
    let only = Arc::new(only);
    let mut mail = Scripted::new("mailto", "mailto");
    mail.capabilities = Capabilities::new(Signals::MESSAGE, Features::empty());
    let r = run(vec![Arc::new(mail), only.clone()]).await;
    let elsewhere = File::url("x", None, "https://elsewhere.example/x");
    r.handle.download(&elsewhere).await.unwrap();
    assert_eq!(only.downloads.lock().unwrap().len(), 1);
    r.finish().await;
}

#[tokio::test]
async fn answers_past_the_answer_limit_are_refused() {
    let mail = Arc::new(Scripted::new("mailto", "mailto"));
    let limit = AnswerLimit::new(2, Duration::from_secs(3600));
    let router = Router::new().answer_limit("mailto", Some(limit));
    let r = run_with(router, vec![mail.clone()]).await;
    let mut question = Signal::message("are you there?");
    question.meta.origin = Some(addr("mailto:responder@x"));
    for _ in 0..2 {
        r.handle
            .send(question.reply(chatty_core::Message::text("yes")))
            .await
            .unwrap();
    }
    let third = question.reply(chatty_core::Message::text("yes"));
    match r.handle.send(third).await {
        Err(SendError::Refused(f)) => {
            assert_eq!(f.kind, FailureKind::RateLimited);
            assert_eq!(f.code.as_deref(), Some("answer-limit"));
            assert!(f.message.contains("mailto:responder@x"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mail.sent.lock().unwrap().len(), 2);
    // Someone else still gets answers, and a message that answers nothing is not counted.
    let mut other = Signal::message("hi");
    other.meta.origin = Some(addr("mailto:person@x"));
    r.handle
        .send(other.reply(chatty_core::Message::text("hello")))
        .await
        .unwrap();
    r.handle
        .say(&addr("mailto:responder@x"), "news")
        .await
        .unwrap();
    assert_eq!(mail.sent.lock().unwrap().len(), 4);
    r.finish().await;
}

#[tokio::test]
async fn the_answer_limit_is_the_sessions_own_unless_the_router_is_told_otherwise() {
    /// A session whose default is one answer per hour.
    struct Strict(Arc<Scripted>);
    impl Session for Strict {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn platform(&self) -> &str {
            self.0.platform()
        }
        fn capabilities(&self, a: Option<&Address>) -> Capabilities {
            self.0.capabilities(a)
        }
        fn run(
            self: Arc<Self>,
            inbound: InboundSink,
        ) -> BoxFuture<'static, Result<(), SessionError>> {
            self.0.clone().run(inbound)
        }
        fn send(&self, signal: Signal) -> BoxFuture<'_, Result<(), Refusal>> {
            self.0.send(signal)
        }
        fn query(&self, query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
            self.0.query(query)
        }
        fn answer_limit(&self) -> Option<AnswerLimit> {
            Some(AnswerLimit::new(1, Duration::from_secs(3600)))
        }
    }
    let mut question = Signal::message("?");
    question.meta.origin = Some(addr("mailto:responder@x"));
    for (router, expected) in [
        (Router::new(), 1),
        (Router::new().answer_limit("mailto", None), 3),
    ] {
        let strict = Arc::new(Strict(Arc::new(Scripted::new("mailto", "mailto"))));
        let r = run_with(router, vec![strict.clone()]).await;
        let mut refused = 0;
        for _ in 0..3 {
            let sent = r
                .handle
                .send(question.reply(chatty_core::Message::text("!")));
            if let Err(e) = sent.await {
                assert!(matches!(e, SendError::Refused(_)), "{e:?}");
                refused += 1;
            }
        }
        assert_eq!(strict.0.sent.lock().unwrap().len(), expected);
        assert_eq!(refused, 3 - expected);
        r.finish().await;
    }
}

#[tokio::test]
async fn two_sessions_of_one_platform_with_one_name_are_refused() {
    let router = Router::new()
        .session(Scripted::new("xmpp", "xmpp"))
        .session(Scripted::new("xmpp", "xmpp"))
        .session(Scripted::new("mailto", "xmpp"));
    let bot = chatty_core::from_fn(|_signal, _handle| async { Ok(()) });
    let error = tokio::time::timeout(Duration::from_secs(5), router.run(bot))
        .await
        .expect("refused at once")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("two xmpp sessions are named `xmpp`"),
        "{error}"
    );
}
