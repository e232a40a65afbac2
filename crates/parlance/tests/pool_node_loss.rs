//! Issue 16's node-loss test: three `parlance serve` processes form a pool on a private
//! PostgreSQL and a private nats-server; clients on every node chat while one node is
//! killed with SIGKILL. Its clients sign in again on the others, every client ends with
//! every acknowledged post exactly once, in the room's order, as history has it, and the
//! rosters every client sees converge: a member who was only on the dead node leaves them.
//! And a node stopped cleanly (SIGTERM) parts its members on the other nodes before it
//! exits, without anyone waiting for a heartbeat.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

use common::{DataDir, SERVE_ON_FREE_PORTS, Server, admin, client_config, serve_with};
use parlance_client::{
    ChatLine, Client, ClientError, Event, Events, HistoryQuery, Joined, Reconnect,
};
use parlance_testkit::{nats::Nats, postgres};

/// Posts per poster; a poster posts every `PACE`.
const POSTS: usize = 40;
const PACE: Duration = Duration::from_millis(25);
const WAIT: Duration = Duration::from_secs(60);

/// Quick heartbeats, so that a dead node is found within a second or so.
const QUICK_BEATS: &str = "heartbeat_ms = 200\nnode_timeout_ms = 1000";

/// Node `i`'s configuration: the shared store, bus and file directory, its own channel
/// URI, and the `[pool]` settings `beats`.
fn configure(data: &Path, i: usize, store: &str, bus: &str, files: &Path, beats: &str) {
    let config = format!(
        "[store]\nurl = \"{store}\"\n[bus]\nurl = \"{bus}\"\nrepair_interval_ms = 500\n\
         [chat]\nchannel_uri = \"sip:chatsrv-{i}@{domain}\"\n[files]\ndir = \"{files}\"\n\
         [pool]\n{beats}\n",
        domain = common::DOMAIN,
        files = files.display(),
    );
    std::fs::write(data.join("parlance.toml"), config).unwrap();
}

fn start(data: &DataDir) -> Server {
    let config = data.0.join("parlance.toml");
    let mut args = vec!["serve", "--config", config.to_str().unwrap()];
    args.extend(&SERVE_ON_FREE_PORTS[1..]);
    serve_with(&data.0, &args)
}

/// `n` nodes on a fresh database and a private nats-server, with `users` and a room Lobby;
/// their directories are named after the test (`name`).
struct TestPool {
    url: String,
    _nats: Nats,
    _files: DataDir,
    nodes: Vec<DataDir>,
    servers: Vec<Server>,
}

impl TestPool {
    async fn start(name: &str, n: usize, beats: &str, users: &[&str]) -> TestPool {
        let url = postgres::fresh_database().await;
        let nats = Nats::start();
        let files = DataDir::new(&format!("{name}-files"));
        let nodes: Vec<DataDir> = (0..n)
            .map(|i| DataDir::new(&format!("{name}-{i}")))
            .collect();
        for (i, data) in nodes.iter().enumerate() {
            data.use_store(&url);
            configure(&data.0, i, &url, &nats.url(), &files.0, beats);
        }
        // The first node makes the installation; the others get its key and certificate.
        let mut servers = vec![start(&nodes[0])];
        for data in &nodes[1..] {
            for file in ["server.key", "tls-cert.pem", "tls-key.pem"] {
                std::fs::copy(nodes[0].0.join(file), data.0.join(file)).unwrap();
            }
            servers.push(start(data));
        }
        for user in users {
            admin(
                &nodes[0].0,
                &["user", "add", &format!("{user}@{}", common::DOMAIN)],
            );
        }
        admin(&nodes[0].0, &["category", "add", "Eng"]);
        admin(&nodes[0].0, &["room", "add", "Lobby", "--category", "Eng"]);
        TestPool {
            url,
            _nats: nats,
            _files: files,
            nodes,
            servers,
        }
    }

    /// `user`'s client, signing in to node `home` first and knowing the others after.
    async fn client(&self, user: &str, home: usize) -> (Client, Events) {
        let mut config = client_config(&self.nodes[0], &self.servers[home], user);
        for (i, server) in self.servers.iter().enumerate() {
            if i != home {
                config.servers.push(server.tls.to_string());
            }
        }
        config.reconnect = Reconnect {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_attempts: None,
        };
        Client::connect(config).await.expect("signs in")
    }

    async fn finish(self) {
        drop(self.servers);
        postgres::drop_database(&self.url).await;
    }
}

