//! The room-management web application (MS-PCWP) over a real server and real TLS: the
//! protocol's URLs, sign-in and sessions, every route, and every bad input the issue lists —
//! each answered with a clear page in the page's language and nothing changed.

use std::time::Duration;

use hyper::{Method, StatusCode};
use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::chat::ChatClient;
use parlance_tests::files::room_guid;
use parlance_tests::manage::{BASE, WebClient, assert_page, make_creator, room_of};
use parlance_tests::{DOMAIN, TestServer};

const PASSWORD: &str = "correct horse";

/// A server with alice (creator in "Tests"), bob and carol, and a room "Lobby" that alice
/// manages and bob is a member of.
struct Setup {
    s: TestServer,
    lobby: String,
    category: String,
}

impl Setup {
    async fn start() -> Setup {
        Setup::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut parlance_server::config::Config)) -> Setup {
        let s = TestServer::start_with(tweak).await;
        for user in ["alice", "bob", "carol"] {
            s.add_user(user, PASSWORD).await;
        }
        let lobby = s
            .add_room(
                "Lobby",
                Privacy::Closed,
                Behavior::Normal,
                &[
                    ("alice", Role::Manager),
                    ("alice", Role::Member),
                    ("bob", Role::Member),
                ],
            )
            .await;
        let category = make_creator(&s, "alice", "Tests").await;
        Setup {
            lobby: room_guid(&lobby).to_owned(),
            category,
            s,
        }
    }

    async fn web(&self, user: &str) -> WebClient {
        WebClient::signed_in(&self.s, user, PASSWORD).await
    }

    async fn room(&self, guid: &str) -> parlance_store::rooms::Room {
        self.s
            .server()
            .store
            .find_room(guid)
            .await
            .unwrap()
            .expect("the room exists")
            .room
    }

    async fn room_count(&self) -> usize {
        self.s.server().store.rooms().await.unwrap().len()
    }

    fn room_fields<'a>(&'a self, name: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("clientlang", "en-US"),
            ("category", &self.category),
            ("name", name),
            ("description", "a room for tests"),
            ("topic", "testing"),
            ("privacy", "closed"),
            ("behavior", "normal"),
            ("invitations", "on"),
            ("file_post", "inherit"),
        ]
    }
}

#[tokio::test]
async fn the_protocols_urls_open_the_right_pages() {
    let t = Setup::start().await;
    let mut web = t.web("alice").await;
    let create = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert_eq!(create.status, StatusCode::OK);
    assert!(create.text().contains("<html lang=\"en-US\">"));
    assert!(create.text().contains("id=\"create\""), "{}", create.text());
    assert!(
        create.text().contains("maxlength=\"256\""),
        "the core's limit, in the form"
    );

    // §4: a base URL with a parameter of its own, the protocol's appended after it.
    let extended = web
        .get(&format!("{BASE}?extensionparam=value&clientlang=en-US"))
        .await;
    assert!(extended.text().contains("id=\"create\""));

    // §2.2.2 and §4: the room's GUID as its ma-chan URI has it (upper case), in German.
    let upper = t.lobby.to_uppercase();
    for id in [upper.clone(), format!("{{{upper}}}"), t.lobby.clone()] {
        let room = web.get(&format!("{BASE}?clientlang=de-DE&id={id}")).await;
        assert_eq!(room.status, StatusCode::OK, "{id}");
        let html = room.text();
        assert!(html.contains("<html lang=\"de-DE\">"), "{id}");
        assert!(html.contains("Raum Lobby"), "{html}");
        assert!(html.contains("id=\"edit\""), "alice manages it");
    }

    // Without a trailing slash, and with a language only Accept-Language names.
    let bare = web.get("/PersistentChat/RM?clientlang=en-US").await;
    assert_eq!(bare.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bare.header("location"),
        Some("/PersistentChat/RM/?clientlang=en-US")
    );
    let german = web
        .send(
            Method::GET,
            BASE,
            Vec::new(),
            &[("accept-language", "fr, de;q=0.8")],
        )
        .await;
    assert!(german.text().contains("<html lang=\"de-DE\">"));
}

