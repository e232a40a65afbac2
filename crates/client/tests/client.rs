//! The client library against a real Parlance server on 127.0.0.1: signing in over TLS,
//! certificate trust, refusals, rooms, history, posting, rosters, session refresh, and
//! reconnecting after the server restarts.

// Helpers shared by the client's test binaries, each of which uses its own share of them.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use parlance_client::{
    CertificatePin, Client, ClientConfig, ClientError, Event, Events, HistoryQuery, Transport,
    Trust, Visibility,
};
use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::{DOMAIN, TestServer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use support::relay::Relay;
use support::{config_for, connect, expect, next_line, server, sip, tls_addr};

fn pin_of(s: &TestServer) -> CertificatePin {
    let der = CertificateDer::from_pem_file(support::cert_path(s)).unwrap();
    CertificatePin::of(&der)
}

#[tokio::test]
async fn signs_in_over_tls_and_lists_the_rooms_it_may_see() {
    let s = server(&["alice", "bob"]).await;
    s.add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    s.add_room("Closed", Privacy::Closed, Behavior::Normal, &[])
        .await;
    s.add_room(
        "Secret",
        Privacy::Secret,
        Behavior::Normal,
        &[("bob", Role::Member)],
    )
    .await;
    let (alice, _events) = connect(&s, "alice").await;
    assert_eq!(alice.user(), sip("alice"));
    let mut rooms = alice.rooms().await.unwrap();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    let seen: Vec<_> = rooms
        .iter()
        .map(|r| (r.name.as_str(), r.visibility.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("Closed", Some(Visibility::Scope)),
            ("Lobby", Some(Visibility::Open))
        ],
        "Secret stays hidden"
    );
    assert_eq!(rooms[1].description, "about Lobby");
    assert_eq!(alice.search_rooms("lob", false).await.unwrap().len(), 1);
    assert_eq!(alice.find_room("lobby").await.unwrap().name, "Lobby");
    let (bob, _) = connect(&s, "bob").await;
    assert_eq!(
        bob.rooms().await.unwrap().len(),
        3,
        "members see Secret rooms"
    );
    let info = alice.server_info().await.unwrap();
    assert_eq!(info.message_size_limit, Some(16 * 1024));
    assert!(
        info.root_category
            .unwrap()
            .starts_with(&format!("ma-cat://{DOMAIN}/"))
    );
}

#[tokio::test]
async fn plain_tcp_when_asked_from_the_chosen_address() {
    let s = server(&["alice"]).await;
    let mut config = ClientConfig::new(
        s.tcp_addr().to_string(),
        format!("alice@{DOMAIN}"),
        "pw",
        Transport::Tcp,
    );
    let from: std::net::IpAddr = "127.0.0.7".parse().unwrap();
    config.local_address = Some(from);
    let (alice, _) = Client::connect(config).await.unwrap();
    assert!(alice.rooms().await.unwrap().is_empty());
    let bindings = s.server().front_end.registrar().lookup(&sip("alice"));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].conn.peer().ip(), from);
}

