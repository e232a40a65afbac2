//! The persistent chat service over real sockets: raw SIP dialogs carrying XCCOS, as
//! pidgin-sipe speaks it (docs/protocol.md, "Persistent chat service").

use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::chat::ChatClient;
use parlance_tests::{DOMAIN, TestServer};
use xccos::{Notice, ReplyData, ResponseCode};

async fn server(users: &[&str]) -> TestServer {
    let s = TestServer::start().await;
    for u in users {
        s.add_user(u, "pw").await;
    }
    s
}

#[tokio::test]
async fn appendix_b_join_history_post_and_echo() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room(
            "Ops",
            Privacy::Open,
            Behavior::Normal,
            &[("bob", Role::Manager)],
        )
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert_eq!(
        alice.channel_uri,
        format!("sip:chatsrv@{DOMAIN}"),
        "rpl:requri names the channel server"
    );

    let reply = bob.join(&room).await;
    assert!(reply.resp.is_success());
    let reply = alice.join(&room).await;
    assert_eq!(
        (reply.resp.code, reply.resp.text.as_str()),
        (200, "SUCCESS_OK")
    );
    assert_eq!(reply.command.unwrap().seqid, 1);
    let ReplyData::Join(data) = reply.data else {
        panic!("{:?}", reply.data)
    };
    let chanib = &data.chanibs[0];
    assert_eq!(chanib.uri, room);
    assert_eq!(chanib.name.as_deref(), Some("Ops"));
    let uri_of = |id: u64| {
        data.uibs
            .iter()
            .find(|u| u.id == Some(id))
            .unwrap()
            .uri
            .clone()
    };
    let key_users = |key: &str| -> Vec<String> {
        chanib
            .aibs
            .iter()
            .filter(|a| a.key == key)
            .flat_map(|a| a.user_ids())
            .map(uri_of)
            .collect()
    };
    assert_eq!(
        key_users(xccos::AIB_KEY_MEMBER),
        [format!("sip:alice@{DOMAIN}")]
    );
    assert_eq!(
        key_users(xccos::AIB_KEY_MANAGER),
        [format!("sip:bob@{DOMAIN}")]
    );

    let Notice::Join(uibs) = bob.next_notice().await else {
        panic!("ntc:join expected")
    };
    assert_eq!(uibs[0].uri, format!("sip:alice@{DOMAIN}"));
    assert_eq!(uibs[0].aibs[0].room_uri().as_deref(), Some(room.as_str()));

    assert!(alice.history(&room, "<last cnt=\"25\"/>").await.is_empty());
    assert_eq!(alice.post(&room, "hello <team> & all").await, 200);
    for client in [&mut alice, &mut bob] {
        let chat = client.next_chat().await;
        assert_eq!(chat.text, "hello <team> & all");
        assert_eq!(chat.author, format!("sip:alice@{DOMAIN}"));
        assert_eq!(chat.channel_uri, room);
        assert_eq!(chat.message_id, Some(1));
        let ts = chat.ts.unwrap();
        assert!(
            ts.len() == 28 && ts.ends_with('Z'),
            "server time with 7 fractional digits: {ts}"
        );
    }
    let history = bob.history(&room, "<last cnt=\"25\"/>").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "hello <team> & all");
}

