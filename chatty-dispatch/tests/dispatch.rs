//! The dispatcher end to end, on an in-process network: commands, order per conversation,
//! state, questions, timers, middleware.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chatty_core::state::{MemoryStore, State};
use chatty_core::{Body, Chosen, Message, Signal};
use chatty_direct::Harness;
use chatty_dispatch::prelude::*;
use chatty_dispatch::{ConversationTimers, HandlerService};
use serde::{Deserialize, Serialize};
use tower::ServiceExt as _;

/// Tickets for the support desk.
#[derive(clap::Parser, Debug)]
#[command(name = "ticket")]
enum Ticket {
    /// Opens a ticket.
    Open {
        /// What is wrong.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Lists your tickets.
    List,
    /// Closes a ticket.
    Close {
        /// Its number.
        n: u32,
    },
}

async fn ticket(Command(cmd): Command<Ticket>, person: PersonState) -> Result<String, BotError> {
    Ok(match cmd {
        Ticket::Open { text } => {
            let n = person
                .update("tickets", |t: &mut Vec<String>| {
                    t.push(text.join(" "));
                    t.len()
                })
                .await?;
            format!("opened #{n}: {}", text.join(" "))
        }
        Ticket::List => person
            .get_or_default::<Vec<String>>("tickets")
            .await?
            .join("; "),
        Ticket::Close { n } => format!("closed #{n}"),
    })
}

async fn text_of(harness: &Harness) -> String {
    harness.expect_message().await.1.text
}

#[tokio::test]
async fn commands_are_typed_with_errors_help_and_state_per_person() {
    let bot = Dispatcher::new().command::<Ticket>().to(ticket);
    let harness = Harness::start(bot).await;
    harness.say("!ticket open printer's on  fire").await;
    assert_eq!(text_of(&harness).await, "opened #1: printer's on fire");
    harness.say("!ticket open -x no paper").await;
    assert_eq!(text_of(&harness).await, "opened #2: -x no paper");
    harness.say("!ticket list").await;
    assert_eq!(text_of(&harness).await, "printer's on fire; -x no paper");

    let error = {
        harness.say("!ticket close seven").await;
        text_of(&harness).await
    };
    assert!(error.contains("invalid value 'seven'"), "{error}");
    assert!(error.contains("Usage: !ticket close <N>"), "{error}");
    assert!(error.contains("'!ticket close --help'"), "{error}");

    harness.say("!help").await;
    let help = text_of(&harness).await;
    assert!(
        help.contains("!ticket  Tickets for the support desk"),
        "{help}"
    );
    harness.say("!help ticket").await;
    let help = text_of(&harness).await;
    assert!(help.contains("Opens a ticket"), "{help}");
    harness.say("!tickets").await;
    let unknown = text_of(&harness).await;
    assert!(
        unknown.starts_with("Unknown command `!tickets`"),
        "{unknown}"
    );
    assert!(unknown.contains("!ticket, !help"), "{unknown}");

    // Another person has tickets of her own.
    let bob = harness.person("bob").await;
    bob.say(harness.bot(), "!ticket list").await;
    assert_eq!(bob.expect_message().await.1.text, "");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn people_named_by_the_dispatcher_have_one_state_across_their_addresses() {
    // The tester and "tester2" are one person, Ann; Bob is himself.
    let bot = Dispatcher::new()
        .command::<Ticket>()
        .to(ticket)
        .people(|address| address.id().starts_with("tester").then(|| "ann".to_owned()));
    let harness = Harness::start(bot).await;
    harness.say("!ticket open printer").await;
    assert_eq!(text_of(&harness).await, "opened #1: printer");
    let other_account = harness.person("tester2").await;
    other_account.say(harness.bot(), "!ticket list").await;
    assert_eq!(other_account.expect_message().await.1.text, "printer");
    let bob = harness.person("bob").await;
    bob.say(harness.bot(), "!ticket list").await;
    assert_eq!(bob.expect_message().await.1.text, "");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_platforms_own_command_needs_no_prefix_and_other_text_is_a_message() {
    async fn echo(message: Message) -> String {
        format!("echo: {}", message.text)
    }
    let bot = Dispatcher::new()
        .prefix("")
        .command::<Ticket>()
        .to(ticket)
        .message(echo);
    let harness = Harness::start(bot).await;
    let mut slash = Message::text("/ticket open slash");
    slash.command = true;
    harness.send(Signal::new(slash)).await.unwrap();
    assert_eq!(text_of(&harness).await, "opened #1: slash");
    harness.say("!ticket list").await;
    assert_eq!(text_of(&harness).await, "echo: !ticket list");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn prefixes_differ_per_session_or_platform() {
    let bot = Dispatcher::new()
        .prefix("!")
        .prefix_on("direct", "bot, ")
        .command::<Ticket>()
        .to(ticket);
    let harness = Harness::start(bot).await;
    harness.say("bot, ticket open x").await;
    assert_eq!(text_of(&harness).await, "opened #1: x");
    harness.stop().await.unwrap();
}

/// A handler that takes its time for "slow", and answers at once otherwise.
async fn sometimes_slow(message: Message) -> String {
    if message.text.starts_with("slow") {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    message.text
}

#[tokio::test]
async fn a_slow_answer_holds_up_its_conversation_only() {
    let bot = Dispatcher::new().typing_after(None).message(sometimes_slow);
    let harness = Harness::start(bot).await;
    let bob = harness.person("bob").await;
    harness.say("slow 1").await;
    harness.say("fast 2").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    bob.say(harness.bot(), "fast bob").await;
    // Bob is answered while the tester's slow answer is still being worked out.
    let (_, to_bob) = tokio::time::timeout(Duration::from_millis(300), bob.expect_message())
        .await
        .expect("bob waited for the tester's slow answer");
    assert_eq!(to_bob.text, "fast bob");
    // The tester's answers come in the order of the questions.
    assert_eq!(text_of(&harness).await, "slow 1");
    assert_eq!(text_of(&harness).await, "fast 2");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn the_bot_types_while_a_slow_handler_runs() {
    let bot = Dispatcher::new()
        .typing_after(Some(Duration::from_millis(100)))
        .message(sometimes_slow);
    let harness = Harness::start(bot).await;
    harness.say("slow").await;
    let typing = harness.next().await.unwrap();
    assert!(
        matches!(&typing.body, Body::StatusChange(s) if matches!(s.status, chatty_core::Status::Typing { state: TypingState::Composing, .. })),
        "{typing:?}"
    );
    assert_eq!(text_of(&harness).await, "slow");
    harness.stop().await.unwrap();
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Priority {
    Low,
    High,
}

async fn ask(message: Message) -> Message {
    question(
        format!("priority/{}", message.text),
        "How urgent?",
        [(Priority::Low, "Low"), (Priority::High, "High")],
    )
}

async fn picked(answer: Picked<Priority>) -> String {
    format!("{:?} for {}", answer.value, answer.tag().unwrap_or("?"))
}

#[tokio::test]
async fn a_question_is_answered_by_text_or_by_the_platforms_mark() {
    let bot = Dispatcher::new().message(ask).choice("priority", picked);
    let harness = Harness::start(bot).await;
    harness.say("t1").await;
    let (_, question) = harness.expect_message().await;
    let choice = question.choice.expect("the question's options");
    assert_eq!(choice.id, "priority/t1");
    assert_eq!(choice.options.len(), 2);
    // On a platform without buttons the person types the number.
    harness.say("2").await;
    assert_eq!(text_of(&harness).await, "High for t1");
    // Answered: "2" is a message again, which asks again.
    harness.say("2").await;
    let (_, again) = harness.expect_message().await;
    assert_eq!(again.choice.unwrap().id, "priority/2");
    // A click (the platform marks the message) answers too.
    let mut click = Message::text("Low");
    click.chosen = Some(Chosen::new("priority/2", "low"));
    harness.send(Signal::new(click)).await.unwrap();
    assert_eq!(text_of(&harness).await, "Low for 2");
    harness.stop().await.unwrap();
}

async fn remind_me(message: Message, timers: ConversationTimers) -> Result<&'static str, BotError> {
    let ms: u64 = message.text.parse()?;
    timers
        .after(Duration::from_millis(ms), "remind", &message.text)
        .await?;
    Ok("later")
}

async fn reminder(Fired(what): Fired<String>) -> String {
    format!("reminder: {what}")
}

#[tokio::test]
async fn a_timer_answers_in_its_conversation_and_survives_a_restart() {
    let state = State::new(MemoryStore::new(), "desk");
    let bot = || {
        Dispatcher::new()
            .state(state.clone())
            .message(remind_me)
            .timer("remind", reminder)
    };
    let harness = Harness::start(bot()).await;
    harness.say("50").await;
    assert_eq!(text_of(&harness).await, "later");
    assert_eq!(text_of(&harness).await, "reminder: 50");
    // Set, then the bot stops before it is due: the next run fires it.
    harness.say("300").await;
    assert_eq!(text_of(&harness).await, "later");
    harness.stop().await.unwrap();
    assert_eq!(state.keys("dispatch/timer/").await.unwrap().len(), 1);
    let harness = Harness::start(bot()).await;
    assert_eq!(text_of(&harness).await, "reminder: 300");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(state.keys("dispatch/timer/").await.unwrap().is_empty());
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_or_panicking_handler_does_not_stop_the_bot() {
    async fn fragile(message: Message) -> Result<String, BotError> {
        match message.text.as_str() {
            "panic" => panic!("asked to"),
            "fail" => Err("asked to".into()),
            other => Ok(other.to_owned()),
        }
    }
    let harness = Harness::start(Dispatcher::new().message(fragile)).await;
    harness.say("panic").await;
    harness.say("fail").await;
    harness.say("fine").await;
    assert_eq!(text_of(&harness).await, "fine");
    harness.stop().await.unwrap();

    // With an error handler, the person is told.
    let bot = Dispatcher::new()
        .message(fragile)
        .on_error(|cx, error| async move {
            cx.reply(format!("sorry: {error}")).await?;
            Ok(())
        });
    let harness = Harness::start(bot).await;
    harness.say("fail").await;
    assert_eq!(text_of(&harness).await, "sorry: asked to");
    harness.say("panic").await;
    assert_eq!(
        text_of(&harness).await,
        "sorry: the handler panicked: asked to"
    );
    harness.stop().await.unwrap();
}

/// Counts the handler calls.
#[derive(Clone)]
struct Count(Arc<AtomicUsize>);

impl tower::Layer<HandlerService> for Count {
    type Service = HandlerService;
    fn layer(&self, inner: HandlerService) -> HandlerService {
        let count = self.0.clone();
        HandlerService::new(tower::service_fn(move |cx: Context| {
            count.fetch_add(1, Ordering::SeqCst);
            inner.clone().oneshot(cx)
        }))
    }
}

#[tokio::test]
async fn middleware_sees_every_handler_call() {
    let calls = Arc::new(AtomicUsize::new(0));
    let bot = Dispatcher::new()
        .layer(Count(calls.clone()))
        .message(|m: Message| async move { m.text });
    let harness = Harness::start(bot).await;
    harness.say("a").await;
    harness.say("b").await;
    text_of(&harness).await;
    text_of(&harness).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn settings_reach_handlers() {
    struct Greeting(String);
    async fn greet(settings: Settings<Greeting>, Origin(from): Origin) -> String {
        format!("{} {}", settings.0.0, from.id())
    }
    let bot = Dispatcher::new()
        .settings(Greeting("hello".into()))
        .message(greet);
    let harness = Harness::start(bot).await;
    harness.say("hi").await;
    assert_eq!(text_of(&harness).await, "hello tester");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_schedule_fires_on_time_and_a_missed_firing_happens_at_start() {
    let state = State::new(MemoryStore::new(), "desk");
    let fired = Arc::new(AtomicUsize::new(0));
    let bot = |fired: Arc<AtomicUsize>| {
        Dispatcher::new()
            .state(state.clone())
            .every(
                "* * * * * *",
                "tick",
                move |Fired(at): Fired<serde_json::Value>| {
                    let fired = fired.clone();
                    async move {
                        assert!(at["at_ms"].as_i64().is_some(), "{at}");
                        fired.fetch_add(1, Ordering::SeqCst);
                    }
                },
            )
            .unwrap()
    };
    let harness = Harness::start(bot(fired.clone())).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let first = fired.load(Ordering::SeqCst);
    assert!((1..=3).contains(&first), "fired {first} times in 2.3 s");
    harness.stop().await.unwrap();
    // Down for more than a second: the first run's last firing is kept, and one missed
    // firing happens as soon as the bot starts again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = Arc::new(AtomicUsize::new(0));
    let harness = Harness::start(bot(again.clone())).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(again.load(Ordering::SeqCst) >= 1, "the missed firing");
    harness.stop().await.unwrap();
}

#[test]
fn a_bad_schedule_is_an_error_naming_it() {
    let e = Dispatcher::new()
        .every("61 * * * *", "tick", || async {})
        .unwrap_err();
    assert!(e.to_string().contains("`61 * * * *`"), "{e}");
}

#[tokio::test]
async fn help_is_html_too_where_the_conversation_shows_html() {
    let harness = Harness::start(Dispatcher::new().command::<Ticket>().to(ticket)).await;
    harness.say("!ticket list --help").await;
    let (_, help) = harness.expect_message().await;
    assert!(help.text.contains("Usage: !ticket list"), "{}", help.text);
    let html = help.html.expect("the direct connection shows HTML");
    assert!(
        html.starts_with("<pre>") && html.contains("Usage: !ticket list"),
        "{html}"
    );
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn reply_all_keeps_the_other_addressees_as_copies() {
    async fn all(cx: Context) -> Result<(), BotError> {
        cx.reply_all(Message::text("to all")).await?;
        Ok(())
    }
    let harness = Harness::start(Dispatcher::new().message(all)).await;
    let carol: chatty_core::Address = "direct:carol".parse().unwrap();
    harness
        .send(
            Signal::message("hi")
                .to(harness.bot().clone())
                .visible_to(carol.clone()),
        )
        .await
        .unwrap();
    let (answer, _) = harness.expect_message().await;
    assert!(answer.meta.visible_to.contains(&carol), "{answer:?}");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn files_status_user_defined_and_internal_signals_reach_their_handlers() {
    use chatty_core::{Availability, File, Status, StatusChange, UserDefined};
    use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

    type Seen = Settings<UnboundedSender<String>>;
    async fn file(f: File, seen: Seen) {
        seen.send(format!("file {}", f.name)).unwrap();
    }
    async fn status(s: StatusChange, seen: Seen) {
        seen.send(format!("status {:?}", s.status)).unwrap();
    }
    async fn stats(Payload(n): Payload<u32>, seen: Seen) {
        seen.send(format!("stats {n}")).unwrap();
    }
    async fn other(signal: Signal, seen: Seen) {
        if let Body::UserDefined(u) = &signal.body {
            seen.send(format!("other {}", u.name)).unwrap();
        }
    }
    async fn internal(signal: Signal, seen: Seen) {
        seen.send(format!("internal {:?}", signal.kind())).unwrap();
    }
    let (tx, mut rx) = unbounded_channel::<String>();
    let bot = Dispatcher::new()
        .settings(tx)
        .file(file)
        .status(status)
        .user_defined("stats", stats)
        .any_user_defined(other)
        .internal(internal);
    let harness = Harness::start(bot).await;
    assert_eq!(rx.recv().await.unwrap(), "internal SessionStarted");
    harness
        .send(Signal::new(File::bytes("a.txt", None, &b"x"[..])))
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap(), "file a.txt");
    let away = Status::Presence {
        availability: Availability::Away,
    };
    harness
        .send(Signal::new(StatusChange::new(away)))
        .await
        .unwrap();
    assert_eq!(
        rx.recv().await.unwrap(),
        "status Presence { availability: Away }"
    );
    harness
        .send(Signal::new(UserDefined::new("stats", &7u32).unwrap()))
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap(), "stats 7");
    harness
        .send(Signal::new(UserDefined::new("ping", &()).unwrap()))
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap(), "other ping");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_for_a_kind_comes_before_the_others_and_a_skipped_argument_skips_the_call() {
    async fn any_message(signal: Signal) -> String {
        format!("kind {:?}", signal.kind())
    }
    async fn needs_a_file(_: chatty_core::File) -> &'static str {
        "never"
    }
    let bot = Dispatcher::new()
        .on(chatty_core::SignalKind::Message, any_message)
        .command::<Ticket>()
        .to(needs_a_file);
    let harness = Harness::start(bot).await;
    harness.say("!ticket list").await;
    assert_eq!(text_of(&harness).await, "kind Message");
    let bot = Dispatcher::new().command::<Ticket>().to(needs_a_file);
    let harness2 = Harness::start(bot).await;
    harness2.say("!ticket list").await;
    harness2.say("!nope").await;
    // The handler was skipped (its argument is not in a message): the next answer is the
    // unknown command's.
    assert!(text_of(&harness2).await.starts_with("Unknown command"));
    harness.stop().await.unwrap();
    harness2.stop().await.unwrap();
}

#[tokio::test]
async fn what_a_machine_sent_is_not_answered_unless_asked_for() {
    async fn echo(message: Message) -> String {
        message.text
    }
    let out_of_office = || {
        let mut s = Signal::message("!nope I am away");
        s.meta.automatic = Some(chatty_core::Automatic::Replied);
        s
    };
    let harness = Harness::start(
        Dispatcher::new()
            .command::<Ticket>()
            .to(ticket)
            .message(echo),
    )
    .await;
    harness.send(out_of_office()).await.unwrap();
    let mut away = Signal::message("away");
    away.meta.automatic = Some(chatty_core::Automatic::Replied);
    harness.send(away).await.unwrap();
    harness.say("a person").await;
    // Neither the unknown command's answer nor the echo of the machine's message.
    assert_eq!(text_of(&harness).await, "a person");
    harness.stop().await.unwrap();

    let harness = Harness::start(Dispatcher::new().automatic(true).message(echo)).await;
    let mut away = Signal::message("away");
    away.meta.automatic = Some(chatty_core::Automatic::Replied);
    harness.send(away).await.unwrap();
    assert_eq!(text_of(&harness).await, "away");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_command_is_its_first_line_so_a_mails_signature_is_not_an_argument() {
    let harness = Harness::start(Dispatcher::new().command::<Ticket>().to(ticket)).await;
    harness
        .say("\n!ticket open printer on fire\n\n-- \nBob, room 12\n> quoted")
        .await;
    assert_eq!(text_of(&harness).await, "opened #1: printer on fire");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_reply_may_be_plain_text() {
    async fn twice(cx: Context) -> Result<(), BotError> {
        cx.reply("one").await?;
        cx.reply(String::from("two")).await?;
        Ok(())
    }
    let harness = Harness::start(Dispatcher::new().message(twice)).await;
    harness.say("go").await;
    assert_eq!(text_of(&harness).await, "one");
    assert_eq!(text_of(&harness).await, "two");
    harness.stop().await.unwrap();
}

/// The next message `person` gets from the bot (passing over the room's other messages).
async fn from_bot(person: &chatty_direct::Person, bot: &chatty_core::Address) -> Message {
    loop {
        let (signal, message) = person.expect_message().await;
        if signal.meta.origin.as_ref() == Some(bot) {
            return message;
        }
    }
}

#[tokio::test]
async fn in_a_room_only_the_person_asked_answers_by_text() {
    let harness = Harness::start(Dispatcher::new().message(ask).choice("priority", picked)).await;
    let bob = harness.person("bob").await;
    let network = harness.network();
    let lobby = network.channel("lobby");
    for member in ["bot", "tester", "bob"] {
        network.join("lobby", member);
    }
    let bot = harness.bot();
    let said = |text: &str| Signal::message(text).to(lobby.clone());
    harness.tester().send(said("t7")).await.unwrap();
    let question = from_bot(&bob, bot).await;
    assert_eq!(question.choice.unwrap().id, "priority/t7");
    // Bob's "1" in the room is his own message (which asks again), not the tester's answer.
    bob.send(said("1")).await.unwrap();
    let again = from_bot(&bob, bot).await;
    assert_eq!(again.choice.unwrap().id, "priority/1");
    // Bob's own answer answers his question.
    bob.send(said("2")).await.unwrap();
    assert_eq!(from_bot(&bob, bot).await.text, "High for 1");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_state_of_its_own_wins_over_the_default_state() {
    let count = |all: BotState| async move { all.increment("n").await.map(|n| n.to_string()) };
    let mine = State::new(MemoryStore::new(), "mine");
    let given = State::new(MemoryStore::new(), "given");
    let bot = Dispatcher::new().state(mine.clone()).message(count);
    let harness = Harness::start(bot.default_state(given.clone())).await;
    harness.say("hi").await;
    assert_eq!(harness.expect_message().await.1.text, "1");
    harness.stop().await.unwrap();
    assert_eq!(mine.keys("").await.unwrap().len(), 1);
    assert!(given.keys("").await.unwrap().is_empty());

    // Without one, the dispatcher keeps its values in the default.
    let harness = Harness::start(
        Dispatcher::new()
            .message(count)
            .default_state(given.clone()),
    )
    .await;
    harness.say("hi").await;
    assert_eq!(harness.expect_message().await.1.text, "1");
    harness.stop().await.unwrap();
    assert_eq!(given.keys("").await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_handle_the_conversation_and_its_state_reach_handlers() {
    // Sends through the handle to the whole conversation, counting its messages.
    async fn count(
        handle: Handle,
        Conversation(to): Conversation,
        here: ConversationState,
    ) -> Result<(), BotError> {
        let n = here.increment("messages").await?;
        let mut said = Signal::message(format!("{n} here"));
        said.meta.addressees = to;
        handle.send(said).await?;
        Ok(())
    }
    let harness = Harness::start(Dispatcher::new().typing_after(None).message(count)).await;
    let bob = harness.person("bob").await;
    let network = harness.network();
    let lobby = network.channel("lobby");
    for member in ["bot", "tester", "bob"] {
        network.join("lobby", member);
    }
    let bot = harness.bot().clone();
    // Two people in one room share its state; a one-to-one chat has its own.
    harness
        .tester()
        .send(Signal::message("a").to(lobby.clone()))
        .await
        .unwrap();
    assert_eq!(from_bot(&bob, &bot).await.text, "1 here");
    bob.send(Signal::message("b").to(lobby.clone()))
        .await
        .unwrap();
    assert_eq!(from_bot(&bob, &bot).await.text, "2 here");
    bob.say(&bot, "c").await;
    assert_eq!(from_bot(&bob, &bot).await.text, "1 here");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn at_most_the_concurrency_handlers_run_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, peak) = (running.clone(), most.clone());
    let slow = move |message: Message| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            message.text
        }
    };
    let bot = Dispatcher::new()
        .typing_after(None)
        .concurrency(2)
        .message(slow);
    let harness = Harness::start(bot).await;
    let mut people = Vec::new();
    for name in ["p1", "p2", "p3", "p4", "p5"] {
        people.push(harness.person(name).await);
    }
    for person in &people {
        person.say(harness.bot(), "hi").await;
    }
    // Every conversation is answered, two at a time.
    for person in &people {
        assert_eq!(person.expect_message().await.1.text, "hi");
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn a_sessions_prefix_wins_over_its_platforms() {
    let bot = Dispatcher::new()
        .prefix_on("direct", "?")
        .prefix_on("office", "desk, ")
        .command::<Ticket>()
        .to(ticket);
    let network = chatty_direct::Network::named("office");
    let harness = Harness::start_on(network, "bot", bot).await;
    harness.say("?ticket open x").await;
    harness.say("desk, ticket open y").await;
    assert_eq!(text_of(&harness).await, "opened #1: y");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn help_is_plain_text_where_the_conversation_shows_no_html() {
    let harness = Harness::start(Dispatcher::new().command::<Ticket>().to(ticket)).await;
    let plain = chatty_core::Capabilities::new(
        chatty_core::Signals::all(),
        chatty_core::Features::all() - chatty_core::Features::HTML,
    );
    // Its endpoint refuses HTML: help sent with HTML would not reach it at all.
    let bob = chatty_direct::Person::join_with(harness.network(), "bob", plain).await;
    bob.say(harness.bot(), "!ticket list --help").await;
    let (_, help) = bob.expect_message().await;
    assert!(help.text.contains("Usage: !ticket list"), "{}", help.text);
    assert_eq!(help.html, None);
    harness.stop().await.unwrap();
}
