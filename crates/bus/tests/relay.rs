//! Two nodes on a private NATS server: what one publishes the other hears, in order, and not
//! itself; after a NATS restart both say they are connected again and the relay resumes.

use std::time::Duration;

use parlance_bus::{Bus, Event, Inbound, Incoming, RoomEvent, RoomEventKind};
use parlance_testkit::nats::Nats;

const WAIT: Duration = Duration::from_secs(20);

fn parted(room: i64, origin: &str, principal: i64) -> Event {
    Event::Room(RoomEvent {
        room,
        origin: origin.into(),
        kind: RoomEventKind::Parted { principal },
    })
}

/// The next event heard, skipping connection notices.
async fn next_event(incoming: &mut Incoming) -> Event {
    loop {
        match tokio::time::timeout(WAIT, incoming.next()).await {
            Ok(Some(Inbound::Event(e))) => return e,
            Ok(Some(Inbound::Connected)) => continue,
            Ok(None) => panic!("the bus closed"),
            Err(_) => panic!("no event within {WAIT:?}"),
        }
    }
}

async fn next_connected(incoming: &mut Incoming) {
    loop {
        match tokio::time::timeout(WAIT, incoming.next()).await {
            Ok(Some(Inbound::Connected)) => return,
            Ok(Some(Inbound::Event(_))) => continue,
            Ok(None) => panic!("the bus closed"),
            Err(_) => panic!("not reconnected within {WAIT:?}"),
        }
    }
}

#[tokio::test]
async fn events_reach_the_other_node_in_order_and_survive_a_nats_restart() {
    let nats = Nats::start();
    let (a, _a_in) = Bus::connect(&nats.url(), "example.test", "node-a")
        .await
        .unwrap();
    let (b, mut b_in) = Bus::connect(&nats.url(), "example.test", "node-b")
        .await
        .unwrap();
    // Another installation on the same NATS server hears nothing of this one.
    let (_other, mut other_in) = Bus::connect(&nats.url(), "example.test.other", "node-c")
        .await
        .unwrap();
    assert_eq!(a.node_id(), Some("node-a"));
    assert!(a.client().is_some() && !a.is_local());
    b.client().unwrap().flush().await.unwrap();

    for principal in 0..100 {
        a.publish(parted(7, "node-a", principal));
    }
    b.publish(parted(8, "node-b", -1));
    for principal in 0..100 {
        assert_eq!(next_event(&mut b_in).await, parted(7, "node-a", principal));
    }

    nats.restart();
    next_connected(&mut b_in).await;
    // Until a's reconnection, its events may be lost; after it, they arrive.
    loop {
        a.publish(parted(9, "node-a", 1));
        a.client().unwrap().flush().await.ok();
        match tokio::time::timeout(Duration::from_millis(500), b_in.next()).await {
            Ok(Some(Inbound::Event(e))) if e == parted(9, "node-a", 1) => break,
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => panic!("the bus closed"),
        }
    }

    // What `other` heard (nothing but its connection notices) arrived before this.
    a.publish(parted(10, "node-a", 2));
    a.client().unwrap().flush().await.unwrap();
    while let Ok(Some(item)) =
        tokio::time::timeout(Duration::from_millis(300), other_in.next()).await
    {
        assert!(matches!(item, Inbound::Connected), "{item:?}");
    }
}

#[tokio::test]
async fn the_local_bus_is_nothing() {
    let bus = Bus::default();
    assert!(bus.is_local());
    assert_eq!(bus.node_id(), None);
    assert!(bus.client().is_none());
    bus.publish(parted(1, "x", 1));
}

#[tokio::test]
async fn an_unreachable_nats_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let error = Bus::connect(&url, "example.test", "n").await.unwrap_err();
    assert!(error.to_string().contains(&url), "{error}");
}
