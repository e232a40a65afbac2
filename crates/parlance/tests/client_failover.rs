//! Clients survive a server's death (issue 16, item 4), with real processes: `parlance
//! serve` killed with SIGKILL while a client given two servers is in a room, and a second
//! `parlance serve` started on the same data directory at the client's second address (two
//! servers cannot share one SQLite data directory at once, so the second stands in for
//! the other node of a pool). The client must find it by itself, join again, and hand the
//! application every message posted meanwhile exactly once and in order.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, DOMAIN, DataDir, PASSWORD, chat_server, client_config, serve_at};
use parlance_client::{ChatLine, Client, ClientError, Event, Events, Reconnect};

const WAIT: Duration = Duration::from_secs(30);

/// A loopback address no one listens on now: where the second server will.
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn next_event(events: &mut Events) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the client is still there")
}

/// Messages until one reads `last`, and every other event seen on the way.
async fn messages_until(events: &mut Events, last: &str) -> (Vec<ChatLine>, Vec<Event>) {
    let (mut lines, mut others) = (Vec::new(), Vec::new());
    loop {
        match next_event(events).await {
            Event::Message(line) => {
                let done = line.text == last;
                lines.push(line);
                if done {
                    return (lines, others);
                }
            }
            other => others.push(other),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moves_to_the_other_server_when_its_server_is_killed_and_misses_nothing() {
    let data = DataDir::new("failover");
    let mut first = chat_server(&data);
    let second_address = free_address();

    let mut config = client_config(&data, &first, "alice");
    config.servers.push(second_address.to_string());
    config.reconnect = Reconnect {
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        max_attempts: None,
    };
    let (alice, mut alice_events) = Client::connect(config).await.expect("alice signs in");
    let lobby = alice.find_room("Lobby").await.unwrap().uri;
    alice.join(&lobby).await.unwrap();
    let (bob, _bob_events) = Client::connect(client_config(&data, &first, "bob"))
        .await
        .unwrap();
    bob.join(&lobby).await.unwrap();
    for text in ["before 1", "before 2"] {
        bob.post(&lobby, text).await.unwrap();
    }
    let (before, _) = messages_until(&mut alice_events, "before 2").await;
    let texts: Vec<&str> = before.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["before 1", "before 2"]);

    first.kill();
    loop {
        if let Event::Disconnected { .. } = next_event(&mut alice_events).await {
            break;
        }
    }
    // Nothing answers at either address now: a post is refused, not kept for later.
    match alice.post(&lobby, "while away").await {
        Err(ClientError::NotDelivered { room, .. }) => assert_eq!(room, "Lobby"),
        other => panic!("a post while disconnected: {other:?}"),
    }

    // The other node comes up; bob, there, keeps writing across alice's return.
    let second = serve_at(&data.0, second_address);
    drop(bob);
    let (bob, _bob_events) = Client::connect(client_config(&data, &second, "bob"))
        .await
        .expect("bob signs in to the second server");
    bob.join(&lobby).await.unwrap();
    let writer = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for i in 1..=30 {
            let text = format!("during {i}");
            bob.post(&lobby, &text).await.unwrap();
            acknowledged.push(text);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bob.post(&lobby, "last").await.unwrap();
        acknowledged.push("last".to_owned());
        (bob, lobby, acknowledged)
    });

    let (seen, others) = messages_until(&mut alice_events, "last").await;
    let (_bob, lobby, acknowledged) = writer.await.unwrap();
    let texts: Vec<&str> = seen.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts, acknowledged,
        "every acknowledged post exactly once, in order"
    );
    let ids: Vec<u64> = seen
        .iter()
        .map(|l| l.id.expect("a sequence number"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "gap-free sequence numbers: {ids:?}"
    );
    assert_eq!(
        ids.first().copied(),
        before.last().and_then(|l| l.id).map(|id| id + 1),
        "continues right after the last line seen before the kill"
    );
    assert!(seen.iter().all(|l| l.author == format!("sip:bob@{DOMAIN}")));
    let reconnected: Vec<&String> = others
        .iter()
        .filter_map(|e| match e {
            Event::Reconnected { server } => Some(server),
            _ => None,
        })
        .collect();
    assert_eq!(reconnected, [&second_address.to_string()]);
    assert!(
        others
            .iter()
            .any(|e| matches!(e, Event::Rejoined(j) if j.room.uri == lobby)),
        "{others:?}"
    );

    alice.post(&lobby, "back").await.expect("posts work again");
    let history = alice
        .history(&lobby, parlance_client::HistoryQuery::Last(100))
        .await
        .unwrap();
    let stored: Vec<&str> = history.iter().map(|l| l.text.as_str()).collect();
    assert!(
        !stored.contains(&"while away"),
        "the refused post was not stored"
    );
    assert_eq!(stored.iter().filter(|t| **t == "during 1").count(), 1);
}

/// `parlance chat --server A --server B`: with nobody at A, the client signs in at B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parlance_chat_takes_several_servers_and_signs_in_where_one_answers() {
    let data = DataDir::new("failover-cli");
    let server = chat_server(&data);
    let nobody = free_address();
    let mut chat = Command::new(BIN)
        .args(["chat", "--plain", "--room", "Lobby"])
        .args(["--server", &nobody.to_string()])
        .args(["--server", &server.tls.to_string()])
        .args(["--user", &format!("alice@{DOMAIN}"), "--ca"])
        .arg(data.cert())
        .env("PARLANCE_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(chat.stdin.take().unwrap(), "hello from the second").unwrap();
    let out = chat.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (bob, _) = Client::connect(client_config(&data, &server, "bob"))
        .await
        .unwrap();
    let lobby = bob.find_room("Lobby").await.unwrap();
    let joined = bob.join(&lobby.uri).await.unwrap();
    assert_eq!(
        joined.history.last().map(|l| l.text.as_str()),
        Some("hello from the second")
    );
}