#[tokio::test]
async fn server_info_requri_anywhere_and_unknown_commands() {
    let s = TestServer::start_with(|c| {
        c.chat.web_manager_url_internal = Some("https://rm.example.test/rooms".into())
    })
    .await;
    s.add_user("alice", "pw").await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let reply = alice.command("<cmd id=\"cmd:getserverinfo\" seqid=\"3\"><data><sib domain=\"example.test\" infoType=\"123\"/></data></cmd>").await;
    let ReplyData::GetServerInfo(Some(sib)) = reply.data else {
        panic!("{:?}", reply.data)
    };
    assert_eq!(reply.seqid, 3);
    assert_eq!(sib.search_limit, Some(999));
    assert_eq!(sib.info_type.as_deref(), Some("123"));
    assert!(
        sib.root_uri
            .unwrap()
            .starts_with(&format!("ma-cat://{DOMAIN}/"))
    );
    // The configured URL, with a web ticket that signs the browser in as alice.
    let url = sib.room_management_url.unwrap();
    let ticket = url
        .strip_prefix("https://rm.example.test/rooms?ticket=")
        .unwrap_or_else(|| panic!("{url}"));
    assert_eq!(ticket.len(), 64, "{url}");
    assert!(
        sib.server_time.is_some() && sib.message_size_limit.is_some() && sib.db_version.is_some()
    );

    let reply = alice
        .command("<cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd>")
        .await;
    assert!(
        matches!(reply.data, ReplyData::ReqUri(Some(ref u)) if u.uri == format!("sip:chatsrv@{DOMAIN}"))
    );

    let reply = alice
        .command("<cmd id=\"cmd:teleport\" seqid=\"1\"><data/></cmd>")
        .await;
    assert_eq!(
        reply.resp.response_code(),
        Some(ResponseCode::MsgNotSupported)
    );
    let reply = alice.command("<cmd id=\"cmd:getfutok\" seqid=\"1\"><data><ftdb channelUri=\"ma-chan://example.test/x\" fileUrl=\"a.txt\"/></data></cmd>").await;
    assert_eq!(
        reply.resp.code, 404,
        "a file token for a room that does not exist"
    );

    assert_eq!(
        alice.send_body("<xccos><cmd id=").await.status,
        400,
        "malformed XML"
    );
    assert_eq!(
        alice
            .send_body("<!DOCTYPE x [<!ENTITY a \"b\">]><xccos/>")
            .await
            .status,
        400,
        "DTDs are refused"
    );
    let update = alice.request("UPDATE").await;
    assert_eq!(update.status, 200);
    assert!(update.headers.get("Session-Expires").is_some());
}

#[tokio::test]
async fn room_search_shows_what_each_user_may_see() {
    let s = server(&["alice", "bob"]).await;
    s.add_room("Open Plan", Privacy::Open, Behavior::Normal, &[])
        .await;
    s.add_room("Closed Door", Privacy::Closed, Behavior::Normal, &[])
        .await;
    s.add_room(
        "Secret Garden",
        Privacy::Secret,
        Behavior::Normal,
        &[("bob", Role::Member)],
    )
    .await;
    let gone = s
        .add_room("Gone", Privacy::Open, Behavior::Normal, &[])
        .await;
    let guid = gone.rsplit('/').next().unwrap();
    let info = s.server().store.room_by_guid(guid).await.unwrap().unwrap();
    s.server()
        .store
        .update_room(
            info.room.id,
            &parlance_store::rooms::RoomUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let search = |criteria: &str, extended: bool| {
        format!(
            "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"{criteria}\" extended=\"{extended}\"/></data></cmd>"
        )
    };
    let names = |reply: xccos::Reply| -> Vec<String> {
        let ReplyData::ChanSrch(rooms) = reply.data else {
            panic!()
        };
        rooms.into_iter().map(|c| c.name.unwrap()).collect()
    };
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert_eq!(
        names(alice.command(&search("", false)).await),
        ["Closed Door", "Open Plan"]
    );
    assert_eq!(
        names(bob.command(&search("", false)).await),
        ["Closed Door", "Open Plan", "Secret Garden"]
    );
    assert_eq!(
        names(alice.command(&search("plan", false)).await),
        ["Open Plan"]
    );
    assert!(
        names(alice.command(&search("about", false)).await).is_empty(),
        "descriptions only with extended"
    );
    assert_eq!(names(alice.command(&search("about", true)).await).len(), 2);
    let reply = bob.command(&search("Secret", false)).await;
    let ReplyData::ChanSrch(rooms) = reply.data else {
        panic!()
    };
    assert_eq!(rooms[0].visibility.as_deref(), Some("private"));
    assert_eq!(rooms[0].logged, Some(true));
    assert_eq!(rooms[0].user_count, Some(0));
}

#[tokio::test]
async fn permissions_over_the_wire() {
    let s = server(&["alice", "bob", "carol"]).await;
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
            &[("carol", Role::Member), ("carol", Role::Presenter)],
        )
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let mut carol = ChatClient::connect(&s, "carol", "pw").await;

    assert_eq!(
        alice.join(&closed).await.resp.response_code(),
        Some(ResponseCode::Permission)
    );
    assert_eq!(
        alice.join(&secret).await.resp.response_code(),
        Some(ResponseCode::NoSuchNode),
        "existence not revealed"
    );
    let nowhere = format!("ma-chan://{DOMAIN}/00000000-0000-4000-8000-000000000000");
    assert_eq!(
        alice.join(&nowhere).await.resp.response_code(),
        Some(ResponseCode::NoSuchNode)
    );
    let reply = alice.command(&format!("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"{secret}\"/><bcq><last cnt=\"5\"/></bcq></data></cmd>")).await;
    assert_eq!(reply.resp.response_code(), Some(ResponseCode::NoSuchNode));
    assert_eq!(alice.post(&secret, "psst").await, 404);
    assert!(bob.join(&secret).await.resp.is_success());
    assert_eq!(bob.post(&secret, "members only").await, 200);
    assert_eq!(bob.next_chat().await.text, "members only");

    assert!(alice.join(&stage).await.resp.is_success());
    assert!(carol.join(&stage).await.resp.is_success());
    assert_eq!(
        alice.post(&stage, "may I?").await,
        403,
        "auditorium: presenters only"
    );
    assert_eq!(carol.post(&stage, "welcome").await, 200);
    assert_eq!(alice.next_chat().await.text, "welcome");
    assert_eq!(bob.post(&stage, "not joined").await, 403);

    let guid = stage.rsplit('/').next().unwrap();
    let info = s.server().store.room_by_guid(guid).await.unwrap().unwrap();
    s.server()
        .store
        .update_room(
            info.room.id,
            &parlance_store::rooms::RoomUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        carol.post(&stage, "still there?").await,
        404,
        "a disabled room refuses everything"
    );
    assert_eq!(
        carol.join(&stage).await.resp.response_code(),
        Some(ResponseCode::NodeDisabled)
    );

    let reply = alice.command(&format!(
        "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data><chanid key=\"0\" domain=\"{DOMAIN}\" value=\"{}\"/><chanid key=\"1\" domain=\"{DOMAIN}\" value=\"{}\"/></data></cmd>",
        closed.rsplit('/').next().unwrap(),
        s.add_room("Lobby", Privacy::Open, Behavior::Normal, &[]).await.rsplit('/').next().unwrap()
    )).await;
    let ReplyData::BJoin(data) = reply.data else {
        panic!()
    };
    assert_eq!(data.chanibs.len(), 1, "the open room joined");
    assert_eq!(data.fibs.len(), 1, "the closed one failed");
    assert_eq!(data.fibs[0].value, closed.rsplit('/').next().unwrap());
}

