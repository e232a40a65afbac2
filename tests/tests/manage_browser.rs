//! The room-management application in a real browser (headless Chromium over WebDriver):
//! a manager signs in, creates a room in a category, opens it by its MS-PCWP URL, adds a
//! member and a manager, and chat clients connected over SIP see it happen; a plain member
//! sees the room read-only and cannot post its edit form; the pages render in German.
//! Screenshots go to target/screenshots/.

use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::browser::Browser;
use parlance_tests::chat::ChatClient;
use parlance_tests::files::room_guid;
use parlance_tests::manage::make_creator;
use parlance_tests::{DOMAIN, TestServer};
use xccos::Notice;

const PASSWORD: &str = "correct horse";

/// alice (creator in "Tests"), bob and carol; "Lobby" makes the category.
async fn server() -> TestServer {
    let s = TestServer::start().await;
    for user in ["alice", "bob", "carol"] {
        s.add_user(user, PASSWORD).await;
    }
    s.add_room(
        "Lobby",
        Privacy::Open,
        Behavior::Normal,
        &[("alice", Role::Manager)],
    )
    .await;
    make_creator(&s, "alice", "Tests").await;
    s
}

fn base(s: &TestServer) -> String {
    format!(
        "https://127.0.0.1:{}/PersistentChat/RM/",
        s.https_addr().port()
    )
}

async fn sign_in(browser: &Browser, url: &str, user: &str) {
    browser.goto(url).await;
    browser.fill("#account", user).await;
    browser.fill("#password", PASSWORD).await;
    browser.submit("form.card button[type=submit]").await;
    browser.find("form.signout").await;
}

