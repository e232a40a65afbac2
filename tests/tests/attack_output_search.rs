//! Attacks on what one user's searches cost everyone, and on the size of what the server
//! sends (issue 10, items 7 and 8), over real sockets: each is refused, and nothing else
//! changes. The support client's SIP decoder accepts bodies up to 256 KiB, as Parlance's
//! client does, so a larger server INFO fails these tests where it arrives.

use parlance_store::history::ComplianceEvent;
use parlance_store::rooms::{Behavior, Privacy};
use parlance_tests::chat::ChatClient;
use parlance_tests::{DOMAIN, TestServer};
use xccos::{ChatMessage, Envelope, Message, Reply, ReplyData, ResponseCode};

/// The body limit of the server and of its client.
const BODY_LIMIT: usize = 256 * 1024;

async fn server(
    users: &[&str],
    tweak: impl FnOnce(&mut parlance_server::config::Config),
) -> TestServer {
    let s = TestServer::start_with(tweak).await;
    for u in users {
        s.add_user(u, "pw").await;
    }
    s
}

async fn events(s: &TestServer) -> Vec<ComplianceEvent> {
    s.server()
        .store
        .compliance_events(0, u32::MAX)
        .await
        .unwrap()
}

fn history_search(room: &str, text: &str) -> String {
    format!(
        "<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"{room}\"/><bcq><search text=\"{text}\" cnt=\"25\"/></bcq></data></cmd>"
    )
}

fn room_search(criteria: &str) -> String {
    format!(
        "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"{criteria}\" extended=\"true\"/></data></cmd>"
    )
}

fn code(reply: &Reply) -> (u16, &str) {
    (reply.resp.code, reply.resp.text.as_str())
}

/// How every refused search is answered: `413 ERR_LIMIT_EXCEEDED`.
const LIMIT_EXCEEDED: (u16, &str) = (
    ResponseCode::LimitExceeded.code(),
    ResponseCode::LimitExceeded.text(),
);

#[tokio::test]
async fn searches_are_bounded_and_rate_limited_and_never_stop_posts_elsewhere() {
    let s = server(&["mallory", "bob"], |c| {
        // Few searches, so that the rate limit is reached within the test.
        c.chat.search_burst = 4;
        c.chat.searches_per_minute = 1;
    })
    .await;
    let archive = s
        .add_room("Archive", Privacy::Open, Behavior::Normal, &[])
        .await;
    let elsewhere = s
        .add_room("Elsewhere", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut mallory = ChatClient::connect(&s, "mallory", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(mallory.join(&archive).await.resp.is_success());
    assert!(bob.join(&elsewhere).await.resp.is_success());
    // The largest query accepted: 16 words, 1024 bytes; a message holding all of them.
    let terms: Vec<String> = (0..16)
        .map(|i| format!("t{i:02}{}", "q".repeat(60)))
        .collect();
    let largest = terms.join(" ") + "q";
    assert_eq!(largest.len(), 1024);
    assert_eq!(
        mallory.post(&archive, &format!("found: {largest}")).await,
        200
    );
    let events_before = events(&s).await.len();

    // The attack of the issue: a 240 KB query of 40,000 words, and meanwhile a post in
    // another room. The search is refused at once; the post is answered.
    let words: Vec<String> = (0..40_000).map(|i| format!("w{:04}", i % 10_000)).collect();
    let huge = words.join(" ");
    assert_eq!(huge.len(), 239_999);
    let attack = history_search(&archive, &huge);
    let (reply, posted) =
        tokio::join!(mallory.command(&attack), bob.post(&elsewhere, "still here"));
    assert_eq!(code(&reply), LIMIT_EXCEEDED, "{:?}", reply.resp);
    assert_eq!(
        reply.command.unwrap().seqid,
        1,
        "the reply answers the command"
    );
    assert!(
        matches!(&reply.data, ReplyData::BcContext(c) if c.is_empty()),
        "nothing found is sent: {:?}",
        reply.data
    );
    assert_eq!(
        posted, 200,
        "a post elsewhere is answered during the search"
    );
    let seen = bob.next_chat().await;
    assert_eq!(
        (seen.text.as_str(), seen.message_id),
        ("still here", Some(1))
    );

    // Within the length but over the word count: refused too.
    let seventeen = words[..17].join(" ");
    let reply = mallory.command(&history_search(&archive, &seventeen)).await;
    assert_eq!(code(&reply), LIMIT_EXCEEDED);
    // A room search's criteria have the same length bound.
    let reply = mallory.command(&room_search(&"x".repeat(1025))).await;
    assert_eq!(code(&reply), LIMIT_EXCEEDED);
    assert_eq!(
        events(&s).await.len(),
        events_before + 1,
        "refused searches read nothing, so compliance records none (only bob's post)"
    );

    // The largest query accepted runs, and finds what it should.
    let reply = mallory.command(&history_search(&archive, &largest)).await;
    assert_eq!(code(&reply), (200, "SUCCESS_OK"));
    let ReplyData::BcContext(chanibs) = &reply.data else {
        panic!("{:?}", reply.data)
    };
    assert_eq!(chanibs[0].msgs[0].text, format!("found: {largest}"));

    // Four searches made the burst: the next is refused, however small.
    let reply = mallory.command(&history_search(&archive, "found")).await;
    assert_eq!(code(&reply), LIMIT_EXCEEDED, "over the rate");
    let reply = mallory.command(&room_search("Arch")).await;
    assert_eq!(code(&reply), LIMIT_EXCEEDED, "room searches share the rate");
    // Another user's bucket is their own; posts and pages are not searches.
    let reply = bob.command(&history_search(&elsewhere, "still")).await;
    assert_eq!(code(&reply), (200, "SUCCESS_OK"));
    assert_eq!(mallory.post(&archive, "a post is no search").await, 200);
    let page = mallory.history(&archive, "<last cnt=\"5\"/>").await;
    assert_eq!(page.len(), 2);

    // Nothing else changed: bob's room holds his one post.
    let page = bob.history(&elsewhere, "<last cnt=\"5\"/>").await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].author, format!("sip:bob@{DOMAIN}"));
}