#[tokio::test]
async fn history_paging_and_search() {
    let s = server(&["alice"]).await;
    let room = s
        .add_room("Log", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    alice.join(&room).await;
    for i in 1..=30 {
        let text = if i % 10 == 0 {
            format!("deploy number {i} done")
        } else {
            format!("line {i}")
        };
        assert_eq!(alice.post(&room, &text).await, 200);
        alice.next_chat().await;
    }
    let last = alice.history(&room, "<last cnt=\"5\"/>").await;
    assert_eq!(
        last.iter()
            .map(|m| m.message_id.unwrap())
            .collect::<Vec<_>>(),
        [26, 27, 28, 29, 30]
    );
    let before = alice.history(&room, "<before id=\"26\" cnt=\"3\"/>").await;
    assert_eq!(
        before
            .iter()
            .map(|m| m.message_id.unwrap())
            .collect::<Vec<_>>(),
        [23, 24, 25]
    );
    let after = alice.history(&room, "<after id=\"28\" cnt=\"10\"/>").await;
    assert_eq!(
        after
            .iter()
            .map(|m| m.message_id.unwrap())
            .collect::<Vec<_>>(),
        [29, 30]
    );
    let found = alice
        .history(&room, "<search text=\"Deploy done\" cnt=\"10\"/>")
        .await;
    assert_eq!(
        found.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        [
            "deploy number 10 done",
            "deploy number 20 done",
            "deploy number 30 done"
        ]
    );
    assert_eq!(
        alice.history(&room, "<last cnt=\"100000\"/>").await.len(),
        30,
        "capped, not refused"
    );
}

#[tokio::test]
async fn concurrent_posts_reach_everyone_in_one_order() {
    let s = server(&["alice", "bob", "carol"]).await;
    let room = s
        .add_room("Busy", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut clients = Vec::new();
    for u in ["alice", "bob", "carol"] {
        let mut c = ChatClient::connect(&s, u, "pw").await;
        assert!(c.join(&room).await.resp.is_success());
        clients.push(c);
    }
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for mut c in clients {
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..EACH {
                assert_eq!(c.post(&room, &format!("{} {i}", c.user)).await, 200);
            }
            while seen.len() < EACH * 3 {
                let m = c.next_chat().await;
                seen.push((m.message_id.unwrap(), m.text));
            }
            seen
        }));
    }
    let mut views = Vec::new();
    for t in tasks {
        views.push(t.await.unwrap());
    }
    let ids: Vec<u64> = views[0].iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=(EACH as u64 * 3)).collect::<Vec<_>>(),
        "commit order, no gaps"
    );
    assert_eq!(views[0], views[1]);
    assert_eq!(views[1], views[2]);
}