#[tokio::test]
async fn a_manager_creates_and_staffs_a_room_and_chat_clients_see_it_live() {
    let s = server().await;
    let browser = Browser::start(1000, "en-US").await;
    sign_in(&browser, &format!("{}?clientlang=en-US", base(&s)), "alice").await;

    // Create, in the category alice may create in.
    assert_eq!(browser.text_of("h1").await, "Create a room");
    browser.fill("#name", "Release planning").await;
    browser
        .fill("#description", "Dates, <b>owners</b> and risks")
        .await;
    browser.fill("#topic", "Next release").await;
    browser.click("input[name=privacy][value=closed]").await;
    browser.screenshot("manage-create-en-US").await;
    browser.submit("#create button[type=submit]").await;
    browser.find("#edit").await;
    assert_eq!(browser.text_of("#message").await, "The room was created.");
    let url = browser.client.current_url().await.unwrap().to_string();
    let guid = url
        .split("id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let room = s
        .server()
        .store
        .find_room(&guid)
        .await
        .unwrap()
        .expect("created")
        .room;
    assert_eq!(
        (room.name.as_str(), room.privacy),
        ("Release planning", Privacy::Closed)
    );
    let room_uri = format!("ma-chan://{DOMAIN}/{guid}");

    // Open it as a client would: the GUID from its ma-chan URI, in its case.
    let id = room_guid(&room_uri).to_uppercase();
    browser
        .goto(&format!("{}?clientlang=en-US&id={id}", base(&s)))
        .await;
    assert_eq!(browser.text_of("h1").await, "Room Release planning");
    assert!(
        browser
            .source()
            .await
            .contains("Dates, &lt;b&gt;owners&lt;/b&gt; and risks")
    );

    // Members: bob and carol; both join over SIP.
    browser.fill("#add-member", "bob, carol").await;
    browser.submit("#people-member button[type=submit]").await;
    let members = browser.text_of("#people-member").await;
    assert!(
        members.contains("sip:bob@example.test") && members.contains("sip:carol@example.test"),
        "{members}"
    );
    let mut bob = ChatClient::connect(&s, "bob", PASSWORD).await;
    assert!(bob.join(&room_uri).await.resp.is_success());
    let mut carol = ChatClient::connect(&s, "carol", PASSWORD).await;
    assert!(carol.join(&room_uri).await.resp.is_success());
    bob.take_inbox();

    // Carol made a manager while present: bob's roster shows it.
    browser.fill("#add-manager", "carol").await;
    browser.submit("#people-manager button[type=submit]").await;
    assert!(
        browser
            .text_of("#people-manager")
            .await
            .contains("sip:carol@example.test")
    );
    let roster = loop {
        if let Notice::Join(uibs) = bob.next_notice().await {
            break uibs;
        }
    };
    assert!(
        roster
            .iter()
            .any(|u| u.uri == format!("sip:carol@{DOMAIN}")),
        "{roster:?}"
    );

    // A new topic reaches the joined clients at once.
    browser.fill("#topic", "Release moved to Friday").await;
    browser.submit("#edit button[type=submit]").await;
    let update = loop {
        if let Notice::ChanUpd(chanibs) = bob.next_notice().await {
            break chanibs;
        }
    };
    assert_eq!(update[0].topic.as_deref(), Some("Release moved to Friday"));
    assert!(
        browser.source().await.contains("id=\"changes\""),
        "the change log"
    );
    browser.screenshot("manage-room-manager").await;

    // Bob removed: he stops receiving at once.
    browser
        .click(&format!("#people-member input[value=\"sip:bob@{DOMAIN}\"]"))
        .await;
    browser.submit("#people-member button[type=submit]").await;
    let part = loop {
        if let Notice::Part(chanibs) = bob.next_notice().await {
            break chanibs;
        }
    };
    assert!(!part.is_empty());
    browser.close().await;
}

#[tokio::test]
async fn a_member_sees_the_room_read_only_in_german_and_cannot_post_its_form() {
    let s = server().await;
    let room_uri = s
        .add_room(
            "Ankündigungen",
            Privacy::Closed,
            Behavior::Auditorium,
            &[("alice", Role::Manager), ("bob", Role::Member)],
        )
        .await;
    let guid = room_guid(&room_uri).to_owned();
    let browser = Browser::start(1000, "de-DE").await;
    let url = format!("{}?clientlang=de-DE&id={guid}", base(&s));
    sign_in(&browser, &url, "bob").await;
    assert_eq!(browser.text_of("h1").await, "Raum Ankündigungen");
    assert!(browser.exists("#read-only").await);
    assert!(!browser.exists("#edit").await, "no edit form for a member");
    assert!(!browser.exists("input[name=remove]").await);
    let settings = browser.text_of("#settings").await;
    assert!(
        settings.contains("Auditorium: nur Referenten können schreiben"),
        "{settings}"
    );
    browser.screenshot("manage-room-member-de-DE").await;

    // The edit form posted anyway, with bob's own form token: refused.
    let script = format!(
        r#"const f = document.createElement("form");
        f.method = "post"; f.action = "/PersistentChat/RM/rooms/{guid}";
        for (const [n, v] of [["csrf", document.querySelector("input[name=csrf]").value],
                              ["clientlang", "de-DE"], ["name", "Übernommen"], ["privacy", "open"]]) {{
            const i = document.createElement("input"); i.type = "hidden"; i.name = n; i.value = v; f.append(i);
        }}
        document.body.append(f); f.submit();"#
    );
    browser.client.execute(&script, vec![]).await.unwrap();
    let message = browser.text_of("#message").await;
    assert_eq!(message, "Das dürfen Sie nicht.");
    let room = s
        .server()
        .store
        .find_room(&guid)
        .await
        .unwrap()
        .unwrap()
        .room;
    assert_eq!(
        (room.name.as_str(), room.privacy),
        ("Ankündigungen", Privacy::Closed)
    );
    browser.close().await;
}

#[tokio::test]
async fn the_create_page_renders_in_german_and_on_a_phone() {
    let s = server().await;
    let browser = Browser::start(390, "de-DE").await;
    sign_in(&browser, &format!("{}?clientlang=de-DE", base(&s)), "alice").await;
    assert_eq!(browser.text_of("h1").await, "Raum erstellen");
    let html = browser.source().await;
    assert!(html.contains("<html lang=\"de-DE\">"));
    for label in [
        "Kategorie",
        "Sichtbarkeit",
        "Neue Mitglieder einladen",
        "Raum erstellen",
        "Abmelden",
    ] {
        assert!(html.contains(label), "{label}");
    }
    // Nothing is wider than the phone's screen.
    let overflow = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, serde_json::Value::Bool(true));
    browser.screenshot("manage-create-de-DE-phone").await;
    browser.close().await;
}