/// A chat body whose text goes as CDATA, so that the INFO is as small as the text: the
/// escaping happens only on the server's way out.
fn cdata_post(room: &str, user: &str, text: &str) -> String {
    format!(
        "<xccos ver=\"1\" envid=\"77\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room}\" \
         author=\"sip:{user}@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\"><chat><![CDATA[{text}]]></chat></grpchat></xccos>"
    )
}

#[tokio::test]
async fn a_post_too_large_once_escaped_is_refused_and_not_stored() {
    let s = server(&["mallory", "bob"], |_| {}).await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut mallory = ChatClient::connect(&s, "mallory", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(bob.join(&room).await.resp.is_success());
    assert!(mallory.join(&room).await.resp.is_success());
    let events_before = events(&s).await.len();

    // A story at the 64 KiB story limit, all `<`: 64 KiB in, 256 KiB and more out.
    let lt = format!("[STORY]{}", "<".repeat(64 * 1024 - 7));
    let answer = mallory.send_body(&cdata_post(&room, "mallory", &lt)).await;
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (413, "Message Too Large")
    );
    // The 65 KB of `&`: 327 KB out.
    let amp = format!("[STORY]{}", "&".repeat(65_000));
    let answer = mallory.send_body(&cdata_post(&room, "mallory", &amp)).await;
    assert_eq!(answer.status, 413);

    // Nothing stored, delivered or recorded: the next post is the room's first message,
    // and the first bob sees.
    assert_eq!(events(&s).await.len(), events_before);
    assert_eq!(mallory.post(&room, "ordinary").await, 200);
    let seen = bob.next_chat().await;
    assert_eq!((seen.text.as_str(), seen.message_id), ("ordinary", Some(1)));
    let page = bob.history(&room, "<last cnt=\"25\"/>").await;
    assert_eq!(page.len(), 1);

    // A story as large that escapes to little is accepted whole.
    let plain = format!("[STORY]{}", "x".repeat(64 * 1024 - 7));
    let answer = mallory
        .send_body(&cdata_post(&room, "mallory", &plain))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(bob.next_chat().await.text, plain);
}

/// A history command's reply, checked to fit the body limit with its envelope at the
/// widest (the decoder has already refused anything larger).
async fn page(client: &mut ChatClient, room: &str, query: &str) -> Vec<ChatMessage> {
    let reply = client
        .command(&format!(
            "<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"{room}\"/><bcq>{query}</bcq></data></cmd>"
        ))
        .await;
    assert_eq!(code(&reply), (200, "SUCCESS_OK"));
    let body = Envelope::new(u64::MAX, Message::Reply(reply.clone())).to_xml();
    assert!(body.len() <= BODY_LIMIT, "{} bytes", body.len());
    match reply.data {
        ReplyData::BcContext(chanibs) => chanibs.into_iter().flat_map(|c| c.msgs).collect(),
        other => panic!("{other:?}"),
    }
}

fn ids(msgs: &[ChatMessage]) -> Vec<u64> {
    msgs.iter().map(|m| m.message_id.unwrap()).collect()
}

#[tokio::test]
async fn history_replies_fit_the_body_limit_and_every_message_is_reached_by_paging() {
    let s = server(&["alice", "bob"], |_| {}).await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert!(bob.join(&room).await.resp.is_success());

    // Twenty ordinary posts at the 16 KiB message limit: 320 KiB together.
    let text = |i: u64| {
        let mut t = format!("post {i} ");
        t.push_str(&"x".repeat(16 * 1024 - t.len()));
        t
    };
    for i in 1..=20 {
        assert_eq!(alice.post(&room, &text(i)).await, 200);
        assert_eq!(bob.next_chat().await.message_id, Some(i));
    }

    // The client's join page asks for 25: it gets the newest that fit, in order.
    let newest = page(&mut bob, &room, "<last cnt=\"25\"/>").await;
    let n = newest.len() as u64;
    assert!((1..20).contains(&n), "{n} messages in one reply");
    assert_eq!(ids(&newest), (21 - n..=20).collect::<Vec<_>>());
    assert!(newest.iter().all(|m| m.text == text(m.message_id.unwrap())));

    // Paging back from the oldest received reaches every message, each once.
    let mut all = newest;
    loop {
        let oldest = all[0].message_id.unwrap();
        let older = page(
            &mut bob,
            &room,
            &format!("<before id=\"{oldest}\" cnt=\"25\"/>"),
        )
        .await;
        if older.is_empty() {
            break;
        }
        all.splice(0..0, older);
    }
    assert_eq!(ids(&all), (1..=20).collect::<Vec<_>>());

    // Catching up forward (after an id) keeps the oldest instead, and pages on the same way.
    let mut caught = Vec::new();
    loop {
        let seen = caught
            .last()
            .map_or(0, |m: &ChatMessage| m.message_id.unwrap());
        let newer = page(
            &mut bob,
            &room,
            &format!("<after id=\"{seen}\" cnt=\"25\"/>"),
        )
        .await;
        if newer.is_empty() {
            break;
        }
        assert_eq!(newer[0].message_id, Some(seen + 1), "no gap");
        caught.extend(newer);
    }
    assert_eq!(ids(&caught), (1..=20).collect::<Vec<_>>());
}
