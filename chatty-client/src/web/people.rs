//! The people of a web window: the hub the server shares, each person the tabs attach to, and
//! each person's loop over inbound signals and its tabs' commands.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chatty_core::driver::lock;
use chatty_core::session::Session;
use chatty_core::{
    Address, AddressKind, Body, Bot, BotError, Content, File, Handle, Inbound, Router, Signal,
    SignalId,
};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::client::{Flow, TICK, perform};
use crate::state::{Action, ChatState};

use super::hosts::Hosts;
use super::limits::MAX_PEOPLE;
use super::options::Token;
use super::view::view;
use std::time::Duration;

/// Makes the session of a guest: called with the name a tab asked for (or was given), it returns
/// the session that serves that person, or why there is none.
pub(super) type GuestSessions = Arc<dyn Fn(&str) -> Result<Arc<dyn Session>, String> + Send + Sync>;

/// What the server shares: the token, the people and the stop signal.
pub(super) struct Hub {
    pub(super) token: Option<Token>,
    /// The host names the window answers to.
    pub(super) hosts: Hosts,
    /// The URL to open (without the token), for the messages of refused requests.
    pub(super) url: String,
    pub(super) people: Mutex<Vec<Arc<Person>>>,
    /// The `people` message every tab gets when it changes.
    pub(super) roster: watch::Sender<Arc<str>>,
    pub(super) guests: Option<GuestSessions>,
    /// The state a guest starts with (the conversation with the bot open).
    pub(super) template: ChatState,
    pub(super) next_guest: AtomicUsize,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) guest_runs: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// How long a guest stays without a tab before it leaves.
    pub(super) guest_idle: Duration,
}

/// One person of the window, as the tabs attached to it see it.
pub(super) struct Person {
    /// The name tabs pick it by (`?as=NAME`): a guest's name, or the first person's own id once
    /// its session has started.
    pub(super) name: Mutex<String>,
    pub(super) own: Mutex<Option<Address>>,
    pub(super) main: bool,
    pub(super) commands: mpsc::Sender<Command>,
    /// The latest `view` message.
    pub(super) view: watch::Sender<Arc<str>>,
    pub(super) tabs: AtomicUsize,
    /// Ends a guest's run (a guest no tab has shown for a while).
    pub(super) stop: watch::Sender<bool>,
}

impl Person {
    pub(super) fn new(name: String, main: bool) -> (Arc<Person>, mpsc::Receiver<Command>) {
        let (commands, receiver) = mpsc::channel(64);
        let (view, _) = watch::channel(Arc::<str>::from(""));
        let person = Arc::new(Person {
            name: Mutex::new(name),
            own: Mutex::new(None),
            main,
            commands,
            view,
            tabs: AtomicUsize::new(0),
            stop: watch::channel(false).0,
        });
        (person, receiver)
    }

    pub(super) fn name(&self) -> String {
        lock(&self.name).clone()
    }

    pub(super) fn answers_to(&self, wanted: &str) -> bool {
        if *lock(&self.name) == wanted {
            return true;
        }
        lock(&self.own)
            .as_ref()
            .is_some_and(|own| own.id() == wanted || own.to_string() == wanted)
    }
}