/// What one client saw: chat lines, whether it reconnected, and the room's roster as its
/// join reply and the notices since made it.
struct View {
    lines: Vec<ChatLine>,
    reconnected: bool,
    roster: BTreeSet<String>,
}

impl View {
    fn new(joined: &Joined) -> View {
        View {
            lines: Vec::new(),
            reconnected: false,
            roster: joined.roster.iter().map(|m| m.uri.clone()).collect(),
        }
    }

    async fn next(&mut self, events: &mut Events, waiting_for: &dyn std::fmt::Debug) {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "still waiting for {waiting_for:?} after {} lines; roster {:?}",
                    self.lines.len(),
                    self.roster
                )
            })
            .expect("the client is still there");
        match event {
            Event::Message(line) => self.lines.push(line),
            Event::Reconnected { .. } => self.reconnected = true,
            Event::MemberJoined { member, .. } => {
                self.roster.insert(member.uri);
            }
            Event::MemberLeft { user, .. } => {
                self.roster.remove(&user);
            }
            Event::Rejoined(joined) => {
                self.roster = joined.roster.into_iter().map(|m| m.uri).collect();
            }
            _ => {}
        }
    }

    /// Takes the client's events until every text of `last` has been seen.
    async fn until_lines(&mut self, events: &mut Events, last: &[String]) {
        let mut missing: HashSet<&String> = last.iter().collect();
        while !missing.is_empty() {
            self.next(events, &missing).await;
            for line in &self.lines {
                missing.remove(&line.text);
            }
        }
    }

    /// Takes the client's events until its roster is `want`: the pool's rosters converge
    /// (failing only after a generous while, never on how fast).
    async fn until_roster(&mut self, events: &mut Events, want: &BTreeSet<String>) {
        while &self.roster != want {
            self.next(events, want).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_loses_no_acknowledged_post_and_its_clients_come_back_elsewhere() {
    let users = ["alice", "bob", "carol", "dave"];
    // Erin knows only node 2 and does not come back: she is in rosters through it alone.
    let stays_away = "erin";
    let all: Vec<&str> = users.iter().copied().chain([stays_away]).collect();
    let mut pool = TestPool::start("pool-loss", 3, QUICK_BEATS, &all).await;

    // Alice on node 0, bob on node 1, carol and dave on node 2, the one to be killed; each
    // knows every node, its own first.
    let home = [0, 1, 2, 2];
    let mut clients = Vec::new();
    for (user, home) in users.iter().zip(home) {
        clients.push(pool.client(user, home).await);
    }
    let lobby = clients[0].0.find_room("Lobby").await.unwrap().uri;
    let (erin, _erin_events) =
        Client::connect(client_config(&pool.nodes[0], &pool.servers[2], stays_away))
            .await
            .expect("signs in");
    erin.join(&lobby).await.unwrap();
    let mut views = Vec::new();
    for (client, _) in &clients {
        views.push(View::new(&client.join(&lobby).await.unwrap()));
    }

    // Alice, bob and carol post; carol's node dies under her a few posts in.
    let mut posters = Vec::new();
    for (user, (client, _)) in users.iter().zip(&clients).take(3) {
        let (client, lobby, user) = (client.clone(), lobby.clone(), user.to_string());
        posters.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..POSTS {
                let text = format!("{user} {i}");
                match client.post(&lobby, &text).await {
                    Ok(()) => acknowledged.push(text),
                    Err(ClientError::NotDelivered { .. }) => {}
                    Err(e) => panic!("{user}: {e}"),
                }
                tokio::time::sleep(PACE).await;
            }
            let last = format!("{user} done");
            loop {
                // After a node's loss a post may find its client between servers.
                if client.post(&lobby, &last).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            acknowledged.push(last.clone());
            (acknowledged, last)
        }));
    }
    tokio::time::sleep(PACE * 8).await;
    pool.servers[2].kill();

    let mut acknowledged = Vec::new();
    let mut lasts = Vec::new();
    for poster in posters {
        let (posted, last) = poster.await.unwrap();
        acknowledged.extend(posted);
        lasts.push(last);
    }
    let history = clients[0]
        .0
        .history(&lobby, HistoryQuery::Last(1000))
        .await
        .unwrap();
    let stored: Vec<(u64, &str)> = history
        .iter()
        .map(|l| (l.id.expect("a sequence number"), l.text.as_str()))
        .collect();
    let texts: HashSet<&str> = stored.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        texts.len(),
        stored.len(),
        "no post stored twice: {stored:?}"
    );
    for text in &acknowledged {
        assert!(
            texts.contains(text.as_str()),
            "acknowledged {text} is in history"
        );
    }
    let by_id: BTreeMap<u64, &str> = stored.iter().copied().collect();

    let everyone: BTreeSet<String> = users
        .iter()
        .map(|u| format!("sip:{u}@{}", common::DOMAIN))
        .collect();
    for (((client, events), view), (user, home)) in clients
        .iter_mut()
        .zip(&mut views)
        .zip(users.iter().zip(home))
    {
        view.until_lines(events, &lasts).await;
        let lines = &view.lines;
        let ids: Vec<u64> = lines
            .iter()
            .map(|l| l.id.expect("a sequence number"))
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{user}: every line once, in the room's order: {ids:?}"
        );
        for line in lines {
            assert_eq!(
                by_id.get(&line.id.unwrap()),
                Some(&line.text.as_str()),
                "{user}"
            );
        }
        let seen: HashSet<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        for text in &acknowledged {
            assert!(seen.contains(text.as_str()), "{user} saw {text}");
        }
        // A client on the killed node signs in elsewhere; one elsewhere whose chat dialog
        // the lookup had put on that node starts its chat over too.
        if home == 2 {
            assert!(view.reconnected, "{user} signed in on another node");
        }
        // Every roster the survivors show is the four who are back, without erin.
        view.until_roster(events, &everyone).await;
        post_until_confirmed(client, &lobby, &format!("{user} is here")).await;
    }
    drop(clients);
    drop(erin);
    pool.finish().await;
}

