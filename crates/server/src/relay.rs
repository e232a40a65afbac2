//! A pool node's relay loop: applies what the other nodes say, in the order NATS delivered
//! it, and every `bus.repair_interval_ms` looks for gaps that no event revealed (a room
//! where the relay lost the last posts and nothing has been posted since).

use std::sync::Arc;
use std::time::Duration;

use parlance_bus::Incoming;
use parlance_chat::ChatService;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

pub(crate) async fn follow(
    chat: Arc<ChatService>,
    mut incoming: Incoming,
    repair_every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut repair = tokio::time::interval(repair_every);
    repair.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is now, and the connection's own notice repairs at start.
    repair.tick().await;
    loop {
        tokio::select! {
            item = incoming.next() => match item {
                Some(item) => chat.on_bus(item).await,
                None => {
                    tracing::error!("the pool's relay stopped: no more events from NATS");
                    return;
                }
            },
            _ = repair.tick() => chat.repair_gaps().await,
            _ = shutdown.changed() => return,
        }
    }
}