/// What a tab (or an upload or download request) asks of its person's loop.
pub(super) enum Command {
    /// A line of the input box, submitted: a message or a command.
    Line(String),
    /// The input box now holds this text (typing notifications follow from it).
    Input(String),
    /// Show the conversation with this address.
    Open(String),
    /// Answer the question asked by the message `question` with its option `value`.
    Choose { question: String, value: String },
    /// Send an uploaded file to `to` (the current conversation if `None`).
    Upload {
        to: Option<String>,
        file: File,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The bytes of file `number` of conversation `conversation` (downloaded first when the file
    /// is a URL).
    Download {
        conversation: String,
        number: usize,
        reply: oneshot::Sender<Result<File, String>>,
    },
}

impl Hub {
    pub(super) fn add_person(
        &self,
        name: String,
        main: bool,
    ) -> (Arc<Person>, mpsc::Receiver<Command>) {
        let (person, commands) = Person::new(name, main);
        lock(&self.people).push(person.clone());
        self.publish_roster();
        (person, commands)
    }

    pub(super) fn remove(&self, person: &Arc<Person>) {
        lock(&self.people).retain(|p| !Arc::ptr_eq(p, person));
        self.publish_roster();
    }

    pub(super) fn publish_roster(&self) {
        let people: Vec<Value> = lock(&self.people)
            .iter()
            .map(|p| {
                json!({
                    "name": p.name(),
                    "address": lock(&p.own)
                        .as_ref()
                        .map(|a| a.with_kind(AddressKind::Unknown).to_string()),
                })
            })
            .collect();
        let message = json!({
            "type": "people",
            "people": people,
            "guests": self.guests.is_some(),
        });
        self.roster.send_replace(message.to_string().into());
    }

    /// The person a new tab is attached to, counted as attached (so that two tabs opening at
    /// once are not both given the first person).
    pub(super) fn pick(self: &Arc<Self>, wanted: Option<&str>) -> Result<Attached, String> {
        let mut people = lock(&self.people);
        let person = self.choose(&mut people, wanted)?;
        person.tabs.fetch_add(1, Ordering::SeqCst);
        Ok(Attached(person, self.clone()))
    }

    pub(super) fn choose(
        self: &Arc<Self>,
        people: &mut MutexGuard<'_, Vec<Arc<Person>>>,
        wanted: Option<&str>,
    ) -> Result<Arc<Person>, String> {
        if let Some(wanted) = wanted {
            if let Some(person) = people.iter().find(|p| p.answers_to(wanted)) {
                return Ok(person.clone());
            }
            check_name(wanted)?;
            // Until the first person's session has started, its name is not known: a tab asking
            // for a name then must not make a guest who might be that person.
            if people.iter().any(|p| p.main && lock(&p.own).is_none()) {
                return Err(format!(
                    "the window's session has not started yet: {wanted} cannot be picked yet"
                ));
            }
            if self.guests.is_none() {
                let names: Vec<String> = people.iter().map(|p| p.name()).collect();
                return Err(format!(
                    "no person {wanted} here (this window serves {})",
                    names.join(", ")
                ));
            }
            return self.start_guest(people, wanted.to_owned());
        }
        let main = people.iter().find(|p| p.main).cloned();
        match main {
            Some(main) if main.tabs.load(Ordering::SeqCst) == 0 || self.guests.is_none() => {
                Ok(main)
            }
            _ if self.guests.is_some() => {
                // A new guest: never a guest of a closed tab, whose conversations are its own
                // (a reload asks for its person by name).
                let name = loop {
                    let n = self.next_guest.fetch_add(1, Ordering::SeqCst);
                    let name = format!("guest-{n}");
                    if !people.iter().any(|p| p.answers_to(&name)) {
                        break name;
                    }
                };
                self.start_guest(people, name)
            }
            Some(main) => Ok(main),
            None => Err("the window is closing".into()),
        }
    }

    /// Starts a guest called `name` (the people are locked by the caller).
    pub(super) fn start_guest(
        self: &Arc<Self>,
        people: &mut MutexGuard<'_, Vec<Arc<Person>>>,
        name: String,
    ) -> Result<Arc<Person>, String> {
        let Some(sessions) = &self.guests else {
            return Err("this window has no guests".into());
        };
        if *self.shutdown.borrow() {
            return Err("the window is closing".into());
        }
        if people.len() >= MAX_PEOPLE {
            return Err(format!("this window serves {MAX_PEOPLE} people already"));
        }
        let session = sessions(&name)?;
        let (person, receiver) = Person::new(name, false);
        people.push(person.clone());
        let bot = PersonLoop {
            state: self.template.clone(),
            person: person.clone(),
            commands: receiver,
            hub: self.clone(),
        };
        let hub = self.clone();
        let gone = person.clone();
        let mut shutdown = self.shutdown.subscribe();
        let mut idle = person.stop.subscribe();
        let run = tokio::spawn(async move {
            let stop = async move {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => {}
                    _ = idle.wait_for(|stop| *stop) => {}
                }
            };
            let result = Router::new()
                .shared_session(session)
                .run_until(bot, stop)
                .await;
            if let Err(e) = result {
                tracing::warn!("a guest of the web window stopped: {e}");
            }
            hub.remove(&gone);
        });
        let mut runs = lock(&self.guest_runs);
        runs.retain(|r| !r.is_finished());
        runs.push(run);
        // The caller publishes the roster once the people are unlocked.
        Ok(person)
    }
}

/// Checks a person's name asked for by a tab.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a name: 1 to 32 letters, digits, -, _ or ."
        ))
    }
}

