//! The transfers' writes to the file records (a name reserved, a length declared, an upload
//! completed or abandoned, a download recorded, expired tokens pruned) take their turn one
//! at a time, and after the chat.
//!
//! Why: the store has a single writer, and a chat post needs it too, to commit the message
//! before its fan-out. sqlx hands the writer out in the order it was asked for, so a post
//! that arrives while fifty uploads have their transactions queued waits for all of them:
//! about three write transactions per upload at tens of uploads a second made the slowest
//! posts wait 10–27 ms for the writer (BENCHMARKS.md, "Files (TLS)", 2026-12-05 15:00),
//! against 0.1–0.2 ms without uploads. Queued here instead, in front of the writer, at
//! most one transfer's transaction is ever ahead of a post: the uploads wait for each other
//! rather than the chat waiting for them all. They were one after the other on the single
//! writer anyway; what they lose is the overlap of one's trip to the chat's runtime with
//! another's statements (fifty uploads went as fast: BENCHMARKS.md).
//!
//! Before queuing, a write gives way to chat output under way ([`ChatFirst`]), as every
//! step of a transfer does, so that it lands between a room's messages rather than in the
//! middle of one's fan-out.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::chat_first::ChatFirst;

/// The turn of the transfers' writes to the file records; one per server.
#[derive(Debug)]
pub(crate) struct RecordWrites {
    chat_first: Arc<ChatFirst>,
    one_at_a_time: Arc<Semaphore>,
}

impl RecordWrites {
    pub(crate) fn new(chat_first: Arc<ChatFirst>) -> RecordWrites {
        RecordWrites {
            chat_first,
            one_at_a_time: Arc::new(Semaphore::new(1)),
        }
    }

    /// Returns once a write may start: the chat's output has gone out (or the wait ran to
    /// its limit) and no other transfer's write is under way. The write lasts as long as
    /// the permit: the caller moves it into the task that writes, so that the turn is held
    /// until the write ends even when the request that asked for it is dropped.
    pub(crate) async fn turn(&self) -> OwnedSemaphorePermit {
        self.chat_first.turn().await;
        self.one_at_a_time
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use parlance_chat::backlog::OutputBacklog;
    use parlance_clock::Clock;
    use parlance_metrics::Counter;

    use super::*;

    fn record_writes(backlog: &OutputBacklog) -> Arc<RecordWrites> {
        let chat_first = ChatFirst::new(
            backlog.clone(),
            Clock::default(),
            Duration::from_secs(3600),
            Counter::default(),
            Counter::default(),
        );
        Arc::new(RecordWrites::new(Arc::new(chat_first)))
    }

    fn spawn_turn(writes: &Arc<RecordWrites>) -> tokio::task::JoinHandle<OwnedSemaphorePermit> {
        let writes = writes.clone();
        tokio::spawn(async move { writes.turn().await })
    }

    /// Lets the spawned tasks run as far as they can.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_write_waits_for_the_one_under_way() {
        let writes = record_writes(&OutputBacklog::new());
        let first = writes.turn().await;
        let second = spawn_turn(&writes);
        settle().await;
        assert!(!second.is_finished(), "one write at a time");
        drop(first);
        let _turn = second.await.unwrap();
    }

    #[tokio::test]
    async fn a_write_waits_while_chat_output_is_under_way() {
        let backlog = OutputBacklog::new();
        let writes = record_writes(&backlog);
        backlog.queued();
        let waiting = spawn_turn(&writes);
        settle().await;
        assert!(!waiting.is_finished(), "the chat's output goes first");
        backlog.drained();
        let _turn = waiting.await.unwrap();
    }
}