#[tokio::test]
async fn a_pinned_certificate_is_trusted_and_any_other_refused() {
    let s = server(&["alice"]).await;
    let other = server(&[]).await;
    let with = |trust| {
        ClientConfig::new(
            tls_addr(&s),
            format!("alice@{DOMAIN}"),
            "pw",
            Transport::Tls(trust),
        )
    };

    Client::connect(with(Trust::Pin(pin_of(&s))))
        .await
        .expect("the pinned certificate");
    Client::connect(with(Trust::Insecure))
        .await
        .expect("insecure accepts anything, when asked to");

    let error = Client::connect(with(Trust::Pin(pin_of(&other))))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::CertificateRejected {
            server: tls_addr(&s),
            reason: "it does not match the pinned fingerprint".into(),
            fingerprint: pin_of(&s).to_string(),
        }
    );
    let error = Client::connect(with(Trust::ca_file(&support::cert_path(&other)).unwrap()))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, ClientError::CertificateRejected { .. }) && error.is_fatal(),
        "{error:?}"
    );
    assert!(
        text.contains("not signed by an authority you trust")
            && text.contains(&pin_of(&s).to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_password_or_an_unreachable_server_is_one_sentence() {
    let s = server(&["alice"]).await;
    let error = Client::connect(config_for(&s, &tls_addr(&s), "alice", "guess"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClientError::WrongPassword {
            user: format!("alice@{DOMAIN}")
        }
    );
    assert_eq!(
        error.to_string(),
        format!("the server refused the password for alice@{DOMAIN}")
    );
    let error = Client::connect(config_for(&s, &tls_addr(&s), "mallory", "pw"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::WrongPassword { .. }),
        "an unknown user looks the same: {error:?}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = Client::connect(config_for(&s, &closed.to_string(), "alice", "pw"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot reach {closed}: ")),
        "{error}"
    );
}

#[tokio::test]
async fn join_history_post_receive_and_part() {
    let s = server(&["alice", "bob"]).await;
    let lobby = s
        .add_room(
            "Lobby",
            Privacy::Open,
            Behavior::Normal,
            &[("bob", Role::Manager)],
        )
        .await;
    let (bob, mut bob_events) = connect(&s, "bob").await;
    bob.join(&lobby).await.unwrap();
    bob.post(&lobby, "first").await.unwrap();
    bob.post(&lobby, "second <b> & more").await.unwrap();

    let (alice, mut alice_events) = connect(&s, "alice").await;
    let joined = alice.join(&lobby).await.unwrap();
    assert_eq!(joined.room.name, "Lobby");
    let roster: Vec<_> = joined
        .roster
        .iter()
        .map(|m| (m.uri.as_str(), m.manager))
        .collect();
    assert_eq!(
        roster,
        [(sip("alice").as_str(), false), (sip("bob").as_str(), true)]
    );
    let history: Vec<_> = joined
        .history
        .iter()
        .map(|l| (l.id, l.text.as_str(), l.author.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            (Some(1), "first", sip("bob").as_str()),
            (Some(2), "second <b> & more", sip("bob").as_str())
        ]
    );
    assert!(
        joined
            .history
            .iter()
            .all(|l| l.time.is_some() && !l.replayed)
    );

    let (member, _) = expect(&mut bob_events, |e| match e {
        Event::MemberJoined { room, member } if *room == lobby => Some(member.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (member.uri.as_str(), member.manager),
        (sip("alice").as_str(), false)
    );

    alice.post(&lobby, "hello from alice").await.unwrap();
    for events in [&mut alice_events, &mut bob_events] {
        let line = next_line(events).await;
        assert_eq!(
            (line.id, line.text.as_str(), line.author.as_str()),
            (Some(3), "hello from alice", sip("alice").as_str())
        );
    }
    let page = |q| alice.history(&lobby, q);
    let texts = |lines: Vec<parlance_client::ChatLine>| {
        lines.into_iter().map(|l| l.text).collect::<Vec<_>>()
    };
    assert_eq!(
        texts(
            page(HistoryQuery::Before { id: 3, count: 1 })
                .await
                .unwrap()
        ),
        ["second <b> & more"]
    );
    assert_eq!(
        texts(
            page(HistoryQuery::After { id: 1, count: 10 })
                .await
                .unwrap()
        ),
        ["second <b> & more", "hello from alice"]
    );
    assert_eq!(
        texts(
            page(HistoryQuery::Search {
                text: "FIRST".into(),
                count: 10
            })
            .await
            .unwrap()
        ),
        ["first"]
    );

    alice.part(&lobby).await.unwrap();
    let (user, _) = expect(&mut bob_events, |e| match e {
        Event::MemberLeft { room, user } if *room == lobby => Some(user.clone()),
        _ => None,
    })
    .await;
    assert_eq!(user, sip("alice"));
    let error = alice.post(&lobby, "gone").await.unwrap_err();
    assert_eq!(
        error,
        ClientError::NotJoined {
            room: "Lobby".into()
        }
    );
}

#[tokio::test]
async fn refusals_name_the_room() {
    let s = server(&["alice", "bob"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let closed = s
        .add_room(
            "Closed",
            Privacy::Closed,
            Behavior::Normal,
            &[("bob", Role::Member)],
        )
        .await;
    let secret = s
        .add_room(
            "Secret",
            Privacy::Secret,
            Behavior::Normal,
            &[("bob", Role::Member)],
        )
        .await;
    let stage = s
        .add_room(
            "Stage",
            Privacy::Open,
            Behavior::Auditorium,
            &[("bob", Role::Presenter)],
        )
        .await;
    let (alice, _events) = connect(&s, "alice").await;
    alice.rooms().await.unwrap();

    let error = alice.join(&closed).await.unwrap_err();
    assert_eq!(error.to_string(), "you may not join Closed");
    assert_eq!(
        alice.join(&secret).await.unwrap_err(),
        ClientError::NoSuchRoom {
            room: secret.clone()
        },
        "Secret rooms are not revealed"
    );
    assert_eq!(
        alice.find_room("Secret").await.unwrap_err().to_string(),
        "there is no room Secret"
    );

    alice.join(&stage).await.unwrap();
    assert_eq!(
        alice.post(&stage, "may I?").await.unwrap_err().to_string(),
        "you may not post in Stage"
    );

    let batch = alice.join_many(&[&lobby, &closed]).await.unwrap();
    assert_eq!(
        batch
            .joined
            .iter()
            .map(|j| j.room.name.as_str())
            .collect::<Vec<_>>(),
        ["Lobby"]
    );
    assert_eq!(batch.failed, std::slice::from_ref(&closed));
}

#[tokio::test]
async fn invitations_are_reported_at_sign_in() {
    let s = server(&["alice"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let store = &s.server().store;
    let room = store
        .room_by_guid(lobby.rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    let alice_id = store
        .user(&format!("alice@{DOMAIN}"))
        .await
        .unwrap()
        .unwrap()
        .id;
    store.invite(room.room.id, &[alice_id]).await.unwrap();

    let (alice, mut events) = connect(&s, "alice").await;
    let (invitation, _) = expect(&mut events, |e| match e {
        Event::Invited(i) => Some(i.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (invitation.room.uri.as_str(), invitation.room.name.as_str()),
        (lobby.as_str(), "Lobby")
    );
    assert_eq!(
        alice.invitations(invitation.id).await.unwrap(),
        std::slice::from_ref(&invitation)
    );
    assert!(
        alice
            .invitations(invitation.id + 1)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A client over plain TCP through a relay, so that the test can see what the server
/// answers it.
async fn connect_through_relay(s: &TestServer, user: &str) -> (Relay, Client, Events) {
    let relay = Relay::start(s.tcp_addr()).await;
    let mut config = config_for(s, &relay.addr().to_string(), user, "pw");
    config.transport = Transport::Tcp;
    let (client, events) = Client::connect(config).await.expect("signs in");
    (relay, client, events)
}

#[tokio::test]
async fn the_session_is_refreshed_before_the_server_expires_it() {
    // The shortest session the server allows (20 s) ends unrefreshed 26.7 s after its last
    // request (Session-Expires and a third) on the server's clock, at the next sweep; the
    // client refreshes it every 10 s. The test moves the server's clock and sweeps; the
    // only real wait is for the client's own timer.
    let s = TestServer::start_with(|c| c.chat.session_expires_secs = 20).await;
    s.add_user("alice", "pw").await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let (relay, alice, mut events) = connect_through_relay(&s, "alice").await;
    alice.join(&lobby).await.unwrap();
    relay
        .await_responses(1, "200", "UPDATE", Duration::from_secs(30))
        .await;
    // 30 s after the session began: alive only because it was refreshed 20 s ago.
    s.clock.advance(Duration::from_secs(20));
    s.server().sweep().await;
    alice
        .post(&lobby, "still here")
        .await
        .expect("the session is alive");
    let (line, before) = expect(&mut events, |e| match e {
        Event::Message(l) => Some(l.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line.text, "still here");
    assert!(before.is_empty(), "no disconnection: {before:?}");
}

#[tokio::test]
async fn the_registration_is_renewed_before_it_runs_out() {
    let s = TestServer::start_with(|c| {
        c.registrar.min_expires_secs = 2;
        c.registrar.default_expires_secs = 4;
        c.registrar.max_expires_secs = 4;
    })
    .await;
    for user in ["alice", "bob"] {
        s.add_user(user, "pw").await;
    }
    // Signed in for 4 s on the server's clock; the client renews every 2 s. Once it has,
    // 3 s more on the server's clock are past the first registration, not the renewed one.
    let (relay, _alice, _events) = connect_through_relay(&s, "alice").await;
    relay
        .await_responses(2, "200", "REGISTER", Duration::from_secs(10))
        .await;
    s.clock.advance(Duration::from_secs(3));
    s.server().sweep().await;
    // A MESSAGE reaches alice's client (which refuses it: it only chats) only while she
    // is registered; unregistered, the server would answer 480 itself.
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "pw").await.status, 200);
    let alice = format!("sip:alice@{DOMAIN}");
    let message = bob.request(
        "MESSAGE",
        &alice,
        "bob",
        &alice,
        "renewal-1",
        &["Content-Type: text/plain"],
        "ping",
    );
    bob.send(message).await;
    assert_eq!(
        bob.recv_response().await.status,
        405,
        "alice is still registered"
    );
}

#[tokio::test]
async fn reconnects_rejoins_and_catches_up_after_the_server_restarts() {
    let mut s = server(&["alice", "bob"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let relay = Relay::start(s.server().tls_addr.unwrap()).await;
    let (alice, mut alice_events) =
        Client::connect(config_for(&s, &relay.addr().to_string(), "alice", "pw"))
            .await
            .unwrap();
    alice.join(&lobby).await.unwrap();
    let (bob, _) = connect(&s, "bob").await;
    bob.join(&lobby).await.unwrap();
    bob.post(&lobby, "before").await.unwrap();
    assert_eq!(next_line(&mut alice_events).await.text, "before");

    relay.down();
    s.restart().await;
    let (reason, _) = expect(&mut alice_events, |e| match e {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(!reason.is_empty());
    // While alice is away, bob (on the restarted server) writes two lines.
    let (bob, _) = connect(&s, "bob").await;
    bob.join(&lobby).await.unwrap();
    bob.post(&lobby, "missed one").await.unwrap();
    bob.post(&lobby, "missed two").await.unwrap();
    assert_eq!(
        alice.rooms().await.unwrap_err(),
        ClientError::NotConnected,
        "calls fail fast while away"
    );

    relay.up(s.server().tls_addr.unwrap());
    let (rejoined, _) = expect(&mut alice_events, |e| match e {
        Event::Rejoined(j) => Some(j.clone()),
        _ => None,
    })
    .await;
    assert_eq!(rejoined.room.uri, lobby);
    assert!(
        rejoined.roster.iter().any(|m| m.uri == sip("bob")),
        "{:?}",
        rejoined.roster
    );
    let (_, caught_up) = expect(&mut alice_events, |e| {
        matches!(e, Event::Reconnected { .. }).then_some(())
    })
    .await;
    let replayed: Vec<_> = caught_up
        .iter()
        .filter_map(|e| match e {
            Event::Message(l) => Some((l.text.as_str(), l.id, l.replayed)),
            _ => None,
        })
        .collect();
    assert_eq!(
        replayed,
        [("missed one", Some(2), true), ("missed two", Some(3), true)],
        "nothing twice, nothing lost"
    );

    bob.post(&lobby, "welcome back").await.unwrap();
    let line = next_line(&mut alice_events).await;
    assert_eq!(
        (line.text.as_str(), line.id, line.replayed),
        ("welcome back", Some(4), false)
    );
    alice.post(&lobby, "thanks").await.unwrap();
}

/// A server that stops answering without closing the connection (its machine died) is
/// noticed by the keep-alive OPTIONS even though the client is only listening, and the
/// client comes back once the server answers again. A post whose answer is lost is
/// reported not delivered, never sent again, and shows by catch-up when the server had
/// stored it.
#[tokio::test]
async fn a_silent_server_is_noticed_while_idle_and_left() {
    let s = server(&["alice"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let relay = Relay::start(s.server().tls_addr.unwrap()).await;
    let mut config = config_for(&s, &relay.addr().to_string(), "alice", "pw");
    config.ping_interval = Duration::from_millis(300);
    config.ping_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(2);
    let (alice, mut alice_events) = Client::connect(config).await.unwrap();
    alice.join(&lobby).await.unwrap();

    relay.silence(true);
    let (reason, _) = expect(&mut alice_events, |e| match e {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("stopped answering"), "{reason}");
    relay.silence(false);
    let (server, _) = expect(&mut alice_events, |e| match e {
        Event::Reconnected { server } => Some(server.clone()),
        _ => None,
    })
    .await;
    assert_eq!(server, relay.addr().to_string());
    alice.post(&lobby, "still here").await.unwrap();
    assert_eq!(next_line(&mut alice_events).await.text, "still here");

    // A post whose answer never comes: the server stores it, the client cannot know.
    relay.silence(true);
    match alice.post(&lobby, "unconfirmed").await {
        Err(ClientError::NotDelivered { room, reason }) => {
            assert_eq!(room, "Lobby");
            assert!(
                reason.contains("before the server confirmed it"),
                "{reason}"
            );
        }
        other => panic!("a post without an answer: {other:?}"),
    }
    relay.silence(false);
    let (_, meanwhile) = expect(&mut alice_events, |e| {
        matches!(e, Event::Reconnected { .. }).then_some(())
    })
    .await;
    let replayed: Vec<(&str, bool)> = meanwhile
        .iter()
        .filter_map(|e| match e {
            Event::Message(l) => Some((l.text.as_str(), l.replayed)),
            _ => None,
        })
        .collect();
    assert_eq!(
        replayed,
        [("unconfirmed", true)],
        "what the server stored comes back once, by catch-up"
    );
    let history = alice.history(&lobby, HistoryQuery::Last(10)).await.unwrap();
    let texts: Vec<&str> = history.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["still here", "unconfirmed"], "never sent twice");
}

/// Twenty posts at the message size limit do not fit one reply: the server sends fewer than
/// asked, and catching up goes on until a page comes back empty.
#[tokio::test]
async fn catching_up_reaches_every_message_when_pages_are_cut_to_the_body_limit() {
    let mut s = server(&["alice", "bob"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let relay = Relay::start(s.server().tls_addr.unwrap()).await;
    let (alice, mut alice_events) =
        Client::connect(config_for(&s, &relay.addr().to_string(), "alice", "pw"))
            .await
            .unwrap();
    alice.join(&lobby).await.unwrap();
    relay.down();
    s.restart().await;
    expect(&mut alice_events, |e| {
        matches!(e, Event::Disconnected { .. }).then_some(())
    })
    .await;
    let (bob, _) = connect(&s, "bob").await;
    bob.join(&lobby).await.unwrap();
    let text = |i: usize| format!("{i:02} {}", "x".repeat(16 * 1024 - 3));
    for i in 1..=20 {
        bob.post(&lobby, &text(i)).await.unwrap();
    }

    relay.up(s.server().tls_addr.unwrap());
    let (_, caught_up) = expect(&mut alice_events, |e| {
        matches!(e, Event::Reconnected { .. }).then_some(())
    })
    .await;
    let replayed: Vec<Option<u64>> = caught_up
        .iter()
        .filter_map(|e| match e {
            Event::Message(l) if l.replayed => Some(l.id),
            _ => None,
        })
        .collect();
    assert_eq!(replayed, (1..=20).map(Some).collect::<Vec<_>>());
}

#[tokio::test]
async fn close_ends_the_session() {
    let s = server(&["alice", "bob"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let (alice, _alice_events) = connect(&s, "alice").await;
    let (bob, mut bob_events) = connect(&s, "bob").await;
    bob.join(&lobby).await.unwrap();
    alice.join(&lobby).await.unwrap();
    alice.close().await;
    let (user, _) = expect(&mut bob_events, |e| match e {
        Event::MemberLeft { user, .. } => Some(user.clone()),
        _ => None,
    })
    .await;
    assert_eq!(user, sip("alice"));
    assert_eq!(alice.rooms().await.unwrap_err(), ClientError::Closed);
}

/// A topic and name changed by the administrator (`parlance room edit`, another process: the
/// server hears of it from the access change feed) reach a joined client as
/// `Event::RoomChanged` (`ntc:chanupd`).
#[tokio::test]
async fn a_room_changed_by_the_administrator_is_an_event() {
    let s = support::server_with(&["alice"], |c| c.admin_changes_poll_ms = 10).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let (alice, mut events) = connect(&s, "alice").await;
    alice.join(&lobby).await.unwrap();
    let guid = lobby.rsplit('/').next().unwrap();
    let store = &s.server().store;
    let id = store.room_by_guid(guid).await.unwrap().unwrap().room.id;
    let update = parlance_store::rooms::RoomUpdate {
        name: Some("Front desk".into()),
        topic: Some("Release today".into()),
        ..Default::default()
    };
    store.update_room(id, &update).await.unwrap();
    let (changed, _) = expect(&mut events, |e| match e {
        Event::RoomChanged { room, name, topic } if *room == lobby => {
            Some((name.clone(), topic.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(
        changed,
        (Some("Front desk".into()), Some("Release today".into()))
    );
}