/// The lines `/help` shows in the web window: what works in the page (not the terminal's keys).
const WEB_HELP: &[&str] = &[
    "Type a message and press Enter (or send) to send it to the current conversation.",
    "/to ADDRESS   talk to ADDRESS (direct:bot, or just bot on your own platform); or click a conversation in the list, or type an address in the box under it",
    "/join ROOM   join a room;  /leave [ROOM]   leave it",
    "/status AVAILABILITY [MESSAGE]   available, chat, away, xa, busy or offline; or the status selector at the top",
    "A question's options are buttons: a click answers it (typing its number or label does too)",
    "Files: the file button under the input sends one; the name of a file in the conversation is its download link",
    "Any other /command goes to the conversation as it is (a bot's /time, /whoami); a line starting with // sends the rest with one / (//help sends /help to the bot)",
    "/help   this help;  /quit   closes the window (for every tab)",
    "On a narrow screen the ☰ button shows and hides the conversations; the box at the top makes this tab someone else (when the window has guests)",
];

/// One person's loop: inbound signals, commands from its tabs and the clock, as the terminal
/// window's loop does with keys.
pub(super) struct PersonLoop {
    pub(super) state: ChatState,
    pub(super) person: Arc<Person>,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) hub: Arc<Hub>,
}

impl Bot for PersonLoop {
    async fn run(mut self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        self.publish();
        loop {
            let actions = tokio::select! {
                signal = inbound.next() => match signal {
                    Some(signal) => self.apply(signal),
                    None => {
                        self.state.info("every session has ended");
                        break;
                    }
                },
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command, &handle).await,
                    None => break,
                },
                _ = tick.tick() => self.state.tick(Instant::now()),
            };
            for action in actions {
                if self.perform(&handle, action).await == Flow::Quit {
                    self.publish();
                    return Ok(());
                }
            }
            self.publish();
        }
        self.publish();
        Ok(())
    }
}

impl PersonLoop {
    pub(super) fn apply(&mut self, signal: Signal) -> Vec<Action> {
        let started = matches!(signal.body, Body::SessionStarted(_));
        let actions = self.state.apply(&signal);
        if started {
            let own = self.state.own_address().cloned();
            if self.person.main
                && let Some(own) = &own
            {
                *lock(&self.person.name) = own.id().to_owned();
            }
            *lock(&self.person.own) = own;
            self.hub.publish_roster();
        }
        actions
    }