/// Posts `text`, again while the client answers that it was not delivered. A client whose
/// chat dialog lived on the killed node (while its connection is on a survivor) learns of
/// it at its next request in that dialog: the 481 makes it start its chat over elsewhere,
/// and the post that met the 481 comes back `NotDelivered`, for the application to repeat.
async fn post_until_confirmed(client: &Client, room: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match client.post(room, text).await {
            Ok(()) => return,
            Err(e @ (ClientError::NotDelivered { .. } | ClientError::NotConnected))
                if tokio::time::Instant::now() < deadline =>
            {
                eprintln!("{text}: {e}; posting again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{text}: posts work: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_stopped_with_sigterm_parts_its_members_on_the_others_before_it_exits() {
    // Heartbeats two minutes apart, longer than the test waits: the others cannot learn
    // of the stop from the registry; only what the node relays before it exits tells them.
    let beats = "heartbeat_ms = 120000\nnode_timeout_ms = 360000";
    let mut pool = TestPool::start("pool-stop", 2, beats, &["alice", "bob"]).await;
    let (alice, mut alice_events) = pool.client("alice", 0).await;
    let (bob, _bob_events) = pool.client("bob", 1).await;
    let lobby = alice.find_room("Lobby").await.unwrap().uri;
    let mut view = View::new(&alice.join(&lobby).await.unwrap());
    bob.join(&lobby).await.unwrap();
    let (alice_uri, bob_uri) = (
        format!("sip:alice@{}", common::DOMAIN),
        format!("sip:bob@{}", common::DOMAIN),
    );
    view.until_roster(
        &mut alice_events,
        &BTreeSet::from([alice_uri.clone(), bob_uri.clone()]),
    )
    .await;

    assert!(pool.servers[1].terminate().success());
    view.until_roster(&mut alice_events, &BTreeSet::from([alice_uri]))
        .await;
    // Bob's join is closed by one part, written by whichever node served his session.
    let store = parlance_store::Store::open(&pool.url).await.unwrap();
    let bob_id = store
        .user(&format!("bob@{}", common::DOMAIN))
        .await
        .unwrap()
        .unwrap()
        .id;
    let bob_rows: Vec<String> = store
        .compliance_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.principal_id == bob_id && (e.kind == "join" || e.kind == "part"))
        .map(|e| e.kind.to_string())
        .collect();
    // Bob's client may already be back through node 0 (a join after the part); what
    // matters is that each join is closed by exactly one part, never two.
    assert!(bob_rows.len() >= 2, "{bob_rows:?}");
    for (i, kind) in bob_rows.iter().enumerate() {
        let expected = if i % 2 == 0 { "join" } else { "part" };
        assert_eq!(kind, expected, "joins and parts alternate: {bob_rows:?}");
    }
    store.close().await;
    drop((alice, bob));
    pool.finish().await;
}