#[tokio::test]
async fn part_bye_and_refused_infos_leave_rooms() {
    let s = server(&["alice", "bob", "carol"]).await;
    let room = s
        .add_room("Hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    alice.next_notice().await;

    let reply = bob
        .command(&format!(
            "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"{room}\"/></data></cmd>"
        ))
        .await;
    assert!(reply.resp.is_success());
    let Notice::Part(chanibs) = alice.next_notice().await else {
        panic!()
    };
    assert_eq!(chanibs[0].uri, room);
    assert_eq!(chanibs[0].uibs[0].uri, format!("sip:bob@{DOMAIN}"));
    assert_eq!(bob.post(&room, "after part").await, 403);

    bob.join(&room).await;
    alice.next_notice().await;
    bob.bye().await;
    assert!(
        matches!(alice.next_notice().await, Notice::Part(_)),
        "BYE leaves every room"
    );

    let mut carol = ChatClient::connect(&s, "carol", "pw").await;
    carol.join(&room).await;
    alice.next_notice().await;
    drop(carol);
    assert!(
        matches!(alice.next_notice().await, Notice::Part(_)),
        "a closed connection leaves every room"
    );
}

#[tokio::test]
async fn a_refused_server_info_ends_the_dialog() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room("Hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    alice.next_notice().await;
    bob.post(&room, "ping").await;
    // alice answers the delivery 487, as sipe does for a dialog it no longer uses.
    let info = alice.conn.recv_request().await;
    alice
        .conn
        .send(sip_proto::Response::for_request(&info, 487).to_bytes())
        .await;
    assert!(
        matches!(bob.next_notice().await, Notice::Part(_)),
        "alice's session is gone"
    );
    assert_eq!(
        alice.request("UPDATE").await.status,
        481,
        "sipe re-initialises on 481"
    );
}

#[tokio::test]
async fn a_server_info_left_unanswered_past_timer_f_ends_the_dialog_at_the_sweep() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room("Hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    alice.next_notice().await;
    bob.post(&room, "ping").await;
    assert_eq!(bob.next_chat().await.text, "ping", "bob answers his copy");
    // alice reads hers and never answers it.
    let info = alice.conn.recv_request().await;
    assert_eq!(info.method, sip_proto::Method::Info);
    s.clock.advance(std::time::Duration::from_secs(31));
    s.server().sweep().await;
    assert_eq!(
        bob.request("UPDATE").await.status,
        200,
        "an answered dialog outlives the sweep"
    );
    s.clock.advance(std::time::Duration::from_secs(2));
    s.server().sweep().await;
    assert!(
        matches!(bob.next_notice().await, Notice::Part(_)),
        "alice's session is gone"
    );
    assert_eq!(alice.request("UPDATE").await.status, 481);
}

#[tokio::test]
async fn an_answer_to_a_delivery_counts_only_from_the_dialogs_connection() {
    let s = server(&["alice", "bob", "mallory"]).await;
    let room = s
        .add_room("Hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let mut mallory = ChatClient::connect(&s, "mallory", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    alice.next_notice().await;
    bob.post(&room, "ping").await;
    let info = alice.conn.recv_request().await;
    // mallory learns the branch of alice's delivery and refuses it on her own connection.
    mallory
        .conn
        .send(sip_proto::Response::for_request(&info, 481).to_bytes())
        .await;
    alice
        .conn
        .send(sip_proto::Response::for_request(&info, 200).to_bytes())
        .await;
    assert_eq!(bob.next_chat().await.text, "ping");
    bob.post(&room, "still here?").await;
    assert_eq!(alice.next_chat().await.text, "still here?");
    assert_eq!(
        alice.request("UPDATE").await.status,
        200,
        "alice's dialog stands"
    );
    assert_eq!(mallory.request("UPDATE").await.status, 200);
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_delay_the_room() {
    let s = TestServer::start_with(|c| {
        c.sip.write_queue_bytes = 1024 * 1024;
        c.chat.message_size_limit = 100_000;
    })
    .await;
    for u in ["alice", "bob", "sloth"] {
        s.add_user(u, "pw").await;
    }
    let room = s
        .add_room("Fast", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let mut sloth = ChatClient::connect(&s, "sloth", "pw").await;
    for c in [&mut alice, &mut bob, &mut sloth] {
        c.join(&room).await;
    }
    // sloth never reads. alice keeps posting; bob reads everything as it comes.
    let big = "x".repeat(60_000);
    let count = |c: &xccos::Reply| match &c.data {
        ReplyData::ChanSrch(rooms) => rooms[0].user_count,
        _ => None,
    };
    let search = "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"Fast\" extended=\"false\"/></data></cmd>";
    let mut dropped = false;
    for i in 0..400 {
        assert_eq!(alice.post(&room, &format!("{i} {big}")).await, 200);
        assert!(
            bob.next_chat().await.text.starts_with(&format!("{i} ")),
            "bob gets every message, in order"
        );
        alice.next_chat().await;
        if i % 20 == 19 && count(&alice.command(search).await) == Some(2) {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the client that stopped reading was dropped from the room"
    );
    drop(sloth);
}

#[tokio::test]
async fn rooms_and_history_survive_a_restart() {
    let mut s = server(&["alice"]).await;
    let room = s
        .add_room("Durable", Privacy::Open, Behavior::Normal, &[])
        .await;
    {
        let mut alice = ChatClient::connect(&s, "alice", "pw").await;
        alice.join(&room).await;
        alice.post(&room, "before the restart").await;
        alice.next_chat().await;
    }
    s.restart().await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    let history = alice.history(&room, "<last cnt=\"10\"/>").await;
    assert_eq!(
        history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["before the restart"]
    );
    assert_eq!(alice.post(&room, "after").await, 200);
    assert_eq!(
        alice.next_chat().await.message_id,
        Some(2),
        "sequence numbers continue"
    );
}

#[tokio::test]
async fn every_action_leaves_one_compliance_event() {
    let s = server(&["alice"]).await;
    let room = s
        .add_room("Audited", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    alice.join(&room).await;
    alice.post(&room, "on the record").await;
    alice.next_chat().await;
    alice.history(&room, "<last cnt=\"5\"/>").await;
    alice
        .command(&format!(
            "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"{room}\"/></data></cmd>"
        ))
        .await;
    let events = s.server().store.compliance_events(0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["join", "chat", "backchat", "part"]);
    assert_eq!(events[1].content, "on the record");
    assert_eq!(events[1].message_seq, Some(1));
}

#[tokio::test]
async fn oversized_and_malformed_chat_is_refused_without_storing() {
    let s = TestServer::start_with(|c| c.chat.message_size_limit = 100).await;
    s.add_user("alice", "pw").await;
    let room = s
        .add_room("Small", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    alice.join(&room).await;
    assert_eq!(alice.post(&room, &"y".repeat(101)).await, 413);
    let no_ts = format!(
        "<xccos ver=\"1\" envid=\"9\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room}\" author=\"sip:alice@{DOMAIN}\"><chat>x</chat></grpchat></xccos>"
    );
    assert_eq!(alice.send_body(&no_ts).await.status, 400);
    assert!(alice.history(&room, "<last cnt=\"5\"/>").await.is_empty());
}

#[tokio::test]
async fn invitations_preferences_and_creator_categories() {
    let s = server(&["alice"]).await;
    let room = s
        .add_room(
            "Invited",
            Privacy::Closed,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let store = &s.server().store;
    let alice_id = store
        .user(&format!("alice@{DOMAIN}"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let info = store
        .room_by_guid(room.rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    store.invite(info.room.id, &[alice_id]).await.unwrap();
    store
        .set_category_creator(info.category.id, alice_id, true)
        .await
        .unwrap();
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;

    let reply = alice.command(&format!("<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"1\" domain=\"{DOMAIN}\"/></data></cmd>")).await;
    let ReplyData::GetInv(invs) = reply.data else {
        panic!()
    };
    assert_eq!(invs.len(), 1);
    assert_eq!(invs[0].chanib.as_ref().unwrap().uri, room);
    let reply = alice.command(&format!("<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"2\" domain=\"{DOMAIN}\"/></data></cmd>")).await;
    assert!(matches!(reply.data, ReplyData::GetInv(ref v) if v.is_empty()));

    let set = |seq: u64, content: &str| {
        format!(
            "<cmd id=\"cmd:setpref\" seqid=\"1\"><data><pref label=\"alice.GroupChannels\" seqid=\"{seq}\" createdefault=\"false\" content=\"{content}\"/></data></cmd>"
        )
    };
    assert!(alice.command(&set(0, "v1")).await.resp.is_success());
    assert_eq!(
        alice.command(&set(0, "stale")).await.resp.response_code(),
        Some(ResponseCode::DataCollision)
    );
    let reply = alice.command("<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"alice.GroupChannels\" seqid=\"0\" createdefault=\"true\"/></data></cmd>").await;
    let ReplyData::GetPref(Some(pref)) = reply.data else {
        panic!()
    };
    assert_eq!((pref.seqid, pref.content.as_deref()), (1, Some("v1")));

    let reply = alice
        .command("<cmd id=\"cmd:nodespermcreatechild\" seqid=\"1\"><data/></cmd>")
        .await;
    let ReplyData::NodesPermCreateChild(cats) = reply.data else {
        panic!()
    };
    assert_eq!(cats, [format!("ma-cat://{DOMAIN}/{}", info.category.guid)]);
}

#[tokio::test]
async fn crowded_rooms_hide_their_roster() {
    let s = TestServer::start_with(|c| c.chat.participant_update_limit = 2).await;
    for u in ["alice", "bob", "carol"] {
        s.add_user(u, "pw").await;
    }
    let room = s
        .add_room("Crowd", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let mut carol = ChatClient::connect(&s, "carol", "pw").await;
    alice.join(&room).await;
    let ReplyData::Join(data) = bob.join(&room).await.data else {
        panic!()
    };
    assert_eq!(data.uibs.len(), 2, "two present: the roster is shown");
    assert!(matches!(alice.next_notice().await, Notice::Join(_)));
    let ReplyData::Join(data) = carol.join(&room).await.data else {
        panic!()
    };
    let listed: Vec<&str> = data.uibs.iter().map(|u| u.uri.as_str()).collect();
    assert_eq!(
        listed,
        [format!("sip:carol@{DOMAIN}").as_str()],
        "over the limit only the joiner is listed"
    );
    // No notice of carol's join or of her leaving; chat goes on as usual.
    carol
        .command(&format!(
            "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"{room}\"/></data></cmd>"
        ))
        .await;
    bob.post(&room, "still here").await;
    let e = alice.next_envelope().await;
    assert!(
        matches!(e.messages.first(), Some(xccos::Message::GrpChat(_))),
        "no notice came first: {e:?}"
    );
}

#[tokio::test]
async fn shutdown_records_every_departure() {
    let mut s = server(&["alice", "bob"]).await;
    let room = s
        .add_room("Until the end", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    let store = s.server().store.clone();
    let data = s.config.database_path();
    s.shutdown().await;
    drop(store);
    let reopened = parlance_store::Store::open_sqlite(&data).await.unwrap();
    let events = reopened.compliance_events(0, 100).await.unwrap();
    let parts = events.iter().filter(|e| e.kind == "part").count();
    assert_eq!(parts, 2, "both departures are in the outbox: {events:?}");
    reopened.close().await;
    drop((alice, bob));
}

#[tokio::test]
async fn an_unrefreshed_chat_session_ends_at_the_sweep_past_its_timer() {
    // Session-Expires 20 s: a session lives 26.7 s (a third more) after its last request,
    // on the server's clock.
    let s = TestServer::start_with(|c| c.chat.session_expires_secs = 20).await;
    s.add_user("alice", "pw").await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    for _ in 0..2 {
        s.clock.advance(std::time::Duration::from_secs(25));
        s.server().sweep().await;
        assert_eq!(
            alice.request("UPDATE").await.status,
            200,
            "refreshed in time"
        );
    }
    s.clock.advance(std::time::Duration::from_secs(27));
    s.server().sweep().await;
    assert_eq!(alice.request("UPDATE").await.status, 481, "expired");
}