    pub(super) async fn command(&mut self, command: Command, handle: &Handle) -> Vec<Action> {
        match command {
            Command::Line(line) => {
                let word = line.split_whitespace().next().unwrap_or("");
                match word {
                    "/help" => {
                        for help in WEB_HELP {
                            self.state.info(*help);
                        }
                        self.state.set_input("")
                    }
                    "/send" => {
                        self.state.error(
                            "the web window sends files by upload: use the file button below",
                        );
                        self.state.set_input("")
                    }
                    "/save" => {
                        self.state
                            .error("the web window saves files by their download links");
                        self.state.set_input("")
                    }
                    _ => self.state.submit_line(&line),
                }
            }
            Command::Input(text) => self.state.set_input(&text),
            Command::Choose { question, value } => {
                self.state.choose(&SignalId::from(question), &value)
            }
            Command::Open(address) => {
                match self.state.parse_address(&address) {
                    Ok(address) => {
                        self.state.open(address);
                    }
                    Err(e) => self.state.error(format!("cannot open {address}: {e}")),
                }
                Vec::new()
            }
            Command::Upload { to, file, reply } => {
                let to = match to {
                    Some(to) => self.state.parse_address(&to).map_err(|e| e.to_string()),
                    None => self
                        .state
                        .current()
                        .map(|c| c.address().clone())
                        .ok_or_else(|| "no conversation to send to".to_owned()),
                };
                match to {
                    Ok(to) => {
                        let signal = self.state.file_sent(&to, file);
                        let id = signal.meta.id.clone();
                        match handle.send(signal).await {
                            Ok(_) => {
                                let _ = reply.send(Ok(()));
                            }
                            Err(e) => {
                                self.state.refused(&id, &e);
                                let _ = reply.send(Err(e.to_string()));
                            }
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
                Vec::new()
            }
            Command::Download {
                conversation,
                number,
                reply,
            } => {
                self.download(&conversation, number, reply, handle).await;
                Vec::new()
            }
        }
    }

    pub(super) async fn download(
        &mut self,
        conversation: &str,
        number: usize,
        reply: oneshot::Sender<Result<File, String>>,
        handle: &Handle,
    ) {
        let file = self
            .state
            .parse_address(conversation)
            .ok()
            .and_then(|a| self.state.conversation(&a))
            .and_then(|c| number.checked_sub(1).and_then(|i| c.files().get(i)))
            .cloned();
        let Some(file) = file else {
            let _ = reply.send(Err(format!("no file {number} in {conversation}")));
            return;
        };
        if let Content::Bytes { .. } = file.content {
            let _ = reply.send(Ok(file));
            return;
        }
        // A call on a task of its own, so that the person's loop goes on while it lasts; the
        // HTTP request waits for the reply.
        let own = self.state.own_address().cloned();
        let handle = handle.clone();
        tokio::spawn(async move {
            let fetched = match &own {
                Some(own) => handle.download_via(&file, own).await,
                None => handle.download(&file).await,
            };
            let _ = reply.send(fetched.map_err(|e| e.to_string()));
        });
    }

    pub(super) async fn perform(&mut self, handle: &Handle, action: Action) -> Flow {
        match action {
            // A tab never reads or writes the server's disk.
            Action::SendFile { .. } => {
                self.state
                    .error("the web window sends files by upload: use the file button below");
                Flow::Continue
            }
            Action::SaveFile { .. } => {
                self.state
                    .error("the web window saves files by their download links");
                Flow::Continue
            }
            action => perform(&mut self.state, handle, action).await,
        }
    }

    pub(super) fn publish(&mut self) {
        let view: Arc<str> = view(&self.state, &self.person.name()).into();
        self.person.view.send_if_modified(|old| {
            if *old == view {
                false
            } else {
                *old = view.clone();
                true
            }
        });
    }
}

/// Counts a tab attached to a person while it lives.
pub(super) struct Attached(pub(super) Arc<Person>, Arc<Hub>);

impl Drop for Attached {
    fn drop(&mut self) {
        let left = self.0.tabs.fetch_sub(1, Ordering::SeqCst) == 1;
        if !left || self.0.main {
            return;
        }
        // A guest's last tab closed: unless a tab (a reload) asks for it again in time, it
        // leaves, and its conversations with it.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (person, hub) = (self.0.clone(), self.1.clone());
        runtime.spawn(async move {
            tokio::time::sleep(hub.guest_idle).await;
            {
                // Under the lock a tab picking this person cannot attach meanwhile.
                let mut people = lock(&hub.people);
                if person.tabs.load(Ordering::SeqCst) > 0 {
                    return;
                }
                people.retain(|p| !Arc::ptr_eq(p, &person));
            }
            hub.publish_roster();
            person.stop.send_replace(true);
        });
    }
}