#[tokio::test]
async fn unknown_malformed_foreign_and_secret_rooms_get_one_answer() {
    let t = Setup::start().await;
    let secret =
        t.s.add_room(
            "Hidden",
            Privacy::Secret,
            Behavior::Normal,
            &[("bob", Role::Member)],
        )
        .await;
    let mut web = t.web("carol").await;
    let not_found = web
        .get(&format!(
            "{BASE}?clientlang=en-US&id=00000000-0000-0000-0000-000000000000"
        ))
        .await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let body_of = |html: String| {
        // The page is the same whatever was asked: only the form token differs.
        html.split("name=\"csrf\"").next().unwrap().to_owned() + html.split("<main").nth(1).unwrap()
    };
    let expected = body_of(not_found.text());
    assert!(expected.contains("There is no such room, or you may not see it."));
    for id in [
        room_guid(&secret).to_owned(),
        room_guid(&secret).to_uppercase(),
        "nonsense".to_owned(),
        format!("ma-chan://other.example/{}", t.lobby),
        "<script>alert(1)</script>".to_owned(),
    ] {
        let path = format!(
            "{BASE}?clientlang=en-US&id={}",
            parlance_tests::manage::form(&[("x", &id)]).trim_start_matches("x=")
        );
        let reply = web.get(&path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(body_of(reply.text()), expected, "{id}");
    }
    let german = web
        .get(&format!(
            "{BASE}?clientlang=de-DE&id={}",
            room_guid(&secret)
        ))
        .await;
    assert!(german.text().contains("Diesen Raum gibt es nicht"));
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_sign_out_ends_the_session() {
    let t = Setup::start().await;
    let mut web = WebClient::new(&t.s).await;
    let page = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("id=\"password\""));
    let signed = web.sign_in("Alice", PASSWORD, "en-US").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let cookie = signed
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("parlance_rm="))
        .expect("a session cookie");
    for attribute in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/PersistentChat/RM/",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = web.cookie("parlance_rm").unwrap().to_owned();
    let home = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(home.text().contains("Signed in as sip:alice@example.test"));
    assert_eq!(t.s.server().manage_sessions(), 1);

    let out = web
        .post(&format!("{BASE}signout"), &[("clientlang", "en-US")])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(t.s.server().manage_sessions(), 0, "ended on the server");
    web.set_cookie("parlance_rm", &session);
    let again = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(
        again.text().contains("id=\"password\""),
        "the old cookie opens nothing"
    );
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_throttled_with_the_sip_front_end() {
    let t = Setup::start_with(|c| {
        c.auth.max_failures_per_account_address = 2;
        c.auth.failure_delay_secs = 30;
    })
    .await;
    let mut web = WebClient::new(&t.s).await;
    let wrong = web.sign_in("alice", "wrong", "de-DE").await;
    assert_page(
        &wrong,
        StatusCode::FORBIDDEN,
        "Konto oder Kennwort ist falsch.",
    );
    let nobody = web.sign_in("nobody", "wrong", "en-US").await;
    assert_eq!(nobody.status, StatusCode::FORBIDDEN);
    assert!(
        nobody
            .text()
            .contains("The account or the password is wrong.")
    );
    web.sign_in("alice", "wrong", "en-US").await;
    let throttled = web.sign_in("alice", PASSWORD, "en-US").await;
    assert_page(
        &throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed sign-ins",
    );
    let ip = "127.0.0.1".parse().unwrap();
    assert!(
        t.s.server()
            .front_end
            .throttle()
            .check(&format!("sip:alice@{DOMAIN}"), ip)
            .is_some(),
        "the SIP front end's throttle counted the web's failures"
    );
    assert_eq!(t.s.server().manage_sessions(), 0);
}

#[tokio::test]
async fn forms_without_the_sessions_token_change_nothing() {
    let t = Setup::start().await;
    let mut web = t.web("alice").await;
    let rooms = t.room_count().await;
    let fields = t.room_fields("Forged");
    let mut forged = fields.clone();
    forged.push(("csrf", "not-the-token"));
    for attempt in [
        web.post_raw(&format!("{BASE}rooms"), &fields).await,
        web.post_raw(&format!("{BASE}rooms"), &forged).await,
    ] {
        assert_eq!(attempt.status, StatusCode::FORBIDDEN);
        assert!(
            attempt
                .text()
                .contains("This form has expired or did not come from this page.")
        );
    }
    let mut edit = t.room_fields("Renamed");
    edit.push(("csrf", "x"));
    let refused = web
        .post_raw(&format!("{BASE}rooms/{}", t.lobby), &edit)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(t.room_count().await, rooms);
    assert_eq!(t.room(&t.lobby).await.name, "Lobby");

    // The sign-in form has its own token, in a cookie and the form.
    let mut stranger = WebClient::new(&t.s).await;
    let direct = stranger
        .post_raw(
            &format!("{BASE}signin"),
            &[("account", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN);
    assert_eq!(t.s.server().manage_sessions(), 1, "alice's only");
}

#[tokio::test]
async fn an_expired_session_asks_to_sign_in_again() {
    let t = Setup::start_with(|c| {
        c.manage.session_idle_secs = 600;
        // The connection outlives the session.
        c.web.idle_timeout_secs = 3600;
        c.web.header_timeout_secs = 3600;
    })
    .await;
    let mut web = t.web("alice").await;
    t.s.clock.advance(Duration::from_secs(601));
    let late = web
        .post(&format!("{BASE}rooms"), &t.room_fields("Late"))
        .await;
    assert_eq!(late.status, StatusCode::FORBIDDEN);
    assert!(
        late.text().contains("Your session has ended."),
        "{}",
        late.text()
    );
    assert!(late.text().contains("id=\"password\""));
    assert!(
        t.s.server()
            .store
            .find_room("Late")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn create_edit_and_people_through_the_forms() {
    let t = Setup::start().await;
    let mut web = t.web("alice").await;
    let created = web
        .post(&format!("{BASE}rooms"), &t.room_fields("Planning"))
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let location = created.header("location").unwrap().to_owned();
    let guid = room_of(&location);
    let page = web.get(&location).await;
    assert!(page.text().contains("The room was created."));
    let room = t.room(&guid).await;
    assert_eq!(
        (room.name.as_str(), room.privacy),
        ("Planning", Privacy::Closed)
    );

    let mut edit = t.room_fields("Planning 2");
    edit.retain(|(n, _)| *n != "privacy");
    edit.push(("privacy", "secret"));
    let saved = web.post(&format!("{BASE}rooms/{guid}"), &edit).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let room = t.room(&guid).await;
    assert_eq!(
        (room.name.as_str(), room.privacy),
        ("Planning 2", Privacy::Secret)
    );

    let people = format!("{BASE}rooms/{guid}/people");
    let added = web
        .post(
            &people,
            &[
                ("role", "member"),
                ("add", "bob, carol@example.test"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let page = web.get(added.header("location").unwrap()).await;
    let html = page.text();
    assert!(html.contains("sip:bob@example.test") && html.contains("sip:carol@example.test"));
    assert!(html.contains("Your changes were saved."));
    let removed = web
        .post(
            &people,
            &[
                ("role", "member"),
                ("remove", "sip:carol@example.test"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let unknown = web
        .post(
            &people,
            &[
                ("role", "manager"),
                ("add", "nobody"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_page(
        &unknown,
        StatusCode::BAD_REQUEST,
        "There is no account for sip:nobody@example.test",
    );
    let bad_role = web
        .post(&people, &[("role", "owner"), ("add", "bob")])
        .await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);

    // The change log shows who did what.
    let page = web.get(&format!("{BASE}?clientlang=en-US&id={guid}")).await;
    assert!(page.text().contains("id=\"changes\""), "{}", page.text());
}

#[tokio::test]
async fn members_see_the_room_read_only_and_cannot_post_its_forms() {
    let t = Setup::start().await;
    let mut bob = t.web("bob").await;
    let page = bob
        .get(&format!("{BASE}?clientlang=en-US&id={}", t.lobby))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("id=\"read-only\""));
    assert!(!html.contains("id=\"edit\"") && !html.contains("name=\"remove\""));
    assert!(
        html.contains("sip:alice@example.test"),
        "members see the people"
    );
    let mut edit = t.room_fields("Taken over");
    edit.retain(|(n, _)| *n != "clientlang");
    edit.push(("clientlang", "de-DE"));
    let refused = bob.post(&format!("{BASE}rooms/{}", t.lobby), &edit).await;
    assert_page(&refused, StatusCode::FORBIDDEN, "Das dürfen Sie nicht.");
    let people = bob
        .post(
            &format!("{BASE}rooms/{}/people", t.lobby),
            &[("role", "manager"), ("add", "bob")],
        )
        .await;
    assert_eq!(people.status, StatusCode::FORBIDDEN);
    let room = t.room(&t.lobby).await;
    assert_eq!(room.name, "Lobby");

    // Bob creates nowhere: he is no creator.
    let create = bob.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(
        create
            .text()
            .contains("You may not create rooms in any category.")
    );
    let rooms = t.room_count().await;
    let refused = bob
        .post(&format!("{BASE}rooms"), &t.room_fields("Bobs"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(t.room_count().await, rooms);
}

#[tokio::test]
async fn long_names_duplicates_and_markup_get_clear_messages() {
    let t = Setup::start().await;
    let mut web = t.web("alice").await;
    let rooms = t.room_count().await;
    let long = "x".repeat(10_000);
    // Four bytes a character: the form is larger, the answer the same.
    for name in [long.clone(), "\u{1F600}".repeat(10_000)] {
        let refused = web
            .post(&format!("{BASE}rooms"), &t.room_fields(&name))
            .await;
        assert_page(
            &refused,
            StatusCode::BAD_REQUEST,
            "Name: this is too long (at most 256 characters).",
        );
    }
    let mut german = t.room_fields("Lobby");
    german[0] = ("clientlang", "de-DE");
    let duplicate = web.post(&format!("{BASE}rooms"), &german).await;
    assert_page(
        &duplicate,
        StatusCode::BAD_REQUEST,
        "gibt es schon einen Raum mit diesem Namen",
    );
    let empty = web
        .post(&format!("{BASE}rooms"), &t.room_fields("  "))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.room_count().await, rooms, "nothing was created");

    let edit = web
        .post(&format!("{BASE}rooms/{}", t.lobby), &t.room_fields(&long))
        .await;
    assert_eq!(edit.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.room(&t.lobby).await.name, "Lobby");

    // Markup in every field is shown as text.
    let script = "<script>alert(1)</script>\"'&";
    let fields = vec![
        ("clientlang", "en-US"),
        ("category", t.category.as_str()),
        ("name", script),
        ("description", script),
        ("topic", script),
        ("privacy", "open"),
        ("behavior", "normal"),
    ];
    let created = web.post(&format!("{BASE}rooms"), &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let page = web.get(created.header("location").unwrap()).await;
    let html = page.text();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    let mut bob = t.web("bob").await;
    let guid = room_of(created.header("location").unwrap());
    let view = bob.get(&format!("{BASE}?clientlang=en-US&id={guid}")).await;
    assert!(!view.text().contains("<script>alert"));
    let home = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(
        !home.text().contains("<script>alert"),
        "the list of rooms too"
    );
}

#[tokio::test]
async fn the_people_search_takes_wildcards_literally() {
    let t = Setup::start().await;
    let mut web = t.web("alice").await;
    let found = web.get(&format!("{BASE}people?q=car")).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.header("content-type"), Some("application/json"));
    assert!(
        found.text().contains("sip:carol@example.test"),
        "{}",
        found.text()
    );
    for wildcard in ["%25", "*", "_", "%5C"] {
        let reply = web.get(&format!("{BASE}people?q={wildcard}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "[]", "{wildcard}");
    }
    let page = web
        .get(&format!("{BASE}?clientlang=en-US&id={}&q=%25", t.lobby))
        .await;
    assert!(page.text().contains("Nobody matches."), "{}", page.text());
    let mut stranger = WebClient::new(&t.s).await;
    assert_eq!(
        stranger.get(&format!("{BASE}people?q=car")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_ticket_from_the_chat_client_signs_in_once() {
    let t = Setup::start().await;
    let mut chat = ChatClient::connect(&t.s, "alice", PASSWORD).await;
    let reply = chat
        .command("<cmd id=\"cmd:getserverinfo\" seqid=\"1\"><data/></cmd>")
        .await;
    let url = format!("{reply:?}");
    let at = url
        .find("ticket=")
        .expect("the management URL carries a ticket")
        + 7;
    let ticket: String = url[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let mut web = WebClient::new(&t.s).await;
    let path = format!("{BASE}?clientlang=de-DE&id={}&ticket={ticket}", t.lobby);
    let signed = web.get(&path).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    let location = signed.header("location").unwrap().to_owned();
    assert!(!location.contains("ticket"), "{location}");
    let page = web.get(&location).await;
    assert!(page.text().contains("Raum Lobby"));
    let mut thief = WebClient::new(&t.s).await;
    let again = thief.get(&path).await;
    assert_page(
        &again,
        StatusCode::FORBIDDEN,
        "Dieser Anmeldelink ist abgelaufen",
    );
    let forged = thief
        .get(&format!("{BASE}?clientlang=en-US&ticket=AAAA"))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn assets_and_other_paths() {
    let t = Setup::start().await;
    let mut web = WebClient::new(&t.s).await;
    let css = web.get(&format!("{BASE}static/parlance.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let js = web.get(&format!("{BASE}static/parlance.js")).await;
    assert_eq!(js.status, StatusCode::OK);
    let page = web.get(&format!("{BASE}?clientlang=en-US")).await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let other = web.get(&format!("{BASE}default.aspx")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let huge = web
        .send(
            Method::POST,
            &format!("{BASE}rooms"),
            vec![b'a'; 300 * 1024],
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_server_provisions_its_own_management_url() {
    let t = Setup::start().await;
    let mut chat = ChatClient::connect(&t.s, "alice", PASSWORD).await;
    let reply = chat
        .command("<cmd id=\"cmd:getserverinfo\" seqid=\"1\"><data/></cmd>")
        .await;
    let expected = format!(
        "https://{DOMAIN}:{}/PersistentChat/RM/",
        t.s.https_addr().port()
    );
    assert!(format!("{reply:?}").contains(&expected), "{reply:?}");
}

#[tokio::test]
async fn administrators_manage_categories_and_see_every_room() {
    let t = Setup::start().await;
    let secret =
        t.s.add_room(
            "Board",
            Privacy::Secret,
            Behavior::Normal,
            &[("bob", Role::Member)],
        )
        .await;
    t.s.server()
        .store
        .set_admin(&format!("carol@{DOMAIN}"), true)
        .await
        .unwrap();
    let mut alice = t.web("alice").await;
    let refused = alice.get(&format!("{BASE}admin/?clientlang=en-US")).await;
    assert_page(
        &refused,
        StatusCode::FORBIDDEN,
        "You are not allowed to do this.",
    );
    let category_page = format!("{BASE}admin/{}", t.category);
    let posted = alice
        .post(&category_page, &[("name", "Mine"), ("clientlang", "en-US")])
        .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN);

    let mut carol = t.web("carol").await;
    let home = carol.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(
        home.text().contains("class=\"admin\""),
        "the header links to the administration"
    );
    assert!(
        home.text().contains("Board"),
        "administrators manage every room"
    );
    let list = carol.get(&format!("{BASE}admin/?clientlang=de-DE")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("Kategorien") && list.text().contains(">Tests</a>"));
    let page = carol
        .get(&format!("{category_page}?clientlang=en-US"))
        .await;
    assert!(page.text().contains("Category Tests"), "{}", page.text());
    let board = carol
        .get(&format!(
            "{BASE}?clientlang=en-US&id={}",
            room_guid(&secret)
        ))
        .await;
    assert!(
        board.text().contains("id=\"edit\""),
        "a Secret room, to an administrator"
    );

    // Bob becomes a creator, and can create.
    let people = format!("{category_page}/people");
    let added = carol
        .post(
            &people,
            &[
                ("list", "creators"),
                ("add", "bob"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let mut bob = t.web("bob").await;
    let created = bob
        .post(&format!("{BASE}rooms"), &t.room_fields("Bobs room"))
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());

    // Settings, with a bad name and a good one.
    let long = "y".repeat(10_000);
    let bad = carol
        .post(
            &category_page,
            &[("name", long.as_str()), ("clientlang", "en-US")],
        )
        .await;
    assert_page(&bad, StatusCode::BAD_REQUEST, "this is too long");
    let saved = carol
        .post(
            &category_page,
            &[
                ("name", "Teams"),
                ("description", "<i>all</i>"),
                ("file_post", "on"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let page = carol.get(saved.header("location").unwrap()).await;
    let html = page.text();
    assert!(html.contains("Category Teams") && html.contains("Your changes were saved."));
    assert!(!html.contains("<i>all"), "markup shown as text");
    assert!(html.contains("id=\"changes\""));

    // The scope: an unknown person is named.
    let unknown = carol
        .post(
            &people,
            &[
                ("list", "denied"),
                ("add", "nobody"),
                ("clientlang", "en-US"),
            ],
        )
        .await;
    assert_page(
        &unknown,
        StatusCode::BAD_REQUEST,
        "There is no account for sip:nobody@example.test",
    );
    let unknown_list = carol
        .post(&people, &[("list", "owners"), ("add", "bob")])
        .await;
    assert_eq!(unknown_list.status, StatusCode::BAD_REQUEST);
    let missing = carol
        .get(&format!("{BASE}admin/00000000-0000-0000-0000-000000000000"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_refusal_is_one_log_line() {
    parlance_tests::logs::capture();
    let t = Setup::start().await;
    let mut alice = t.web("alice").await;
    let mut bob = t.web("bob").await;
    let long = "z".repeat(10_000);
    let lobby = format!("{BASE}rooms/{}", t.lobby);
    let secret =
        t.s.add_room(
            "Vault",
            Privacy::Secret,
            Behavior::Normal,
            &[("alice", Role::Manager)],
        )
        .await;
    let vault = format!("{BASE}?clientlang=en-US&id={}", room_guid(&secret));
    let refusals = |web: &WebClient| {
        let peer = format!("peer={}", web.https.local);
        parlance_tests::logs::lines_with(&["room management request refused", &peer]).len()
    };
    // Each bad input: who sends it, and how.
    type Attempt<'a> = (&'a str, bool, Vec<(&'a str, &'a str)>, String);
    let attempts: Vec<Attempt> = vec![
        (
            "missing form token",
            true,
            t.room_fields("A"),
            format!("{BASE}rooms"),
        ),
        ("member edits", false, t.room_fields("B"), lobby.clone()),
        (
            "non-creator creates",
            false,
            t.room_fields("C"),
            format!("{BASE}rooms"),
        ),
        (
            "long name",
            true,
            t.room_fields(&long),
            format!("{BASE}rooms"),
        ),
        (
            "duplicate",
            true,
            t.room_fields("Lobby"),
            format!("{BASE}rooms"),
        ),
        (
            "bad privacy",
            true,
            vec![("privacy", "public")],
            format!("{BASE}rooms"),
        ),
        (
            "malformed id",
            true,
            t.room_fields("D"),
            format!("{BASE}rooms/nonsense"),
        ),
        (
            "unknown person",
            true,
            vec![("role", "member"), ("add", "nobody")],
            format!("{lobby}/people"),
        ),
    ];
    for (what, as_alice, fields, path) in attempts {
        let web = if as_alice { &mut alice } else { &mut bob };
        let before = refusals(web);
        let reply = match what {
            "missing form token" => web.post_raw(&path, &fields).await,
            _ => web.post(&path, &fields).await,
        };
        assert!(reply.status.is_client_error(), "{what}: {}", reply.status);
        assert_eq!(refusals(web), before + 1, "{what}: one line");
    }
    for (what, path) in [("secret room", vault), ("unknown page", format!("{BASE}x"))] {
        let before = refusals(&bob);
        assert!(bob.get(&path).await.status.is_client_error(), "{what}");
        assert_eq!(refusals(&bob), before + 1, "{what}: one line");
    }
    let mut stranger = WebClient::new(&t.s).await;
    stranger.sign_in("alice", "wrong", "en-US").await;
    assert_eq!(refusals(&stranger), 1, "a wrong password");
    assert_eq!(t.room(&t.lobby).await.name, "Lobby", "nothing changed");
}

#[tokio::test]
async fn a_password_change_signs_the_browser_out() {
    let t = Setup::start_with(|c| c.admin_changes_poll_ms = 50).await;
    let mut web = t.web("bob").await;
    assert_eq!(t.s.server().manage_sessions(), 1);
    let key = parlance_store::ServerKey::load_or_create(&t.s.config.server_key_path()).unwrap();
    t.s.server()
        .store
        .set_password(
            &format!("bob@{DOMAIN}"),
            "new password",
            t.s.config.realm(),
            &key,
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while t.s.server().manage_sessions() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still signed in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page = web.get(&format!("{BASE}?clientlang=en-US")).await;
    assert!(page.text().contains("id=\"password\""), "signed out");
}
