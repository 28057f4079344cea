//! History and presence queries against the test Synapse, with a person in the test speaking
//! plain client-server HTTP: what the person said in a room, page by page, newest first; what
//! the bot said there; the person's presence.

mod common;

use chatty_core::{Address, Answer, Availability, Message, Page, Query, Signal};
use chatty_test::servers::matrix_account;
use common::bot::{config, end, joined, run, sent, started};
use common::{Person, next_where, text};

fn texts(answer: &Answer) -> Vec<String> {
    let Answer::History(history) = answer else {
        panic!("{answer:?}")
    };
    history
        .signals
        .iter()
        .map(|s| text(s).unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_a_room_page_by_page_and_a_persons_presence() {
    let bot_account = matrix_account();
    // An account of its own, for its presence (see `fresh_account`).
    let alice = Person::register("halice").await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    let room = alice.create_room(&bot_account.user_id, false).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    for n in 1..=5 {
        alice.say(&room, &format!("said {n}")).await;
    }
    let (last, _) = next_where(&mut rx, |s| text(s) == Some("said 5")).await;
    for n in 1..=2 {
        let id = handle
            .send(last.reply_all(Message::text(format!("answer {n}"))))
            .await
            .unwrap();
        sent(&handle, &id).await;
    }
    let room_address: Address = format!("matrix:{room};kind=channel").parse().unwrap();

    // Received from the room: the person's messages, newest first, three to a page.
    let first = handle
        .query(Query::ReceivedFrom {
            address: room_address.clone(),
            page: Page::first(3),
        })
        .await
        .unwrap();
    assert_eq!(texts(&first), ["said 5", "said 4", "said 3"]);
    let Answer::History(history) = &first else {
        unreachable!()
    };
    assert_eq!(
        history.signals[0].meta.origin.as_ref().unwrap().id(),
        alice.user_id
    );
    let next = history.next.clone().expect("an older page");
    let second = handle
        .query(Query::ReceivedFrom {
            address: room_address.clone(),
            page: next,
        })
        .await
        .unwrap();
    assert_eq!(texts(&second), ["said 2", "said 1"]);
    let Answer::History(history) = &second else {
        unreachable!()
    };
    assert!(history.next.is_none(), "no older page: {:?}", history.next);

    // Sent to the room: the bot's, addressed to the room.
    let mine = handle
        .query(Query::SentTo {
            address: room_address.clone(),
            page: Page::first(10),
        })
        .await
        .unwrap();
    assert_eq!(texts(&mine), ["answer 2", "answer 1"]);
    let Answer::History(history) = &mine else {
        unreachable!()
    };
    let answer: &Signal = &history.signals[0];
    assert_eq!(answer.meta.origin.as_ref(), Some(&own));
    assert_eq!(answer.meta.addressees, [room_address]);

    // The person's presence, as the server has it.
    let lunch = format!("lunch {}", std::process::id());
    let person: Address = format!("matrix:{};kind=individual", alice.user_id)
        .parse()
        .unwrap();
    // Set, and asked, again until the server says it (see `Person::set_presence`).
    let mut said = None;
    for n in 0..100 {
        if n % 10 == 0 {
            alice.set_presence("unavailable", &lunch).await;
        }
        let status = handle
            .query(Query::Status {
                address: person.clone(),
            })
            .await
            .unwrap();
        let Answer::Status(presence) = status else {
            panic!("{status:?}")
        };
        let done = presence.availability == Availability::Away
            && presence.message.as_deref() == Some(lunch.as_str());
        said = Some(presence);
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let presence = said.unwrap();
    assert_eq!(presence.availability, Availability::Away, "{presence:?}");
    assert_eq!(presence.message.as_deref(), Some(lunch.as_str()));
    end(&handle, running).await;
}
